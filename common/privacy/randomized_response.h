// k-ary randomized response (Warner 1965; Kairouz et al. 2016): keeps the true class with
// probability e^eps / (e^eps + K - 1), otherwise reports one of the other K-1 classes
// uniformly. Every output probability ratio between two inputs is at most e^eps, so each
// privatised label is eps-DP. Used for image labels (DESIGN.md §2.5).
#ifndef FEDSYN_COMMON_PRIVACY_RANDOMIZED_RESPONSE_H_
#define FEDSYN_COMMON_PRIVACY_RANDOMIZED_RESPONSE_H_

#include "common/base/status.h"
#include "common/privacy/random.h"

namespace fedsyn::privacy {

class RandomizedResponse {
 public:
  // num_classes >= 2, epsilon > 0 and finite.
  static absl::StatusOr<RandomizedResponse> Create(int num_classes, double epsilon);

  // `value` must be in [0, num_classes).
  int Privatize(int value, RandomSource& rng) const;
  double KeepProbability() const { return keep_probability_; }
  double epsilon() const { return epsilon_; }

 private:
  RandomizedResponse(int num_classes, double epsilon, double keep)
      : num_classes_(num_classes), epsilon_(epsilon), keep_probability_(keep) {}
  int num_classes_;
  double epsilon_;
  double keep_probability_;
};

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_RANDOMIZED_RESPONSE_H_
