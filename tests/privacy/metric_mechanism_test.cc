#include "common/privacy/metric_mechanism.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::privacy {
namespace {

using ::fedsyn::testing::SeededRandom;

MetricMechanismParams Params(NoiseMetric metric = NoiseMetric::kL2) {
  MetricMechanismParams p;
  p.metric = metric;
  p.epsilon_per_unit = 0.5;
  p.clip_radius = 3.0;
  p.dimension = 8;
  return p;
}

TEST(MetricMechanism, RejectsInvalidParameters) {
  for (auto mutate : std::vector<void (*)(MetricMechanismParams&)>{
           [](MetricMechanismParams& p) { p.epsilon_per_unit = 0; },
           [](MetricMechanismParams& p) { p.epsilon_per_unit = -1; },
           [](MetricMechanismParams& p) { p.epsilon_per_unit = INFINITY; },
           [](MetricMechanismParams& p) { p.epsilon_per_unit = NAN; },
           [](MetricMechanismParams& p) { p.clip_radius = 0; },
           [](MetricMechanismParams& p) { p.clip_radius = NAN; },
           [](MetricMechanismParams& p) { p.dimension = 0; },
           [](MetricMechanismParams& p) { p.dimension = 5000; },
           [](MetricMechanismParams& p) { p.grid_exponent = 3; },  // 8 > R
           [](MetricMechanismParams& p) { p.grid_exponent = -100; },
       }) {
    MetricMechanismParams p = Params();
    mutate(p);
    EXPECT_EQ(MetricMechanism::Create(p).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(MetricMechanism, RecordEpsilonIsEpsilonTimesDiameterPlusSlack) {
  auto m = MetricMechanism::Create(Params());
  ASSERT_TRUE(m.ok());
  // Default grid: largest power of two <= 3/4096 = 2^-11.
  EXPECT_EQ(m->GridSpacing(), std::ldexp(1.0, -11));
  EXPECT_DOUBLE_EQ(m->RoundingSlack(), std::sqrt(8.0) * std::ldexp(1.0, -11));
  EXPECT_DOUBLE_EQ(m->RecordEpsilon(), 0.5 * (6.0 + std::sqrt(8.0) * std::ldexp(1.0, -11)));

  auto l1 = MetricMechanism::Create(Params(NoiseMetric::kL1));
  ASSERT_TRUE(l1.ok());
  EXPECT_DOUBLE_EQ(l1->RoundingSlack(), 8.0 * std::ldexp(1.0, -11));
}

TEST(MetricMechanism, OutputLiesOnTheGrid) {
  MetricMechanismParams p = Params();
  p.grid_exponent = -6;
  auto m = MetricMechanism::Create(p);
  ASSERT_TRUE(m.ok());
  SeededRandom rng(1);
  const std::vector<double> code = {0.1234567, -2.5, 7.0, 0, 0, 1e-9, -0.3, 0.9};
  for (int i = 0; i < 1000; ++i) {
    auto out = m->Release(code, rng);
    ASSERT_TRUE(out.ok());
    for (double x : *out) EXPECT_EQ(x * 64.0, std::nearbyint(x * 64.0));
  }
}

TEST(MetricMechanism, RejectsBadCodes) {
  auto m = MetricMechanism::Create(Params());
  ASSERT_TRUE(m.ok());
  SeededRandom rng(2);
  EXPECT_EQ(m->Release(std::vector<double>(7, 0.0), rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<double> nan_code(8, 0.0);
  nan_code[2] = NAN;
  EXPECT_EQ(m->Release(nan_code, rng).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetricMechanism, NoiseShrinksAsEpsilonGrows) {
  // Mean noise radius is k / eps for the L2 mechanism: compare eps = 0.5 and 50.
  SeededRandom rng(3);
  const std::vector<double> code(8, 0.0);
  auto mean_radius = [&](double eps) {
    MetricMechanismParams p = Params();
    p.epsilon_per_unit = eps;
    p.grid_exponent = -30;
    auto m = MetricMechanism::Create(p);
    double total = 0;
    for (int i = 0; i < 2000; ++i) total += Norm(*m->Release(code, rng), NoiseMetric::kL2);
    return total / 2000;
  };
  EXPECT_NEAR(mean_radius(0.5), 16.0, 16.0 * 0.05);
  EXPECT_NEAR(mean_radius(50.0), 0.16, 0.16 * 0.05);
}

}  // namespace
}  // namespace fedsyn::privacy
