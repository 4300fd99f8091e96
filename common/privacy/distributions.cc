#include "common/privacy/distributions.h"

#include <cmath>
#include <numbers>

namespace fedsyn::privacy {

double SampleStandardNormal(RandomSource& rng) {
  const double u1 = rng.UniformOpen01();
  const double u2 = rng.UniformOpen01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double SampleGammaIntegerShape(RandomSource& rng, int shape, double scale) {
  double sum_of_logs = 0.0;
  for (int i = 0; i < shape; ++i) sum_of_logs += std::log(rng.UniformOpen01());
  return -scale * sum_of_logs;
}

double SampleLaplace(RandomSource& rng, double scale) {
  const double magnitude = -scale * std::log(rng.UniformOpen01());
  return (rng.NextU64() & 1u) ? magnitude : -magnitude;
}

std::vector<double> SampleUnitSphere(RandomSource& rng, int dimension) {
  std::vector<double> direction(static_cast<size_t>(dimension));
  double squared_norm = 0.0;
  // A zero vector has probability zero, but a redraw keeps the division well-defined.
  while (squared_norm == 0.0) {
    squared_norm = 0.0;
    for (double& x : direction) {
      x = SampleStandardNormal(rng);
      squared_norm += x * x;
    }
  }
  const double norm = std::sqrt(squared_norm);
  for (double& x : direction) x /= norm;
  return direction;
}

}  // namespace fedsyn::privacy
