// AdamOptimizer (common/model/adam_optimizer.h) against Adam's update written out from the paper
// (Kingma and Ba 2015, Algorithm 1) for two steps; against torch::optim::Adam it is checked
// through whole training runs (tests/model/mlp_trainer_test.cc, TrainingFollowsTheAutogradLoop).
#include "common/model/adam_optimizer.h"

#include <cmath>
#include <span>
#include <vector>

#include "gtest/gtest.h"

namespace fedsyn::model {
namespace {

constexpr double kLearningRate = 0.01, kBeta1 = 0.9, kBeta2 = 0.999, kEpsilon = 1e-8;

// Adam's bias-corrected update at step t from its moments (in double).
double Update(double m, double v, int t) {
  const double m_hat = m / (1 - std::pow(kBeta1, t));
  const double v_hat = v / (1 - std::pow(kBeta2, t));
  return -kLearningRate * m_hat / (std::sqrt(v_hat) + kEpsilon);
}

TEST(AdamOptimizer, TwoStepsFollowThePapersUpdate) {
  std::vector<float> a = {1.0f, -2.0f, 0.5f}, b = {3.0f, 0.25f};
  const std::vector<float> start_a = a, start_b = b;
  const std::vector<float> g1a = {2.0f, -0.5f, 1e-3f}, g1b = {0.0f, 7.0f};
  const std::vector<float> g2a = {-1.0f, -0.25f, 4.0f}, g2b = {0.3f, -7.0f};
  const std::vector<std::span<float>> values = {a, b};
  AdamOptimizer adam(values, kLearningRate);
  ASSERT_TRUE(adam.Step(values, std::vector<std::span<const float>>{g1a, g1b}).ok());
  ASSERT_TRUE(adam.Step(values, std::vector<std::span<const float>>{g2a, g2b}).ok());
  const auto expect = [](const std::vector<float>& start, const std::vector<float>& got,
                         const std::vector<float>& g1, const std::vector<float>& g2) {
    for (size_t i = 0; i < start.size(); ++i) {
      SCOPED_TRACE(i);
      const double m1 = (1 - kBeta1) * g1[i], v1 = (1 - kBeta2) * g1[i] * g1[i];
      const double m2 = kBeta1 * m1 + (1 - kBeta1) * g2[i];
      const double v2 = kBeta2 * v1 + (1 - kBeta2) * g2[i] * g2[i];
      const double want = start[i] + Update(m1, v1, 1) + Update(m2, v2, 2);
      EXPECT_NEAR(got[i], want, 1e-6 * std::fabs(want) + 1e-9);
    }
  };
  expect(start_a, a, g1a, g2a);
  expect(start_b, b, g1b, g2b);
  // A zero gradient moves nothing: b[0] moved in the second step only.
  EXPECT_NEAR(b[0], start_b[0] + Update(0.1 * 0.3, 0.001 * 0.09, 2), 1e-7);
}

TEST(AdamOptimizer, RefusesMismatchedListsAndChangesNothing) {
  std::vector<float> a = {1.0f, 2.0f}, b = {3.0f};
  const std::vector<float> g = {0.5f, 0.5f}, short_g = {0.5f}, gb = {1.0f};
  const std::vector<std::span<float>> values = {a, b};
  AdamOptimizer adam(values, kLearningRate);
  // One gradient missing; a gradient of the wrong size; a value list of the wrong size.
  EXPECT_EQ(adam.Step(values, std::vector<std::span<const float>>{g}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(adam.Step(values, std::vector<std::span<const float>>{short_g, gb}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(adam.Step(std::vector<std::span<float>>{std::span<float>(a).first(1), b},
                      std::vector<std::span<const float>>{g, gb})
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(b, (std::vector<float>{3.0f}));
  // The refused calls did not count as steps: the next one is a first step (a move of about
  // the learning rate against the gradient's sign).
  ASSERT_TRUE(adam.Step(values, std::vector<std::span<const float>>{g, gb}).ok());
  EXPECT_NEAR(a[0], 1.0 - kLearningRate, 1e-7);
  EXPECT_NEAR(b[0], 3.0 - kLearningRate, 1e-7);
}

}  // namespace
}  // namespace fedsyn::model
