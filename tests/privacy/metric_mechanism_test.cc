#include "common/privacy/metric_mechanism.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/statistics.h"

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

TEST(MetricMechanism, ReleaseIsItsCenterPlusNoiseOfTheStatedNormLaw) {
  for (NoiseMetric metric : {NoiseMetric::kL2, NoiseMetric::kL1}) {
    MetricMechanismParams p = Params();
    p.metric = metric;
    auto m = MetricMechanism::Create(p);
    ASSERT_TRUE(m.ok());
    const std::vector<double> code = {5, -1, 0.3, 0, 0, 2, 0, 0};  // outside the ball: clipped
    auto center = m->Center(code);
    ASSERT_TRUE(center.ok());
    EXPECT_LE(m->Norm(*center), p.clip_radius + m->RoundingSlack());
    for (double x : *center) EXPECT_EQ(x, std::nearbyint(x / m->GridSpacing()) * m->GridSpacing());
    // Noise norms over 20,000 releases against NoiseNormCdf: KS at alpha 1e-6 (critical 0.0194);
    // the same norms against a 10% larger epsilon are rejected.
    SeededRandom rng(11);
    std::vector<double> norms;
    for (int i = 0; i < 20000; ++i) {
      std::vector<double> released = *m->Release(code, rng);
      for (size_t c = 0; c < released.size(); ++c) released[c] -= (*center)[c];
      norms.push_back(m->Norm(released));
    }
    const double critical = testing::KsCriticalValue(norms.size(), 1e-6);
    EXPECT_LT(testing::KolmogorovSmirnov(norms, [&](double r) { return m->NoiseNormCdf(r); }),
              critical);
    MetricMechanismParams wrong = p;
    wrong.epsilon_per_unit *= 1.1;
    auto w = MetricMechanism::Create(wrong);
    EXPECT_GT(testing::KolmogorovSmirnov(norms, [&](double r) { return w->NoiseNormCdf(r); }),
              critical);
    // The closed form agrees with the test library's Gamma CDF.
    for (double r : {0.5, 4.0, 12.0, 40.0}) {
      EXPECT_NEAR(m->NoiseNormCdf(r),
                  testing::GammaIntegerShapeCdf(r, p.dimension, 1 / p.epsilon_per_unit), 1e-12);
    }
  }
}

TEST(MetricMechanism, ParametersSurviveTheirTextForm) {
  MetricMechanismParams p = Params();
  p.metric = NoiseMetric::kL1;
  p.epsilon_per_unit = 0.1;  // not a short decimal: the text form must be exact
  p.grid_exponent = -11;
  auto back = ParseMechanismParams(FormatMechanismParams(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->metric, p.metric);
  EXPECT_EQ(back->epsilon_per_unit, p.epsilon_per_unit);
  EXPECT_EQ(back->clip_radius, p.clip_radius);
  EXPECT_EQ(back->grid_exponent, -11);
  EXPECT_EQ(back->dimension, p.dimension);
  for (const char* bad : {"", "l3 0x1p-1 0x1p+1 -11 8", "l2 0x1p-1 0x1p+1 -11", "l2 x 1 -11 8",
                          "l2 -1 3 -11 8", "l2 1 3 -11 8 extra", "l2 1 3 -11 0"}) {
    EXPECT_FALSE(ParseMechanismParams(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace fedsyn::privacy
