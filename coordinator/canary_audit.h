// Canary audits (issue #6; DESIGN.md §5): the coordinator makes canary records from the
// federation schema, a site includes each one in its input with probability 1/2 (committing to
// its choices by hash before releasing, revealing them after), and the coordinator tries to tell
// included from excluded canaries using only what it received. How well it can bounds epsilon
// from below (common/eval/empirical_epsilon.h); a bound above the site's claim is a bug in the
// site's mechanism or accounting.
//
// This file holds the coordinator's side that needs no network: making canaries, scoring them
// against released rows, and turning scores and revealed bits into the audit's verdict. What both
// sides must agree on (ids, commitments, bits, positions, the reveal check) is the protocol's,
// common/audit/canary_protocol.h.
#ifndef FEDSYN_COORDINATOR_CANARY_AUDIT_H_
#define FEDSYN_COORDINATOR_CANARY_AUDIT_H_

#include <string>
#include <vector>

#include "common/audit/canary_protocol.h"
#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/eval/metrics.h"
#include "common/privacy/metric_mechanism.h"

namespace fedsyn::coordinator {

// Membership scores of each canary (higher: more likely included), from released rows only.
struct CanaryScores {
  // Minus the distance from the canary to its nearest released row (model space).
  eval::Scores nearest_row;
  // log density of the released rows at the canary minus log density of `reference` rows
  // (other sites' releases of the dataset; without enough of them, a constant).
  eval::Scores density_ratio;
};
CanaryScores ScoreCanaries(const data::Table& canaries, const data::Table& released,
                           const data::Table& reference, const data::Schema& schema);
// Codes mode: the same two scores in the latent space, between the canaries' codes under the
// published encoder and the released noised codes (other sites' codes live in other latent
// spaces, so the density ratio has no reference here).
CanaryScores ScoreCanaryCodes(const data::Matrix& canary_codes, const data::Matrix& released_codes);

// Codes mode: are the revealed canaries in the released codes? The code at pair j's revealed
// position minus the stated mechanism's centre of its included canary's code (the published
// encoder's mean) is exactly the rounded noise, whose norm follows the mechanism's law
// (MetricMechanism::NoiseNormCdf, Gamma(k, 1/eps_d)). A one-sample Kolmogorov-Smirnov test of
// the m norms against that law at alpha = 1e-6 (DKW critical value): an honest release fails
// it with probability below 1e-6 (plus the grid rounding's negligible shift). Codes at those
// positions that do not come from the canaries (canaries left out of the release), or noise from
// another mechanism than the one stated, fail it when the difference shows in m norms — with
// little power when eps_d is small (the noise then dwarfs the distance between codes).
// `positions` are the revealed rows, ascending: the j-th holds pair j's included canary.
inline constexpr double kPresenceTestAlpha = 1e-6;
struct PresenceTest {
  int pairs = 0;
  double ks_statistic = 0;
  double critical_value = 0;
  bool passed = true;
};
absl::StatusOr<PresenceTest> TestCanaryPresence(const privacy::MetricMechanism& mechanism,
                                                const data::Matrix& canary_codes,
                                                const data::Matrix& released_codes,
                                                const std::vector<int64_t>& positions,
                                                const audit::InclusionBits& bits);

// One way of turning scores into a bound: "one-run" (Steinke et al. 2023; guess "in" for the k
// highest and "out" for the k lowest scores, abstain on the rest) or "threshold" (Jagielski et
// al. 2020; call the k highest included).
struct EpsilonEstimate {
  std::string score;   // "nearest_row" | "density_ratio"
  std::string method;  // "one-run" | "threshold"
  int k = 0;
  double lower_bound = 0;
};

struct CanaryVerdict {
  double claimed_epsilon = 0;
  double delta = 0;
  double confidence = 0.95;
  int canaries = 0;
  int included = 0;
  // The largest of the estimates; each estimate is taken at a Bonferroni-corrected confidence,
  // so the maximum holds at `confidence`.
  double empirical_lower_bound = 0;
  std::vector<EpsilonEstimate> estimates;
  eval::AttackMetrics nearest_row, density_ratio;  // with the revealed bits as ground truth
  bool exceeds_claim = false;
};
// `scores` has one entry per issued canary (2m), `bits` one per pair (m). The one-run estimates
// guess each pair's bit from which of its two canaries scores higher, on the k pairs with the
// largest score difference (a replace-one experiment per pair: the proven bound). The threshold
// estimates call the k highest-scoring canaries included (a heuristic next to it, see
// docs/audits.md).
CanaryVerdict JudgeCanaries(const CanaryScores& scores, const audit::InclusionBits& bits,
                            double claimed_epsilon, double delta, double confidence = 0.95);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_CANARY_AUDIT_H_
