// Empirical epsilon bounds against closed forms, then statistically: on randomized response
// with a known epsilon the bounds stay below it at the stated confidence, and they detect a
// mechanism whose epsilon is larger than claimed.
#include "common/eval/empirical_epsilon.h"

#include <cmath>
#include <cstdio>

#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::eval {
namespace {

TEST(EmpiricalEpsilon, IncompleteBetaAndClopperPearsonClosedForms) {
  for (double x : {0.1, 0.5, 0.9}) {
    EXPECT_NEAR(RegularizedIncompleteBeta(1, 1, x), x, 1e-12);
    EXPECT_NEAR(RegularizedIncompleteBeta(2, 1, x), x * x, 1e-12);
    EXPECT_NEAR(RegularizedIncompleteBeta(1, 3, x), 1 - std::pow(1 - x, 3), 1e-12);
  }
  EXPECT_NEAR(RegularizedIncompleteBeta(7.5, 7.5, 0.5), 0.5, 1e-12);
  // 0 of 10: the upper end solves (1 - p)^10 = 0.025; 10 of 10: p^10 = 0.025.
  EXPECT_NEAR(ClopperPearson(0, 10, 0.95).high, 1 - std::pow(0.025, 0.1), 1e-9);
  EXPECT_EQ(ClopperPearson(0, 10, 0.95).low, 0);
  EXPECT_NEAR(ClopperPearson(10, 10, 0.95).low, std::pow(0.025, 0.1), 1e-9);
  // 5 of 10 (tabulated): [0.187086, 0.812914].
  EXPECT_NEAR(ClopperPearson(5, 10, 0.95).low, 0.187086, 1e-6);
  EXPECT_NEAR(ClopperPearson(5, 10, 0.95).high, 0.812914, 1e-6);
  // P[Binomial(10, 1/2) >= 8] = (45 + 10 + 1) / 1024.
  EXPECT_NEAR(BinomialUpperTail(10, 0.5, 8), 56.0 / 1024.0, 1e-12);
  EXPECT_EQ(BinomialUpperTail(10, 0.3, 0), 1.0);
  EXPECT_EQ(BinomialUpperTail(10, 0.3, 11), 0.0);
}

TEST(EmpiricalEpsilon, BoundsOfAPerfectAttack) {
  // No errors on 1000 + 1000 canaries: FPR's upper end is 1 - 0.025^(1/1000).
  const double fpr = 1 - std::pow(0.025, 1.0 / 1000);
  EXPECT_NEAR(ThresholdEpsilonLowerBound(0, 1000, 0, 1000, 0, 0.95), std::log((1 - fpr) / fpr),
              1e-6);
  EXPECT_LT(ThresholdEpsilonLowerBound(0, 1000, 0, 1000, 1e-3, 0.95),
            ThresholdEpsilonLowerBound(0, 1000, 0, 1000, 0, 0.95));
  EXPECT_EQ(ThresholdEpsilonLowerBound(500, 1000, 500, 1000, 0, 0.95), 0)
      << "a coin flip proves nothing";
  // 100 right of 100 guesses, delta 0: q^100 = 0.05, eps = log(q / (1 - q)).
  const double q = std::pow(0.05, 0.01);
  EXPECT_NEAR(OneRunEpsilonLowerBound(1000, 100, 100, 0, 0.95), std::log(q / (1 - q)), 1e-6);
  EXPECT_LT(OneRunEpsilonLowerBound(1000, 100, 100, 1e-5, 0.95),
            OneRunEpsilonLowerBound(1000, 100, 100, 0, 0.95));
  EXPECT_EQ(OneRunEpsilonLowerBound(1000, 100, 50, 0, 0.95), 0);
}

// Randomized response on m canaries: each guess is right with probability e^eps / (1 + e^eps).
int64_t RightGuesses(int64_t guesses, double epsilon, testing::SeededRandom& rng) {
  const double q = 1 / (1 + std::exp(-epsilon));
  int64_t right = 0;
  for (int64_t i = 0; i < guesses; ++i) right += rng.UniformOpen01() < q;
  return right;
}

TEST(EmpiricalEpsilon, OneRunBoundIsValidAtItsConfidenceAndHasPower) {
  testing::SeededRandom rng(17);
  constexpr int kRuns = 200;
  int above_claim = 0;
  for (int run = 0; run < kRuns; ++run) {
    const int64_t right = RightGuesses(1000, 1.0, rng);
    above_claim += OneRunEpsilonLowerBound(1000, 1000, right, 0, 0.95) > 1.0;
  }
  // At most 5% of runs may exceed the truth; 20 of 200 is far beyond that (P < 1e-3).
  std::printf("one-run bound above the true epsilon in %d of %d runs\n", above_claim, kRuns);
  EXPECT_LE(above_claim, 20);
  // A mechanism at epsilon 2 claimed as 1 is caught nearly always.
  int caught = 0;
  for (int run = 0; run < 50; ++run) {
    caught += OneRunEpsilonLowerBound(1000, 1000, RightGuesses(1000, 2.0, rng), 0, 0.95) > 1.0;
  }
  std::printf("epsilon 2 claimed as 1 caught in %d of 50 runs\n", caught);
  EXPECT_GE(caught, 45);
}

}  // namespace
}  // namespace fedsyn::eval
