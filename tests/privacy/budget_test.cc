#include "common/privacy/budget.h"

#include <cmath>

#include "gtest/gtest.h"

namespace fedsyn::privacy {
namespace {

TEST(Budget, ChargesRoundUpNeverDown) {
  EXPECT_EQ(*EpsilonToChargeMicros(1.0), 1'000'000);
  EXPECT_EQ(*EpsilonToChargeMicros(0.0), 0);
  EXPECT_EQ(*EpsilonToChargeMicros(1.0000001), 1'000'001);
  EXPECT_EQ(*EpsilonToChargeMicros(3.0013810679), 3'001'382);
  EXPECT_GE(*EpsilonToChargeMicros(0.1 + 0.2), 300'000);
}

TEST(Budget, RejectsUnrepresentableEpsilons) {
  EXPECT_FALSE(EpsilonToChargeMicros(-0.1).ok());
  EXPECT_FALSE(EpsilonToChargeMicros(NAN).ok());
  EXPECT_FALSE(EpsilonToChargeMicros(INFINITY).ok());
  EXPECT_FALSE(EpsilonToChargeMicros(2e9).ok());
}

TEST(Budget, FormatsExactDecimals) {
  EXPECT_EQ(FormatMicros(1'234'567), "1.234567");
  EXPECT_EQ(FormatMicros(5), "0.000005");
  EXPECT_EQ(FormatMicros(-2'500'000), "-2.500000");
}

TEST(ResolveDelta, DefaultsToTheSmallerOfOneInAMillionAndATenthOfOneOverN) {
  std::string warning = "stale";
  EXPECT_EQ(*ResolveDelta(std::nullopt, 303, &warning), 1e-6);
  EXPECT_TRUE(warning.empty());
  EXPECT_DOUBLE_EQ(*ResolveDelta(std::nullopt, 1'000'000, &warning), 1e-7);
}

TEST(ResolveDelta, RefusesADeltaOfOneOverNOrMoreAndNamesN) {
  std::string warning;
  auto refused = ResolveDelta(1e-3, 1000, &warning);  // exactly 1/n
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(refused.status().message()).find("n = 1000"), std::string::npos);
  EXPECT_EQ(ResolveDelta(1e-2, 303, &warning).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ResolveDelta(0.0, 303, &warning).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveDelta(std::nullopt, 0, &warning).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResolveDelta, WarnsBetweenATenthOfOneOverNAndOneOverN) {
  std::string warning;
  EXPECT_EQ(*ResolveDelta(5e-4, 1000, &warning), 5e-4);
  EXPECT_NE(warning.find("1/(10n)"), std::string::npos);
  EXPECT_EQ(*ResolveDelta(1e-5, 1000, &warning), 1e-5);
  EXPECT_TRUE(warning.empty());
}

}  // namespace
}  // namespace fedsyn::privacy
