#include "common/privacy/clipping.h"

#include "common/privacy/distributions.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::privacy {
namespace {

TEST(Clipping, LeavesCodesInsideTheBallUnchanged) {
  const std::vector<double> code = {0.3, -0.4};
  EXPECT_EQ(ClipToBall(code, 0.5, NoiseMetric::kL2), code);
  EXPECT_EQ(ClipToBall(code, 0.7, NoiseMetric::kL1), code);
}

TEST(Clipping, ScalesLongCodesOntoTheSphereKeepingDirection) {
  const std::vector<double> code = {3.0, 4.0};
  const auto clipped = ClipToBall(code, 1.0, NoiseMetric::kL2);
  EXPECT_LE(Norm(clipped, NoiseMetric::kL2), 1.0);
  EXPECT_NEAR(clipped[0], 0.6, 1e-12);
  EXPECT_NEAR(clipped[1], 0.8, 1e-12);
  const auto l1 = ClipToBall(code, 1.0, NoiseMetric::kL1);
  EXPECT_LE(Norm(l1, NoiseMetric::kL1), 1.0);
  EXPECT_NEAR(l1[0], 3.0 / 7.0, 1e-12);
}

TEST(Clipping, BoundsEveryCodeEvenAtExtremeScales) {
  testing::SeededRandom rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int k = 1 + static_cast<int>(rng.UniformBelow(64));
    std::vector<double> code(static_cast<size_t>(k));
    const double scale = std::ldexp(1.0, static_cast<int>(rng.UniformBelow(120)) - 60);
    for (double& x : code) x = SampleStandardNormal(rng) * scale;
    const double radius =
        std::ldexp(1.0 + rng.UniformOpen01(), static_cast<int>(rng.UniformBelow(20)) - 10);
    for (NoiseMetric metric : {NoiseMetric::kL2, NoiseMetric::kL1}) {
      ASSERT_LE(Norm(ClipToBall(code, radius, metric), metric), radius);
    }
  }
}

}  // namespace
}  // namespace fedsyn::privacy
