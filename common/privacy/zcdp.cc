#include "common/privacy/zcdp.h"

#include <cmath>
#include <limits>
#include <string>

namespace fedsyn::privacy {

double ZcdpDelta(double rho, double epsilon) {
  if (rho <= 0.0) return 0.0;
  // log delta(a) is convex in a with derivative (2a - 1) rho - epsilon + log(1 - 1/a), which
  // increases from -inf at a = 1; bisect for its root. The bound holds at every a, so the
  // bisection's precision affects only how tight the result is.
  double low = 1.0 + 1e-12;
  double high = (epsilon + 1.0) / (2.0 * rho) + 2.0;
  for (int i = 0; i < 200; ++i) {
    const double a = 0.5 * (low + high);
    const double derivative = (2.0 * a - 1.0) * rho - epsilon + std::log1p(-1.0 / a);
    (derivative < 0.0 ? low : high) = a;
  }
  const double a = 0.5 * (low + high);
  const double log_delta =
      (a - 1.0) * (a * rho - epsilon) + a * std::log1p(-1.0 / a) - std::log(a - 1.0);
  if (!(log_delta < 0.0)) return 1.0;  // also NaN: claim nothing
  return std::exp(log_delta);
}

double ZcdpEpsilon(double rho, double delta) {
  if (rho <= 0.0) return 0.0;
  // The classical conversion rho + 2 sqrt(rho log(1/delta)) always suffices: start there.
  double high = rho + 2.0 * std::sqrt(rho * std::log(1.0 / delta));
  double low = 0.0;
  for (int i = 0; i < 200 && high - low > 1e-9 * high; ++i) {
    const double mid = 0.5 * (low + high);
    (ZcdpDelta(rho, mid) <= delta ? high : low) = mid;
  }
  return high;
}

absl::StatusOr<double> ZcdpRhoFor(double epsilon, double delta) {
  if (!(epsilon > 0.0) || !std::isfinite(epsilon) || epsilon > 1e6) {
    return absl::InvalidArgumentError("epsilon must be in (0, 1e6], got " +
                                      std::to_string(epsilon));
  }
  if (!(delta > 0.0 && delta < 1.0)) {
    return absl::InvalidArgumentError("delta must be in (0, 1), got " + std::to_string(delta));
  }
  // delta grows with rho; keep `low` always feasible.
  double low = 0.0;
  double high = epsilon;
  while (ZcdpDelta(high, epsilon) <= delta) high *= 2.0;
  for (int i = 0; i < 200 && high - low > 1e-12 * high; ++i) {
    const double mid = 0.5 * (low + high);
    (ZcdpDelta(mid, epsilon) <= delta ? low : high) = mid;
  }
  return low;
}

double GaussianSigmaFor(double rho, double sensitivity) {
  return sensitivity / std::sqrt(2.0 * rho);
}

double ExponentialMechanismEpsilonFor(double rho) { return std::sqrt(8.0 * rho); }

namespace {

// Discrete Laplace on the integers, P(y) proportional to exp(-|y| / scale) (CKS20, Alg. 2): a
// geometric magnitude as the floor of an exponential, a random sign, and the second copy of
// zero rejected.
int64_t SampleDiscreteLaplace(RandomSource& rng, double scale) {
  for (;;) {
    const bool negative = (rng.NextU64() & 1u) != 0;
    const double magnitude = std::floor(-scale * std::log(rng.UniformOpen01()));
    if (negative && magnitude == 0.0) continue;
    // Magnitudes beyond 2^62 have probability below exp(-2^62 / scale): unreachable for any
    // scale a histogram uses, but the conversion must stay defined.
    const double bounded = std::fmin(magnitude, 4.0e18);
    const auto value = static_cast<int64_t>(bounded);
    return negative ? -value : value;
  }
}

}  // namespace

int64_t SampleDiscreteGaussian(RandomSource& rng, double sigma) {
  const double t = std::floor(sigma) + 1.0;
  const double variance = sigma * sigma;
  for (;;) {
    const int64_t y = SampleDiscreteLaplace(rng, t);
    const double gap = std::fabs(static_cast<double>(y)) - variance / t;
    if (rng.UniformOpen01() < std::exp(-gap * gap / (2.0 * variance))) return y;
  }
}

size_t ExponentialMechanism(RandomSource& rng, std::span<const double> scores, double epsilon,
                            double sensitivity) {
  const double scale = epsilon / (2.0 * sensitivity);
  size_t best = 0;
  double best_key = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < scores.size(); ++i) {
    // Gumbel-max: argmax of scale * score + Gumbel noise is distributed as the softmax.
    const double gumbel = -std::log(-std::log(rng.UniformOpen01()));
    const double key = scale * scores[i] + gumbel;
    if (key > best_key) {
      best_key = key;
      best = i;
    }
  }
  return best;
}

}  // namespace fedsyn::privacy
