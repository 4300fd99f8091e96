// The paper's experiment, run at a site on its own records (issue #5): how much utility a
// target model keeps and how much membership it leaks when trained on
//   real     — the real members, no defence;
//   dpsgd    — the real members with DP-SGD at each epsilon;
//   paper    — fedsyn synthetic data from a VAE trained in the clear (arXiv 2202.05469's mode),
//              released at epsilon (the release's guarantee only: the decoder saw the members);
//   e2e      — fedsyn synthetic data from a DP-SGD VAE, epsilon split evenly between the model
//              and the release (an end-to-end guarantee of epsilon).
// The records are split (per seed) into members, non-members (same count), a test set and the
// attacker's own pool (twice the members: each shadow model trains on a random half of it).
// Attacks on each target: loss threshold, shadow models, LiRA offline; on the synthetic
// records: density ratio (DOMIAS-style) and distance to closest record. Only aggregate figures
// are written (JSON): no record, code or noise leaves the run.
//
// Randomness: splits, initialisation and shuffling are seeded (repeatable); DP-SGD noise and
// the release mechanism draw from the RandomSource the caller passes — the CLI passes the
// secure generator, so what is evaluated is exactly what ships.
#ifndef FEDSYN_SITE_AGENT_EVALUATE_H_
#define FEDSYN_SITE_AGENT_EVALUATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/eval/fidelity.h"
#include "common/eval/model_attacks.h"
#include "common/model/classifier.h"
#include "common/privacy/random.h"
#include "nlohmann/json.hpp"
#include "site_agent/pipeline.h"

namespace fedsyn::site {

// The four ways a target is trained (the header comment says what each means).
enum class EvaluationMethod { kReal, kDpSgd, kPaper, kE2e };
const char* EvaluationMethodName(EvaluationMethod method);  // real, dpsgd, paper, e2e
std::optional<EvaluationMethod> ParseEvaluationMethod(std::string_view name);

struct EvaluateRequest {
  std::string name = "dataset";
  // A table (one or more CSV files under one schema, pooled) or labelled IDX images.
  std::vector<std::string> input_csvs;
  std::string schema_path;
  std::string images_idx, labels_idx;
  int64_t max_images = 0;

  int64_t members = 500;  // non-members: as many; attacker pool: twice as many
  int64_t test = 1000;
  std::vector<uint64_t> seeds = {1, 2, 3};
  std::vector<double> epsilons = {1, 2, 4, 8};
  std::vector<EvaluationMethod> methods = {EvaluationMethod::kReal, EvaluationMethod::kDpSgd,
                                           EvaluationMethod::kPaper, EvaluationMethod::kE2e};
  double delta = 0;  // 0: min(1e-6, 1/(10 members)); >= 1/members is refused

  // Target and shadow models.
  model::ClassifierArchitecture target = model::ClassifierArchitecture::kMlp;
  std::vector<int> target_hidden = {64};
  model::ClassifierTrainOptions classifier;
  int shadow_models = 4;
  // DP-SGD (targets and the e2e VAE). Noisy gradients want a larger step than Adam's usual
  // 1e-3: with it the DP-SGD baseline would be handicapped.
  double dp_clip = 1.0;
  int dp_batch = 64;
  int dp_epochs = 20;
  double dp_learning_rate = 1e-2;
  // fedsyn.
  ModelOptions vae;
  int vae_epochs = 60;
  double clip_radius = 3.0;

  int bootstrap = 200;  // resamples for the confidence intervals
};

// Mean and sample standard deviation of one figure over the seeds.
struct SeedStat {
  double mean = 0, sd = 0;
  size_t n = 0;
  static SeedStat Of(const std::vector<double>& values);
  nlohmann::json ToJson() const;  // {"mean", "sd", "n"}
};

// One target: a method at one epsilon and one seed.
struct EvaluationRun {
  EvaluationMethod method = EvaluationMethod::kReal;
  std::optional<double> epsilon;  // none for the methods without one (real)
  std::string guarantee;          // what the method promises, in words
  uint64_t seed = 0;
  double accuracy = 0, auc = 0;  // the target on the test records
  // The synthetic-data methods (paper, e2e): the synthetic records against the members.
  std::optional<eval::Fidelity> fidelity;
  // On the target (loss_threshold, shadow_models, lira_offline), then for the synthetic-data
  // methods on the synthetic records (density_ratio, closest_record).
  std::vector<eval::NamedAttack> attacks;
  bool with_roc = false;  // the report carries ROC curves for the first seed only
  nlohmann::json ToJson() const;
};

// One attack's four figures over the seeds.
struct AttackSummary {
  SeedStat auc, balanced_accuracy, tpr_at_1pct_fpr, tpr_at_01pct_fpr;
  nlohmann::json ToJson() const;
};

// One method at one epsilon over the seeds: what `fedsyn-agent evaluate` prints.
struct MethodSummary {
  EvaluationMethod method = EvaluationMethod::kReal;
  std::optional<double> epsilon;  // none for the methods without one (real)
  SeedStat accuracy, auc;
  // The synthetic-data methods (paper, e2e): distance of the synthetic records to the real ones.
  std::optional<SeedStat> column_distance, correlation_difference;
  std::map<std::string, AttackSummary> attacks;  // by attack name
  // The attack with the highest mean AUC (the closest-record sanity check excepted).
  std::string strongest_attack;
  nlohmann::json ToJson() const;
};

// The evaluation: its settings, one run per seed x method x epsilon, and the summary over seeds.
struct EvaluationReport {
  nlohmann::json settings;
  std::vector<EvaluationRun> runs;
  double seconds = 0;
  std::vector<MethodSummary> summary;
  nlohmann::json ToJson() const;  // the report file (format fedsyn-evaluation, version 1)
};

absl::StatusOr<EvaluationReport> RunEvaluation(const EvaluateRequest& request,
                                               privacy::RandomSource& noise,
                                               base::ProgressSink& progress);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_EVALUATE_H_
