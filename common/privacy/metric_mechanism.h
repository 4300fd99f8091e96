// The metric-privacy mechanism on latent codes (DESIGN.md §2; derivation in docs/privacy.md).
//
//   release(x) = round_grid(clip_R(mu(x))) + round_grid(N),
//   N = r * u, u uniform on S^{k-1}, r ~ Gamma(k, 1/eps_d)      (L2: density ~ exp(-eps_d ||n||_2))
//   N_i ~ Laplace(1/eps_d) independently                         (L1: density ~ exp(-eps_d
//   ||n||_1))
//
// Rounding both the clipped code and the noise to a power-of-two grid makes the final sum
// exact in double precision, so the output's low-order bits cannot reveal the code
// (Mironov 2012, "On significance of the least significant bits for differential privacy").
// Rounding the code moves it by at most `RoundingSlack()/2` in the mechanism's metric, so one
// released code is eps_d * (2R + slack)-DP for the record it came from.
#ifndef FEDSYN_COMMON_PRIVACY_METRIC_MECHANISM_H_
#define FEDSYN_COMMON_PRIVACY_METRIC_MECHANISM_H_

#include <optional>
#include <span>
#include <vector>

#include "common/base/status.h"
#include "common/privacy/clipping.h"
#include "common/privacy/random.h"

namespace fedsyn::privacy {

struct MetricMechanismParams {
  NoiseMetric metric = NoiseMetric::kL2;
  // eps_d: privacy per unit of latent distance. > 0 and finite.
  double epsilon_per_unit = 0.0;
  // R: clip radius. > 0 and finite.
  double clip_radius = 0.0;
  // k: latent dimension. 1..4096.
  int dimension = 0;
  // The grid spacing is 2^grid_exponent. When unset, the largest power of two <= R / 4096,
  // which makes the slack a negligible share of 2R (e.g. 0.02% for R = 3, k = 8).
  std::optional<int> grid_exponent;
};

class MetricMechanism {
 public:
  // Validates the parameters; returns InvalidArgument naming the bad one.
  static absl::StatusOr<MetricMechanism> Create(const MetricMechanismParams& params);

  // Clips, rounds and noises one code (size must equal dimension; entries finite). Returns
  // InvalidArgument for a bad code, and Internal in the astronomically unlikely case that a
  // noise draw leaves the range where grid arithmetic is exact (nothing is released then).
  absl::StatusOr<std::vector<double>> Release(std::span<const double> code,
                                              RandomSource& rng) const;

  // Per-record epsilon of one released code: eps_d * (2R + slack).
  double RecordEpsilon() const;
  // What the noise is added to: `code` clipped to the ball and rounded to the grid. A released
  // code minus its centre is exactly the (rounded) noise. Same size checks as Release.
  absl::StatusOr<std::vector<double>> Center(std::span<const double> code) const;
  // The norm the mechanism measures distance in: L2 or L1.
  double Norm(std::span<const double> v) const;
  // P[Norm(noise) <= r]: the noise norm is Gamma(k, 1/eps_d) in both metrics (L2: the radius;
  // L1: a sum of k exponentials), up to the grid rounding.
  double NoiseNormCdf(double r) const;
  // Extra distance the grid rounding of the code can add: sqrt(k)*grid (L2) or k*grid (L1).
  double RoundingSlack() const;
  double GridSpacing() const { return grid_; }
  const MetricMechanismParams& params() const { return params_; }

 private:
  MetricMechanism(MetricMechanismParams params, double grid) : params_(params), grid_(grid) {}
  std::vector<double> SampleNoise(RandomSource& rng) const;

  MetricMechanismParams params_;
  double grid_;
};

// The parameters as one line of text, exactly ("l2 <eps_d> <R> <grid exponent> <k>", hex floats),
// for storage; and back, with Create's validation (InvalidArgument otherwise).
std::string FormatMechanismParams(const MetricMechanismParams& params);
absl::StatusOr<MetricMechanismParams> ParseMechanismParams(const std::string& text);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_METRIC_MECHANISM_H_
