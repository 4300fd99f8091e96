#include "common/privacy/rdp_accountant.h"

#include <cmath>

#include "gtest/gtest.h"

namespace fedsyn::privacy {
namespace {

double Epsilon(double q, double sigma, int64_t steps, double delta) {
  RdpAccountant accountant;
  EXPECT_TRUE(accountant.Compose(q, sigma, steps).ok());
  return accountant.Spent(delta)->epsilon;
}

// Opacus's accountant test: sigma 1.5, q 0.04, 2250 steps (90 epochs), delta 1e-5 -> 7.32911117143.
TEST(RdpAccountant, MatchesThePublishedReferenceValue) {
  EXPECT_NEAR(Epsilon(0.04, 1.5, 2250, 1e-5), 7.32911117143, 1e-6);
}

// Without subsampling, the Gaussian mechanism's RDP is alpha / (2 sigma^2) exactly.
TEST(RdpAccountant, FullBatchIsTheGaussianMechanism) {
  for (double alpha : {1.5, 2.0, 7.0, 32.0}) {
    EXPECT_DOUBLE_EQ(SubsampledGaussianRdp(1.0, 2.0, alpha), alpha / 8.0);
  }
  EXPECT_EQ(SubsampledGaussianRdp(0.0, 2.0, 4.0), 0.0);
  // Integer and fractional code paths agree at nearby orders (RDP is continuous in alpha).
  EXPECT_NEAR(SubsampledGaussianRdp(0.01, 1.1, 4.0), SubsampledGaussianRdp(0.01, 1.1, 4.0 + 1e-7),
              1e-6);
}

TEST(RdpAccountant, EpsilonGrowsWithStepsAndRateAndFallsWithNoise) {
  const double base = Epsilon(0.01, 1.0, 1000, 1e-5);
  EXPECT_GT(Epsilon(0.01, 1.0, 2000, 1e-5), base);
  EXPECT_GT(Epsilon(0.02, 1.0, 1000, 1e-5), base);
  EXPECT_LT(Epsilon(0.01, 1.5, 1000, 1e-5), base);
  EXPECT_GT(Epsilon(0.01, 1.0, 1000, 1e-7), base);  // smaller delta costs epsilon
}

TEST(RdpAccountant, CalibrationReachesButNeverOvershootsTheTarget) {
  for (double target : {1.0, 2.0, 4.0, 8.0}) {
    auto sigma = CalibrateNoiseMultiplier(target, 1e-5, 0.01, 3000);
    ASSERT_TRUE(sigma.ok()) << sigma.status();
    const double reached = Epsilon(0.01, *sigma, 3000, 1e-5);
    EXPECT_LE(reached, target);
    EXPECT_GT(reached, target * 0.99) << "calibration should be tight";
    EXPECT_GT(Epsilon(0.01, *sigma * 0.999, 3000, 1e-5), target * 0.995);
  }
  EXPECT_FALSE(CalibrateNoiseMultiplier(0.0, 1e-5, 0.01, 10).ok());
}

TEST(RdpAccountant, SavedStateContinuesExactly) {
  RdpAccountant accountant;
  ASSERT_TRUE(accountant.Compose(0.04, 1.5, 1000).ok());
  auto restored = RdpAccountant::Deserialize(accountant.Serialize());
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_TRUE(accountant.Compose(0.04, 1.5, 1250).ok());
  ASSERT_TRUE(restored->Compose(0.04, 1.5, 1250).ok());
  EXPECT_EQ(restored->Spent(1e-5)->epsilon, accountant.Spent(1e-5)->epsilon);
  EXPECT_EQ(restored->rdp(), accountant.rdp());
  EXPECT_FALSE(RdpAccountant::Deserialize("garbage").ok());
  EXPECT_FALSE(RdpAccountant::Deserialize("rdp-accountant v1 2 0x1p+1").ok());
}

TEST(RdpAccountant, RejectsBadParameters) {
  RdpAccountant accountant;
  EXPECT_FALSE(accountant.Compose(1.5, 1.0, 1).ok());
  EXPECT_FALSE(accountant.Compose(0.1, 0.0, 1).ok());
  EXPECT_FALSE(accountant.Compose(0.1, 1.0, -1).ok());
  EXPECT_FALSE(accountant.Spent(0.0).ok());
  EXPECT_FALSE(accountant.Spent(1.0).ok());
}

}  // namespace
}  // namespace fedsyn::privacy
