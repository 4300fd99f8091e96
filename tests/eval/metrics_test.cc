// Membership metrics, fidelity measures and the PCA behind the density attack, against cases
// worked by hand.
#include "common/eval/metrics.h"

#include <cmath>

#include "common/eval/attacks.h"
#include "common/eval/fidelity.h"
#include "gtest/gtest.h"

namespace fedsyn::eval {
namespace {

// members {0.9, 0.8, 0.4} against non-members {0.7, 0.3, 0.2}: of the 9 pairs the member wins
// 3 + 3 + 2 = 8.
const Scores kMembers = {0.9, 0.8, 0.4};
const Scores kNonmembers = {0.7, 0.3, 0.2};

TEST(Metrics, AucCountsWinsAndHalfTies) {
  EXPECT_DOUBLE_EQ(Auc(kMembers, kNonmembers), 8.0 / 9.0);
  EXPECT_DOUBLE_EQ(Auc(kNonmembers, kMembers), 1.0 / 9.0);
  EXPECT_DOUBLE_EQ(Auc({1, 1}, {1, 1}), 0.5);
  // {2, 1} vs {1, 0}: 2 beats both (2), 1 ties 1 (0.5) and beats 0 (1): 3.5 / 4.
  EXPECT_DOUBLE_EQ(Auc({2, 1}, {1, 0}), 3.5 / 4.0);
  EXPECT_DOUBLE_EQ(Auc({}, {1}), 0.5);
}

TEST(Metrics, RocTprAtFprAndBalancedAccuracy) {
  const std::vector<RocPoint> roc = RocCurve(kMembers, kNonmembers);
  // Thresholds 0.9, 0.8, 0.7, 0.4, 0.3, 0.2 after the origin.
  ASSERT_EQ(roc.size(), 7u);
  EXPECT_DOUBLE_EQ(roc[2].tpr, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(roc[2].fpr, 0.0);
  EXPECT_DOUBLE_EQ(roc[4].tpr, 1.0);
  EXPECT_DOUBLE_EQ(roc[4].fpr, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(roc.back().fpr, 1.0);
  EXPECT_DOUBLE_EQ(TprAtFpr(kMembers, kNonmembers, 0.0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(TprAtFpr(kMembers, kNonmembers, 0.01), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(TprAtFpr(kMembers, kNonmembers, 0.34), 1.0);
  // Threshold 0.5: TPR 2/3, TNR 2/3.
  EXPECT_DOUBLE_EQ(BalancedAccuracy(kMembers, kNonmembers, 0.5), 2.0 / 3.0);
  // Thresholds 0.8 (TPR 2/3, TNR 1) and 0.4 (TPR 1, TNR 2/3) both reach 5/6; ties go to the
  // higher threshold.
  EXPECT_DOUBLE_EQ(BestThreshold(kMembers, kNonmembers), 0.8);
  EXPECT_DOUBLE_EQ(BalancedAccuracy(kMembers, kNonmembers, 0.8), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(BalancedAccuracy(kMembers, kNonmembers, 0.4), 5.0 / 6.0);
  // A threshold above every score calls nobody a member: 0.5.
  EXPECT_DOUBLE_EQ(BalancedAccuracy(kMembers, kNonmembers, 10), 0.5);
}

TEST(Metrics, BootstrapIntervalsBracketTheEstimateAndNarrowWithData) {
  Scores small_m, small_n, large_m, large_n;
  for (int i = 0; i < 40; ++i) {
    small_m.push_back(std::sin(i * 1.7) + 0.3);
    small_n.push_back(std::sin(i * 2.3));
  }
  for (int i = 0; i < 1000; ++i) {
    large_m.push_back(std::sin(i * 1.7) + 0.3);
    large_n.push_back(std::sin(i * 2.3));
  }
  const Interval small = BootstrapInterval(small_m, small_n, Auc, 400, 0.95, 7);
  const Interval large = BootstrapInterval(large_m, large_n, Auc, 400, 0.95, 7);
  EXPECT_LE(small.low, small.estimate);
  EXPECT_GE(small.high, small.estimate);
  EXPECT_LT(large.high - large.low, (small.high - small.low) / 3) << "~1/sqrt(n) narrower";
  const Interval again = BootstrapInterval(small_m, small_n, Auc, 400, 0.95, 7);
  EXPECT_EQ(again.low, small.low) << "seeded: a report can be reproduced";
  const AttackMetrics m = EvaluateAttack(large_m, large_n, 0.0, 50, 1);
  EXPECT_DOUBLE_EQ(m.auc.estimate, Auc(large_m, large_n));
  EXPECT_EQ(m.roc.front().fpr, 0.0);
  EXPECT_EQ(m.roc.back().fpr, 1.0);
  EXPECT_LE(m.roc.size(), 260u);
}

TEST(Fidelity, KsCorrelationsAndTables) {
  EXPECT_DOUBLE_EQ(KsStatistic({1, 2, 3, 4}, {1, 2, 3, 4}), 0.0);
  EXPECT_DOUBLE_EQ(KsStatistic({1, 2}, {3, 4}), 1.0);
  // {1,2,3,4} vs {3,4,5,6}: at 2 the CDFs are 0.5 and 0.
  EXPECT_DOUBLE_EQ(KsStatistic({1, 2, 3, 4}, {3, 4, 5, 6}), 0.5);
  data::Matrix a(4, 2), b(4, 2);
  a.values = {0, 0, 1, 1, 2, 2, 3, 3};  // corr +1
  b.values = {0, 3, 1, 2, 2, 1, 3, 0};  // corr -1
  EXPECT_DOUBLE_EQ(CorrelationDifference(a, a), 0.0);
  EXPECT_DOUBLE_EQ(CorrelationDifference(a, b), 2.0);
  const Fidelity same = CompareMatrices(a, a);
  EXPECT_DOUBLE_EQ(same.mean_column_distance, 0.0);
}

TEST(Attacks, PrincipalComponentsFindTheDirectionOfVariance) {
  // Points along (3, 4) / 5 plus a little orthogonal spread.
  data::Matrix m(200, 2);
  for (int i = 0; i < 200; ++i) {
    const double t = (i - 100) / 10.0, s = (i % 2 ? 0.05 : -0.05);
    m.Row(i)[0] = static_cast<float>(0.6 * t - 0.8 * s + 1);
    m.Row(i)[1] = static_cast<float>(0.8 * t + 0.6 * s - 2);
  }
  const Projection p = PrincipalComponents(m, 2);
  ASSERT_EQ(p.components.size(), 2u);
  EXPECT_NEAR(std::abs(p.components[0][0]), 0.6, 1e-4);
  EXPECT_NEAR(std::abs(p.components[0][1]), 0.8, 1e-4);
  EXPECT_NEAR(
      std::abs(p.components[0][0] * p.components[1][0] + p.components[0][1] * p.components[1][1]),
      0.0, 1e-6)
      << "orthogonal";
}

TEST(Attacks, LossAndLiraScoresFollowTheTrueLabelsConfidence) {
  ModelOutputs target;
  target.log_probabilities = data::Matrix(4, 2);
  // p(label 0) = 0.9, 0.5, 0.2, and 1 - e^-40 (1 in float; its log rounds to 0).
  target.log_probabilities.values = {std::log(0.9f), std::log(0.1f), std::log(0.5f), std::log(0.5f),
                                     std::log(0.2f), std::log(0.8f), 0.0f,           -40.0f};
  target.labels = {0, 0, 0, 0};
  const Scores loss = LossScores(target);
  EXPECT_GT(loss[0], loss[1]);
  EXPECT_GT(loss[1], loss[2]);
  EXPECT_NEAR(loss[0], std::log(0.9), 1e-6);
  EXPECT_GT(loss[3], loss[0]);
  EXPECT_NEAR(loss[3], -std::exp(-40.0), 1e-25) << "resolved beyond float's log p";
  // References that all say 0.5: the target's logit confidence over their (floored) spread.
  ModelOutputs reference = target;
  for (float& v : reference.log_probabilities.values) v = std::log(0.5f);
  const Scores lira = LiraOfflineScores(target, {reference, reference});
  EXPECT_GT(lira[0], 0);
  EXPECT_EQ(lira[1], 0);
  EXPECT_LT(lira[2], 0);
  EXPECT_GT(lira[3], lira[0]);
  // A reference that saw every candidate is ignored: no OUT reference, score 0.
  const Scores none = LiraOfflineScores(target, {reference}, {{true, true, true, true}});
  EXPECT_EQ(none, Scores({0, 0, 0, 0}));
}

}  // namespace
}  // namespace fedsyn::eval
