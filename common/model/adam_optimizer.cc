#include "common/model/adam_optimizer.h"

#include <cmath>

namespace fedsyn::model {
namespace {

// torch::optim::AdamOptions' defaults.
constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;

}  // namespace

AdamOptimizer::AdamOptimizer(std::span<const std::span<float>> parameters, double learning_rate)
    : learning_rate_(learning_rate) {
  for (const std::span<float> values : parameters) {
    first_moment_.emplace_back(values.size(), 0.0f);
    second_moment_.emplace_back(values.size(), 0.0f);
  }
}

absl::Status AdamOptimizer::Step(std::span<const std::span<float>> values,
                                 std::span<const std::span<const float>> gradients) {
  if (values.size() != first_moment_.size() || gradients.size() != first_moment_.size())
    return absl::InvalidArgumentError("one value list and one gradient per parameter are needed");
  for (size_t p = 0; p < first_moment_.size(); ++p) {
    if (values[p].size() != first_moment_[p].size() ||
        gradients[p].size() != first_moment_[p].size())
      return absl::InvalidArgumentError(
          "a parameter's or gradient's size differs from the optimizer's");
  }
  ++step_;
  // The bias corrections in double, then the update in float, as LibTorch computes them.
  const double correction1 = 1.0 - std::pow(static_cast<double>(kBeta1), step_);
  const double correction2 = 1.0 - std::pow(static_cast<double>(kBeta2), step_);
  const float step_size = static_cast<float>(learning_rate_ / correction1);
  const float root_correction2 = static_cast<float>(std::sqrt(correction2));
  for (size_t p = 0; p < first_moment_.size(); ++p) {
    float* value = values[p].data();
    const float* grad = gradients[p].data();
    float* m = first_moment_[p].data();
    float* v = second_moment_[p].data();
    const size_t n = first_moment_[p].size();
    for (size_t i = 0; i < n; ++i) {
      m[i] = m[i] * kBeta1 + (1.0f - kBeta1) * grad[i];
      v[i] = v[i] * kBeta2 + (1.0f - kBeta2) * grad[i] * grad[i];
      value[i] -= step_size * m[i] / (std::sqrt(v[i]) / root_correction2 + kEpsilon);
    }
  }
  return absl::OkStatus();
}

}  // namespace fedsyn::model
