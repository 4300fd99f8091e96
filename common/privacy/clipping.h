// Norm clipping of latent codes (DESIGN.md §2.1): c(x) = mu(x) * min(1, R / ||mu(x)||).
#ifndef FEDSYN_COMMON_PRIVACY_CLIPPING_H_
#define FEDSYN_COMMON_PRIVACY_CLIPPING_H_

#include <span>
#include <vector>

namespace fedsyn::privacy {

// The metric a mechanism protects. The clipping norm always matches the noise metric: the
// L2 (Gamma radius) mechanism clips in L2, the L1 (Laplace) mechanism clips in L1, so that
// the diameter of the clipped set in the mechanism's own metric is exactly 2R.
enum class NoiseMetric { kL2, kL1 };

double Norm(std::span<const double> v, NoiseMetric metric);

// Scales `code` into the closed ball of radius `radius` (> 0) in `metric`. Codes already in
// the ball are returned unchanged. The result's computed norm is <= radius even after
// floating-point rounding (checked, not assumed). Non-finite input must be rejected by the
// caller before clipping.
std::vector<double> ClipToBall(std::span<const double> code, double radius, NoiseMetric metric);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_CLIPPING_H_
