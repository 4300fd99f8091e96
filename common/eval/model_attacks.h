// The membership-inference suite against a trained classifier, shared by the site's evaluation
// (site_agent/evaluate.cc: a target trained on members, attacked with members and non-members)
// and the coordinator's downstream audit (coordinator/audit_runner.cc: a target trained on the
// pooled synthetic data, attacked with the included and excluded canaries). Both follow the
// same recipe:
//  1. the attacker trains reference models, each on a random half of its own pool of records
//     (which holds none of the candidates), and records their outputs on the candidates;
//  2. a target's outputs on the candidates are scored by three attacks (common/eval/attacks.h):
//     loss threshold, shadow models (the references as shadows: their half IN, the other OUT)
//     and LiRA offline (the references are OUT models for every candidate);
//  3. each attack's scores become metrics at a decision threshold (ThresholdRule).
// Torch-free: models come in as a training function, so the layer below LibTorch holds it.
#ifndef FEDSYN_COMMON_EVAL_MODEL_ATTACKS_H_
#define FEDSYN_COMMON_EVAL_MODEL_ATTACKS_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/eval/attacks.h"
#include "common/eval/logistic_regression.h"
#include "common/eval/metrics.h"

namespace fedsyn::eval {

// A trained classifier as the attacks see it: log-probabilities (rows x classes) of features.
using Predictor = std::function<data::Matrix(const data::Matrix& features)>;
// Trains a classifier of the target's architecture on `train`, initialised from `seed`.
using Trainer = std::function<absl::StatusOr<Predictor>(const LabelledData& train, uint64_t seed)>;

// Where each attack puts its decision threshold (the metrics' balanced accuracy and the
// operating point; AUC and TPR at low FPR do not depend on it).
enum class ThresholdRule {
  // Calibrated on the reference models, each playing the target in turn: the attacker knows
  // nothing of the candidates' membership rate (the evaluation).
  kCalibrated,
  // The candidates' median score: the attacker knows about half of them are members (canaries
  // included by a fair coin, the audit).
  kMedian,
};

class ModelAttackSuite {
 public:
  // Trains `reference_models` (>= 2) models on random halves of `pool` and records their
  // outputs on `candidates`. `pool` must not hold any candidate: LiRA treats every reference as
  // an OUT model. `gen` draws the halves and the models' seeds (experiment design, not noise).
  static absl::StatusOr<ModelAttackSuite> Prepare(const LabelledData& pool,
                                                  const LabelledData& candidates,
                                                  int reference_models, const Trainer& train,
                                                  std::mt19937_64& gen);

  // The three attacks on a target whose outputs on the candidates are `target_log_probabilities`
  // (the candidates' order); `is_member` flags the candidates the target was trained on.
  // InvalidArgument when the sizes differ or either side is empty.
  absl::StatusOr<std::vector<NamedAttack>> Attack(const data::Matrix& target_log_probabilities,
                                                  const std::vector<bool>& is_member,
                                                  ThresholdRule rule, int bootstrap,
                                                  uint64_t seed) const;

 private:
  std::vector<int> candidate_labels_;
  std::vector<ModelOutputs> references_on_candidates_;
  ShadowAttack shadow_attack_;
  // Calibrated thresholds (ThresholdRule::kCalibrated); the shadow attack carries its own.
  double loss_threshold_ = 0, lira_threshold_ = 0;
};

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_MODEL_ATTACKS_H_
