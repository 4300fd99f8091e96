// Membership-inference attacks (issue #5; DESIGN.md §5). Each returns one score per candidate
// record, higher meaning "more likely a member"; common/eval/metrics.h turns scores into AUC,
// balanced accuracy and TPR at low FPR.
//
// Attacks on a classifier see only its output probabilities on labelled candidates:
//  - loss threshold (Yeom et al. 2018): members tend to have lower loss; score = -loss
//    = log p(true label).
//  - shadow models (Shokri et al. 2017): the attacker trains shadow models on its own data (in)
//    and holds out the rest (out), then learns in-vs-out from the shadows' confidence features.
//  - LiRA, offline variant (Carlini et al. 2022): reference models trained without the
//    candidates give the distribution of the logit-scaled confidence phi = log(p / (1 - p)) of
//    the true label; the score is how far the target's phi lies above it, in (global) standard
//    deviations.
// Attacks on released synthetic records themselves:
//  - density ratio in the style of DOMIAS (van Breugel et al. 2023): log p_synthetic(x) -
//    log p_reference(x), with Gaussian kernel density estimates in a principal-component space of
//    the attacker's reference data (real records of the same population, not the members).
//  - distance to the closest synthetic record: a sanity check only, not a privacy test.
#ifndef FEDSYN_COMMON_EVAL_ATTACKS_H_
#define FEDSYN_COMMON_EVAL_ATTACKS_H_

#include <vector>

#include "common/data/table.h"
#include "common/eval/logistic_regression.h"
#include "common/eval/metrics.h"

namespace fedsyn::eval {

// A classifier's output on labelled records.
struct ModelOutputs {
  data::Matrix log_probabilities;  // rows x classes
  std::vector<int> labels;
};

Scores LossScores(const ModelOutputs& outputs);

// `reference[k]` is reference model k's output on the same candidates. `reference_saw[k][i]`
// (optional) marks candidates model k was trained on; those are skipped, so the references of
// every candidate are OUT models (candidates without any score 0).
Scores LiraOfflineScores(const ModelOutputs& target, const std::vector<ModelOutputs>& reference,
                         const std::vector<std::vector<bool>>& reference_saw = {});

class ShadowAttack {
 public:
  struct Shadow {
    ModelOutputs in;   // the shadow model on its own training records
    ModelOutputs out;  // the shadow model on records it did not see
  };
  static ShadowAttack Fit(const std::vector<Shadow>& shadows);
  Scores Score(const ModelOutputs& outputs) const;
  // The decision threshold the attacker calibrates on its shadows (balanced accuracy).
  double threshold() const { return threshold_; }

 private:
  LogisticRegression classifier_;
  std::vector<double> mean_, scale_;  // feature standardisation fitted on the shadows
  double threshold_ = 0.5;
};

// Principal components of `reference` (rows x d), by power iteration with deflation.
struct Projection {
  std::vector<double> mean;                     // d
  std::vector<std::vector<double>> components;  // each of size d
  data::Matrix Apply(const data::Matrix& m) const;
};
Projection PrincipalComponents(const data::Matrix& reference, int components);

// An empty `reference` leaves the denominator out (the principal components then come from the
// synthetic records): the score is the synthetic records' log density alone.
Scores DensityRatioScores(const data::Matrix& candidates, const data::Matrix& synthetic,
                          const data::Matrix& reference, int components = 10);
Scores ClosestRecordScores(const data::Matrix& candidates, const data::Matrix& synthetic);

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_ATTACKS_H_
