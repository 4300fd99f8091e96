#include "common/privacy/randomized_response.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::privacy {
namespace {

TEST(RandomizedResponse, KeepProbabilityGivesRatioExactlyExpEpsilon) {
  auto rr = RandomizedResponse::Create(10, 1.0);
  ASSERT_TRUE(rr.ok());
  const double keep = rr->KeepProbability();
  const double other = (1 - keep) / 9;
  EXPECT_NEAR(keep / other, std::exp(1.0), 1e-12);
}

TEST(RandomizedResponse, RejectsBadParameters) {
  EXPECT_FALSE(RandomizedResponse::Create(1, 1.0).ok());
  EXPECT_FALSE(RandomizedResponse::Create(10, 0.0).ok());
  EXPECT_FALSE(RandomizedResponse::Create(10, NAN).ok());
}

TEST(RandomizedResponse, OutputsStayInRange) {
  auto rr = RandomizedResponse::Create(3, 0.1);
  testing::SeededRandom rng(5);
  for (int i = 0; i < 10000; ++i) {
    const int out = rr->Privatize(i % 3, rng);
    ASSERT_GE(out, 0);
    ASSERT_LT(out, 3);
  }
}

}  // namespace
}  // namespace fedsyn::privacy
