// The zCDP accounting of the marginal generator (privacy/zcdp.h).
#include "common/privacy/zcdp.h"

#include <cmath>

#include "gtest/gtest.h"

namespace fedsyn::privacy {
namespace {

// The exact (epsilon, delta) curve of the Gaussian mechanism with sensitivity / sigma = r
// (Balle & Wang 2018, Thm 8): delta = Phi(r/2 - epsilon/r) - e^epsilon Phi(-r/2 - epsilon/r).
// An independent check of the conversion: rho-zCDP's delta may never be below it.
double GaussianExactDelta(double r, double epsilon) {
  auto phi = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  return phi(r / 2 - epsilon / r) - std::exp(epsilon) * phi(-r / 2 - epsilon / r);
}

TEST(Zcdp, ConversionNeverUnderstatesTheGaussiansExactDelta) {
  for (double sigma : {0.5, 1.0, 2.0, 5.0, 20.0}) {
    const double rho = GaussianRho(1.0, sigma);
    for (double epsilon : {0.1, 0.5, 1.0, 3.0, 8.0}) {
      const double exact = GaussianExactDelta(1.0 / sigma, epsilon);
      const double bound = ZcdpDelta(rho, epsilon);
      EXPECT_GE(bound, exact * (1 - 1e-9)) << "sigma " << sigma << " epsilon " << epsilon;
      // ... and is not vacuous where the exact delta is meaningful.
      if (exact > 1e-12) {
        EXPECT_LT(bound, 20 * exact) << "sigma " << sigma << " eps " << epsilon;
      }
    }
  }
}

TEST(Zcdp, RhoForEpsilonDeltaMeetsTheTargetAndIsTight) {
  for (double epsilon : {0.5, 1.0, 3.0, 8.0}) {
    for (double delta : {1e-5, 1e-6, 1e-9}) {
      auto rho = ZcdpRhoFor(epsilon, delta);
      ASSERT_TRUE(rho.ok());
      EXPECT_LE(ZcdpDelta(*rho, epsilon), delta);
      EXPECT_GT(ZcdpDelta(*rho * 1.001, epsilon), delta) << "not the largest rho";
      // At least what the classical conversion rho + 2 sqrt(rho log(1/delta)) allows.
      const double l = std::log(1 / delta);
      const double classical = std::pow(std::sqrt(l + epsilon) - std::sqrt(l), 2);
      EXPECT_GE(*rho, classical * (1 - 1e-9));
      EXPECT_NEAR(ZcdpEpsilon(*rho, delta), epsilon, 1e-6 * epsilon);
    }
  }
  // The figure docs/privacy.md quotes for the marginal generator's default setting.
  EXPECT_NEAR(*ZcdpRhoFor(1.0, 1e-6), 0.024356, 1e-6);
}

TEST(Zcdp, RefusesMeaninglessTargets) {
  EXPECT_FALSE(ZcdpRhoFor(0.0, 1e-6).ok());
  EXPECT_FALSE(ZcdpRhoFor(-1.0, 1e-6).ok());
  EXPECT_FALSE(ZcdpRhoFor(std::nan(""), 1e-6).ok());
  EXPECT_FALSE(ZcdpRhoFor(1.0, 0.0).ok());
  EXPECT_FALSE(ZcdpRhoFor(1.0, 1.0).ok());
  EXPECT_EQ(ZcdpDelta(0.0, 1.0), 0.0);
  EXPECT_EQ(ZcdpDelta(1e9, 0.1), 1.0);
}

TEST(Zcdp, MechanismCalibrationsInvertEachOther) {
  EXPECT_NEAR(GaussianRho(std::sqrt(2.0), GaussianSigmaFor(0.01, std::sqrt(2.0))), 0.01, 1e-15);
  EXPECT_NEAR(ExponentialMechanismRho(ExponentialMechanismEpsilonFor(0.003)), 0.003, 1e-15);
}

}  // namespace
}  // namespace fedsyn::privacy
