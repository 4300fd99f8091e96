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

}  // namespace
}  // namespace fedsyn::privacy
