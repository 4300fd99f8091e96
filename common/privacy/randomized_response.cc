#include "common/privacy/randomized_response.h"

#include <cmath>

namespace fedsyn::privacy {

absl::StatusOr<RandomizedResponse> RandomizedResponse::Create(int num_classes, double epsilon) {
  if (num_classes < 2) return absl::InvalidArgumentError("randomized response needs >= 2 classes");
  if (!std::isfinite(epsilon) || epsilon <= 0.0) {
    return absl::InvalidArgumentError("randomized response epsilon must be positive and finite");
  }
  const double e = std::exp(epsilon);
  return RandomizedResponse(num_classes, epsilon, e / (e + num_classes - 1));
}

int RandomizedResponse::Privatize(int value, RandomSource& rng) const {
  if (rng.UniformOpen01() < keep_probability_) return value;
  // One of the other classes, uniformly: draw from K-1 and skip over the true value.
  const int other = static_cast<int>(rng.UniformBelow(static_cast<uint64_t>(num_classes_ - 1)));
  return other >= value ? other + 1 : other;
}

}  // namespace fedsyn::privacy
