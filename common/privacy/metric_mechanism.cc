#include "common/privacy/metric_mechanism.h"

#include <cmath>
#include <string>

#include "common/privacy/distributions.h"

namespace fedsyn::privacy {
namespace {

// Grid multiples below 2^50 keep every sum of two of them exact in a 53-bit mantissa.
constexpr double kMaxExactGridMultiple = 0x1.0p50;
constexpr int kMaxDimension = 4096;

bool PositiveFinite(double x) { return std::isfinite(x) && x > 0.0; }

}  // namespace

absl::StatusOr<MetricMechanism> MetricMechanism::Create(const MetricMechanismParams& params) {
  if (!PositiveFinite(params.epsilon_per_unit)) {
    return absl::InvalidArgumentError("epsilon per unit distance must be positive and finite");
  }
  if (!PositiveFinite(params.clip_radius)) {
    return absl::InvalidArgumentError("clip radius must be positive and finite");
  }
  if (params.dimension < 1 || params.dimension > kMaxDimension) {
    return absl::InvalidArgumentError("latent dimension must be in 1.." +
                                      std::to_string(kMaxDimension));
  }
  int exponent = params.grid_exponent.has_value()
                     ? *params.grid_exponent
                     : static_cast<int>(std::floor(std::log2(params.clip_radius / 4096.0)));
  if (exponent < -60 || exponent > 10) {
    return absl::InvalidArgumentError("grid exponent must be in -60..10");
  }
  const double grid = std::ldexp(1.0, exponent);
  if (grid > params.clip_radius) {
    return absl::InvalidArgumentError("grid spacing must not exceed the clip radius");
  }
  MetricMechanismParams resolved = params;
  resolved.grid_exponent = exponent;
  return MetricMechanism(resolved, grid);
}

double MetricMechanism::RoundingSlack() const {
  const double k = params_.dimension;
  // Each coordinate moves by at most grid/2; two codes each move, hence a full grid step.
  return params_.metric == NoiseMetric::kL2 ? std::sqrt(k) * grid_ : k * grid_;
}

double MetricMechanism::RecordEpsilon() const {
  return params_.epsilon_per_unit * (2.0 * params_.clip_radius + RoundingSlack());
}

std::vector<double> MetricMechanism::SampleNoise(RandomSource& rng) const {
  const double scale = 1.0 / params_.epsilon_per_unit;
  if (params_.metric == NoiseMetric::kL1) {
    std::vector<double> noise(static_cast<size_t>(params_.dimension));
    for (double& n : noise) n = SampleLaplace(rng, scale);
    return noise;
  }
  std::vector<double> noise = SampleUnitSphere(rng, params_.dimension);
  const double radius = SampleGammaIntegerShape(rng, params_.dimension, scale);
  for (double& n : noise) n *= radius;
  return noise;
}

absl::StatusOr<std::vector<double>> MetricMechanism::Release(std::span<const double> code,
                                                             RandomSource& rng) const {
  if (code.size() != static_cast<size_t>(params_.dimension)) {
    return absl::InvalidArgumentError("code has dimension " + std::to_string(code.size()) +
                                      ", mechanism expects " + std::to_string(params_.dimension));
  }
  for (double x : code) {
    if (!std::isfinite(x)) return absl::InvalidArgumentError("code has a non-finite entry");
  }
  std::vector<double> released = ClipToBall(code, params_.clip_radius, params_.metric);
  const std::vector<double> noise = SampleNoise(rng);
  for (size_t i = 0; i < released.size(); ++i) {
    // Multiples of the grid, as exact integers in double: division by a power of two is exact.
    const double code_steps = std::nearbyint(released[i] / grid_);
    const double noise_steps = std::nearbyint(noise[i] / grid_);
    if (!(std::fabs(noise_steps) < kMaxExactGridMultiple)) {
      return absl::InternalError("noise draw outside the exact grid range; release aborted");
    }
    released[i] = (code_steps + noise_steps) * grid_;  // exact: integers below 2^51 times 2^e
  }
  return released;
}

}  // namespace fedsyn::privacy
