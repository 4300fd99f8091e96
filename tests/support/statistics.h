// Small statistical tools for tests of randomized code: the one-sample Kolmogorov-Smirnov
// statistic, its Dvoretzky-Kiefer-Wolfowitz critical value, and the CDFs the mechanisms need.
#ifndef FEDSYN_TESTS_SUPPORT_STATISTICS_H_
#define FEDSYN_TESTS_SUPPORT_STATISTICS_H_

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace fedsyn::testing {

// sup_x |F_n(x) - F(x)| for the sample against the CDF F.
inline double KolmogorovSmirnov(std::vector<double> sample,
                                const std::function<double(double)>& cdf) {
  std::sort(sample.begin(), sample.end());
  const double n = static_cast<double>(sample.size());
  double d = 0.0;
  for (size_t i = 0; i < sample.size(); ++i) {
    const double f = cdf(sample[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d;
}

// DKW inequality (Massart's tight constant): P(D_n > t) <= 2 exp(-2 n t^2) for every
// continuous F, so rejecting when D_n > sqrt(ln(2/alpha) / (2n)) has size at most alpha.
inline double KsCriticalValue(size_t n, double alpha) {
  return std::sqrt(std::log(2.0 / alpha) / (2.0 * static_cast<double>(n)));
}

// Gamma(k, scale) CDF for integer k: 1 - exp(-y) sum_{j<k} y^j / j!, y = x / scale.
inline double GammaIntegerShapeCdf(double x, int k, double scale) {
  if (x <= 0) return 0.0;
  const double y = x / scale;
  double term = 1.0, sum = 1.0;
  for (int j = 1; j < k; ++j) {
    term *= y / j;
    sum += term;
  }
  return 1.0 - std::exp(-y) * sum;
}

inline double LaplaceCdf(double x, double scale) {
  return x < 0 ? 0.5 * std::exp(x / scale) : 1.0 - 0.5 * std::exp(-x / scale);
}

// CDF of Beta(a, b), a, b >= 1, tabulated once on a fine grid (cumulative Simpson rule per
// cell) and linearly interpolated: absolute error below 1e-9, cheap per evaluation, so KS
// tests over 10^5 samples stay fast.
class BetaCdf {
 public:
  BetaCdf(double a, double b) : table_(kCells + 1, 0.0) {
    auto density = [a, b](double t) {
      return std::pow(t, a - 1) * std::pow(1 - t, b - 1) / std::beta(a, b);
    };
    const double h = 1.0 / kCells;
    for (int i = 0; i < kCells; ++i) {
      const double x0 = i * h;
      table_[i + 1] =
          table_[i] + h / 6.0 * (density(x0) + 4.0 * density(x0 + h / 2) + density(x0 + h));
    }
  }
  double operator()(double x) const {
    if (x <= 0) return 0.0;
    if (x >= 1) return 1.0;
    const double position = x * kCells;
    const int i = static_cast<int>(position);
    const double w = position - i;
    return table_[i] * (1 - w) + table_[i + 1] * w;
  }

 private:
  static constexpr int kCells = 200'000;
  std::vector<double> table_;
};

// Two-sided standard normal quantile for tail probability p (z with P(|Z| > z) = p), by
// bisection on erfc.
inline double NormalTwoSidedQuantile(double p) {
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erfc(mid / std::sqrt(2.0)) > p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_STATISTICS_H_
