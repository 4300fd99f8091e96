// Membership-inference metrics (issue #5). An attack gives every candidate record a score,
// higher meaning "more likely a member"; the metrics compare the scores of true members with
// those of true non-members.
//
//  - AUC: P(member score > non-member score) + P(tie) / 2 (Mann-Whitney), threshold-free.
//  - TPR at FPR f: the largest true-positive rate of any threshold "score >= t" whose
//    false-positive rate is at most f (Carlini et al. 2022: leakage of the most exposed records).
//  - Balanced accuracy at a threshold: (TPR + TNR) / 2, the paper's "attack accuracy" on balanced
//    member / non-member sets. The threshold must come from the attacker's own data (shadow
//    models); choosing it on the evaluation scores would overstate the attack.
//  - Confidence intervals by the percentile bootstrap, resampling members and non-members
//    separately.
#ifndef FEDSYN_COMMON_EVAL_METRICS_H_
#define FEDSYN_COMMON_EVAL_METRICS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fedsyn::eval {

using Scores = std::vector<double>;

struct RocPoint {
  double fpr = 0;
  double tpr = 0;
};

double Auc(const Scores& members, const Scores& nonmembers);
// Every distinct threshold, from (0, 0) to (1, 1).
std::vector<RocPoint> RocCurve(const Scores& members, const Scores& nonmembers);
double TprAtFpr(const Scores& members, const Scores& nonmembers, double max_fpr);
// Predicts "member" for score >= threshold.
double BalancedAccuracy(const Scores& members, const Scores& nonmembers, double threshold);
// The threshold with the best balanced accuracy on these scores (for calibrating on shadow
// data); ties go to the highest threshold.
double BestThreshold(const Scores& members, const Scores& nonmembers);

// The median of the scores (0 if none): the threshold of an attacker that knows half the
// candidates are members but has nothing to calibrate on.
double MedianScore(Scores scores);

struct Interval {
  double estimate = 0;
  double low = 0;
  double high = 0;
};

using Statistic = std::function<double(const Scores& members, const Scores& nonmembers)>;
// Percentile bootstrap at `level` (e.g. 0.95) with `resamples` resamples. The resampling
// generator is seeded for repeatable reports; it is not privacy noise.
Interval BootstrapInterval(const Scores& members, const Scores& nonmembers,
                           const Statistic& statistic, int resamples, double level, uint64_t seed);

struct AttackMetrics {
  Interval auc;
  Interval balanced_accuracy;
  Interval tpr_at_1pct_fpr;
  Interval tpr_at_01pct_fpr;
  std::vector<RocPoint> roc;  // thinned to at most ~200 points for plots
};
// An attack's metrics under the name the reports use (e.g. loss_threshold, density_ratio).
struct NamedAttack {
  std::string name;
  AttackMetrics metrics;
};

AttackMetrics EvaluateAttack(const Scores& members, const Scores& nonmembers, double threshold,
                             int resamples, uint64_t seed);

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_METRICS_H_
