#include "common/eval/model_attacks.h"

#include <algorithm>
#include <numeric>

namespace fedsyn::eval {
namespace {

LabelledData Rows(const LabelledData& data, const std::vector<int64_t>& rows) {
  LabelledData subset;
  subset.num_classes = data.num_classes;
  subset.features = data.features.SelectRows(rows);
  for (const int64_t row : rows) subset.labels.push_back(data.labels[static_cast<size_t>(row)]);
  return subset;
}

ModelOutputs Outputs(const Predictor& model, const LabelledData& data) {
  return {model(data.features), data.labels};
}

void Append(Scores& to, const Scores& from) { to.insert(to.end(), from.begin(), from.end()); }

}  // namespace

absl::StatusOr<ModelAttackSuite> ModelAttackSuite::Prepare(const LabelledData& pool,
                                                           const LabelledData& candidates,
                                                           int reference_models,
                                                           const Trainer& train,
                                                           std::mt19937_64& gen) {
  if (reference_models < 2)
    return absl::InvalidArgumentError("the attacks need at least two reference models");
  const int64_t size = pool.features.rows;
  if (size < 4 || static_cast<int64_t>(pool.labels.size()) != size)
    return absl::InvalidArgumentError("the attacker's pool needs at least four labelled records");
  ModelAttackSuite suite;
  suite.candidate_labels_ = candidates.labels;
  std::vector<ShadowAttack::Shadow> shadows;
  std::vector<ModelOutputs> on_pool;
  std::vector<std::vector<bool>> trained_on;  // per reference: which pool records it saw
  Scores loss_in, loss_out;
  for (int k = 0; k < reference_models; ++k) {
    std::vector<int64_t> order(static_cast<size_t>(size));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), gen);
    const std::vector<int64_t> in(order.begin(), order.begin() + size / 2);
    const std::vector<int64_t> out(order.begin() + size / 2, order.end());
    const LabelledData in_data = Rows(pool, in);
    ASSIGN_OR_RETURN(const Predictor model, train(in_data, gen()));
    shadows.push_back({Outputs(model, in_data), Outputs(model, Rows(pool, out))});
    Append(loss_in, LossScores(shadows.back().in));
    Append(loss_out, LossScores(shadows.back().out));
    on_pool.push_back(Outputs(model, pool));
    std::vector<bool> saw(static_cast<size_t>(size), false);
    for (const int64_t i : in) saw[static_cast<size_t>(i)] = true;
    trained_on.push_back(std::move(saw));
    suite.references_on_candidates_.push_back(Outputs(model, candidates));
  }
  suite.shadow_attack_ = ShadowAttack::Fit(shadows);
  suite.loss_threshold_ = BestThreshold(loss_in, loss_out);
  // LiRA's calibrated threshold: each reference in turn plays the target, the others are its
  // references (those that saw a record are skipped for it).
  Scores lira_in, lira_out;
  for (size_t s = 0; s < on_pool.size(); ++s) {
    std::vector<ModelOutputs> others;
    std::vector<std::vector<bool>> others_saw;
    for (size_t o = 0; o < on_pool.size(); ++o) {
      if (o == s) continue;
      others.push_back(on_pool[o]);
      others_saw.push_back(trained_on[o]);
    }
    const Scores z = LiraOfflineScores(on_pool[s], others, others_saw);
    for (size_t i = 0; i < z.size(); ++i) (trained_on[s][i] ? lira_in : lira_out).push_back(z[i]);
  }
  suite.lira_threshold_ = BestThreshold(lira_in, lira_out);
  return suite;
}

absl::StatusOr<std::vector<NamedAttack>> ModelAttackSuite::Attack(
    const data::Matrix& target_log_probabilities, const std::vector<bool>& is_member,
    ThresholdRule rule, int bootstrap, uint64_t seed) const {
  const size_t n = candidate_labels_.size();
  if (static_cast<size_t>(target_log_probabilities.rows) != n || is_member.size() != n) {
    return absl::InvalidArgumentError(
        "the target's outputs and the membership flags must cover every candidate");
  }
  const auto members = static_cast<size_t>(std::count(is_member.begin(), is_member.end(), true));
  if (members == 0 || members == n)
    return absl::InvalidArgumentError("the attacks need both members and non-members");
  const ModelOutputs target{target_log_probabilities, candidate_labels_};
  struct Scored {
    const char* name;
    Scores scores;
    double calibrated_threshold;
  };
  const Scored scored[] = {
      {"loss_threshold", LossScores(target), loss_threshold_},
      {"shadow_models", shadow_attack_.Score(target), shadow_attack_.threshold()},
      {"lira_offline", LiraOfflineScores(target, references_on_candidates_), lira_threshold_}};
  std::vector<NamedAttack> attacks;
  for (const Scored& s : scored) {
    Scores in, out;
    for (size_t i = 0; i < n; ++i) (is_member[i] ? in : out).push_back(s.scores[i]);
    const double threshold =
        rule == ThresholdRule::kCalibrated ? s.calibrated_threshold : MedianScore(s.scores);
    attacks.push_back({s.name, EvaluateAttack(in, out, threshold, bootstrap, seed)});
  }
  return attacks;
}

}  // namespace fedsyn::eval
