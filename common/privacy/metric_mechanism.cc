#include "common/privacy/metric_mechanism.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
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

absl::StatusOr<std::vector<double>> MetricMechanism::Center(std::span<const double> code) const {
  if (code.size() != static_cast<size_t>(params_.dimension)) {
    return absl::InvalidArgumentError("code has dimension " + std::to_string(code.size()) +
                                      ", mechanism expects " + std::to_string(params_.dimension));
  }
  for (double x : code) {
    if (!std::isfinite(x)) return absl::InvalidArgumentError("code has a non-finite entry");
  }
  std::vector<double> center = ClipToBall(code, params_.clip_radius, params_.metric);
  // Multiples of the grid: division by a power of two is exact, and |code| <= R keeps the
  // integer far below 2^50.
  for (double& x : center) x = std::nearbyint(x / grid_) * grid_;
  return center;
}

absl::StatusOr<std::vector<double>> MetricMechanism::Release(std::span<const double> code,
                                                             RandomSource& rng) const {
  ASSIGN_OR_RETURN(std::vector<double> released, Center(code));
  const std::vector<double> noise = SampleNoise(rng);
  for (size_t i = 0; i < released.size(); ++i) {
    const double noise_steps = std::nearbyint(noise[i] / grid_);
    if (!(std::fabs(noise_steps) < kMaxExactGridMultiple)) {
      return absl::InternalError("noise draw outside the exact grid range; release aborted");
    }
    released[i] += noise_steps * grid_;  // exact: integers below 2^51 times 2^e
  }
  return released;
}

double MetricMechanism::Norm(std::span<const double> v) const {
  double sum = 0.0;
  for (double x : v) sum += params_.metric == NoiseMetric::kL2 ? x * x : std::fabs(x);
  return params_.metric == NoiseMetric::kL2 ? std::sqrt(sum) : sum;
}

double MetricMechanism::NoiseNormCdf(double r) const {
  if (!(r > 0)) return 0.0;
  // Gamma(k, 1/eps_d) with integer k: 1 - e^{-y} sum_{j<k} y^j / j!, y = eps_d r, in log space.
  const double y = params_.epsilon_per_unit * r;
  double log_term = 0.0, tail = 0.0;  // sum_{j<k} y^j/j! e^{-y}
  for (int j = 0; j < params_.dimension; ++j) {
    if (j > 0) log_term += std::log(y) - std::log(static_cast<double>(j));
    tail += std::exp(log_term - y);
  }
  return std::clamp(1.0 - tail, 0.0, 1.0);
}

std::string FormatMechanismParams(const MetricMechanismParams& params) {
  char text[160];
  std::snprintf(text, sizeof text, "%s %a %a %d %d",
                params.metric == NoiseMetric::kL1 ? "l1" : "l2", params.epsilon_per_unit,
                params.clip_radius, params.grid_exponent.value_or(0), params.dimension);
  return text;
}

absl::StatusOr<MetricMechanismParams> ParseMechanismParams(const std::string& text) {
  std::istringstream in(text);
  std::string metric, epsilon, radius, rest;
  int exponent = 0, dimension = 0;
  if (!(in >> metric >> epsilon >> radius >> exponent >> dimension) || (in >> rest) ||
      (metric != "l1" && metric != "l2")) {
    return absl::InvalidArgumentError("not a mechanism description: '" + text + "'");
  }
  MetricMechanismParams params;
  params.metric = metric == "l1" ? NoiseMetric::kL1 : NoiseMetric::kL2;
  char* end = nullptr;
  params.epsilon_per_unit = std::strtod(epsilon.c_str(), &end);
  if (end != epsilon.c_str() + epsilon.size())
    return absl::InvalidArgumentError("bad epsilon in a mechanism description");
  params.clip_radius = std::strtod(radius.c_str(), &end);
  if (end != radius.c_str() + radius.size())
    return absl::InvalidArgumentError("bad radius in a mechanism description");
  params.grid_exponent = exponent;
  params.dimension = dimension;
  RETURN_IF_ERROR(MetricMechanism::Create(params).status());
  return params;
}

}  // namespace fedsyn::privacy
