// The JSON form of membership-inference metrics, shared by every report that carries them
// (the evaluation's, the coordinator's audits): {"estimate", "low", "high"} intervals and
// optionally the ROC curve as [fpr, tpr] pairs.
#ifndef FEDSYN_COMMON_EVAL_METRICS_JSON_H_
#define FEDSYN_COMMON_EVAL_METRICS_JSON_H_

#include "common/eval/metrics.h"
#include "nlohmann/json.hpp"

namespace fedsyn::eval {

inline nlohmann::json IntervalJson(const Interval& i) {
  return {{"estimate", i.estimate}, {"low", i.low}, {"high", i.high}};
}

inline nlohmann::json AttackJson(const AttackMetrics& m, bool with_roc) {
  nlohmann::json j = {{"auc", IntervalJson(m.auc)},
                      {"balanced_accuracy", IntervalJson(m.balanced_accuracy)},
                      {"tpr_at_1pct_fpr", IntervalJson(m.tpr_at_1pct_fpr)},
                      {"tpr_at_01pct_fpr", IntervalJson(m.tpr_at_01pct_fpr)}};
  if (with_roc) {
    nlohmann::json roc = nlohmann::json::array();
    for (const RocPoint& p : m.roc) roc.push_back({p.fpr, p.tpr});
    j["roc"] = roc;
  }
  return j;
}

// {name: AttackJson(metrics)} for each attack, in one object.
inline nlohmann::json NamedAttacksJson(const std::vector<NamedAttack>& attacks, bool with_roc) {
  nlohmann::json j = nlohmann::json::object();
  for (const NamedAttack& a : attacks) j[a.name] = AttackJson(a.metrics, with_roc);
  return j;
}

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_METRICS_JSON_H_
