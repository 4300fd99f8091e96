#include "common/privacy/clipping.h"

#include <cmath>

namespace fedsyn::privacy {

double Norm(std::span<const double> v, NoiseMetric metric) {
  double acc = 0.0;
  if (metric == NoiseMetric::kL1) {
    for (double x : v) acc += std::fabs(x);
    return acc;
  }
  for (double x : v) acc += x * x;
  return std::sqrt(acc);
}

std::vector<double> ClipToBall(std::span<const double> code, double radius, NoiseMetric metric) {
  std::vector<double> clipped(code.begin(), code.end());
  double norm = Norm(clipped, metric);
  if (norm <= radius) return clipped;
  double factor = radius / norm;
  // Rounding in the scaling can leave the norm a few ulps above R; shrink until it is not,
  // because the privacy charge assumes every clipped code is inside the ball.
  for (;;) {
    for (size_t i = 0; i < clipped.size(); ++i) clipped[i] = code[i] * factor;
    norm = Norm(clipped, metric);
    if (norm <= radius) return clipped;
    factor = std::nextafter(factor, 0.0) * (1.0 - 1e-15);
  }
}

}  // namespace fedsyn::privacy
