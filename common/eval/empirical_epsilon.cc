#include "common/eval/empirical_epsilon.h"

#include <algorithm>
#include <cmath>

namespace fedsyn::eval {
namespace {

// Continued fraction of the incomplete beta function (modified Lentz), valid for
// x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) otherwise.
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300, kEpsilon = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double numerator = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + numerator * d;
    c = 1 + numerator / c;
    d = 1 / (std::abs(d) < kTiny ? kTiny : d);
    c = std::abs(c) < kTiny ? kTiny : c;
    h *= d * c;
    numerator = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + numerator * d;
    c = 1 + numerator / c;
    d = 1 / (std::abs(d) < kTiny ? kTiny : d);
    c = std::abs(c) < kTiny ? kTiny : c;
    const double step = d * c;
    h *= step;
    if (std::abs(step - 1) < kEpsilon) break;
  }
  return h;
}

double LogBinomialPmf(int64_t n, double p, int64_t k) {
  if (p <= 0) return k == 0 ? 0 : -INFINITY;
  if (p >= 1) return k == n ? 0 : -INFINITY;
  const double dn = static_cast<double>(n), dk = static_cast<double>(k);
  return std::lgamma(dn + 1) - std::lgamma(dk + 1) - std::lgamma(dn - dk + 1) + dk * std::log(p) +
         (dn - dk) * std::log1p(-p);
}

// The x with I_x(a, b) = target, by bisection (I is increasing in x).
double BetaQuantile(double a, double b, double target) {
  double lo = 0, hi = 1;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (RegularizedIncompleteBeta(a, b, mid) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * BetaContinuedFraction(a, b, x) / a;
  return 1 - std::exp(log_front) * BetaContinuedFraction(b, a, 1 - x) / b;
}

ProportionInterval ClopperPearson(int64_t successes, int64_t trials, double confidence) {
  ProportionInterval interval;
  if (trials <= 0) return interval;
  const double alpha = 1 - confidence, k = static_cast<double>(successes),
               n = static_cast<double>(trials);
  interval.low = successes == 0 ? 0.0 : BetaQuantile(k, n - k + 1, alpha / 2);
  interval.high = successes == trials ? 1.0 : BetaQuantile(k + 1, n - k, 1 - alpha / 2);
  return interval;
}

double BinomialUpperTail(int64_t n, double p, int64_t k) {
  if (k <= 0) return 1;
  if (k > n) return 0;
  // P[X >= k] = I_p(k, n - k + 1).
  return RegularizedIncompleteBeta(static_cast<double>(k), static_cast<double>(n - k + 1), p);
}

double ThresholdEpsilonLowerBound(int64_t false_positives, int64_t negatives,
                                  int64_t false_negatives, int64_t positives, double delta,
                                  double confidence) {
  if (negatives <= 0 || positives <= 0) return 0;
  // One-sided upper bounds at (1 + confidence) / 2 each: a two-sided interval at `confidence`
  // has its upper end there.
  const double fpr = ClopperPearson(false_positives, negatives, confidence).high;
  const double fnr = ClopperPearson(false_negatives, positives, confidence).high;
  double bound = 0;
  if (fpr > 0 && 1 - delta - fnr > 0) bound = std::max(bound, std::log((1 - delta - fnr) / fpr));
  if (fnr > 0 && 1 - delta - fpr > 0) bound = std::max(bound, std::log((1 - delta - fpr) / fnr));
  return bound;
}

double OneRunPValue(int64_t m, int64_t r, int64_t v, double epsilon, double delta) {
  const double q = 1 / (1 + std::exp(-epsilon));  // accuracy of epsilon-randomized response
  const double beta = BinomialUpperTail(r, q, v);
  // The delta term: alpha = max_i P[v > Binomial(r, q) >= v - i] / i.
  double alpha = 0, mass = 0;
  for (int64_t i = 1; i <= v; ++i) {
    mass += std::exp(LogBinomialPmf(r, q, v - i));
    alpha = std::max(alpha, mass / static_cast<double>(i));
  }
  return std::min(1.0, beta + alpha * delta * 2 * static_cast<double>(m));
}

double OneRunEpsilonLowerBound(int64_t m, int64_t r, int64_t v, double delta, double confidence) {
  const double threshold = 1 - confidence;
  if (r <= 0 || OneRunPValue(m, r, v, 0, delta) > threshold) return 0;
  // The p-value grows with epsilon: bisect for the largest epsilon still rejected.
  double lo = 0, hi = 1;
  while (hi < 100 && OneRunPValue(m, r, v, hi, delta) <= threshold) hi *= 2;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (OneRunPValue(m, r, v, mid, delta) <= threshold ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace fedsyn::eval
