#include "coordinator/canary_audit.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/audit/canary_protocol.h"
#include "common/data/transformer.h"
#include "common/eval/attacks.h"
#include "common/eval/empirical_epsilon.h"

namespace fedsyn::coordinator {
namespace {

// Below this many reference rows a density estimate is noise; the ratio's denominator is then
// left out (a constant: it does not change the ranking).
constexpr int64_t kMinReferenceRows = 50;

std::vector<int> Ks(int m) {
  std::vector<int> ks;
  for (int k : {m / 10, m / 4, m / 2, m}) {
    if (k >= 1 && (ks.empty() || ks.back() != k)) ks.push_back(k);
  }
  return ks;
}

}  // namespace

CanaryScores ScoreCanaries(const data::Table& canaries, const data::Table& released,
                           const data::Table& reference, const data::Schema& schema) {
  CanaryScores scores;
  auto transformer = data::Transformer::FromSchema(schema);
  if (!transformer.ok() || released.rows.empty()) {
    scores.nearest_row.assign(canaries.rows.size(), 0.0);
    scores.density_ratio.assign(canaries.rows.size(), 0.0);
    return scores;
  }
  const data::Matrix c = transformer->Encode(canaries);
  const data::Matrix r = transformer->Encode(released);
  scores.nearest_row = eval::ClosestRecordScores(c, r);
  const data::Matrix ref = reference.num_rows() >= kMinReferenceRows
                               ? transformer->Encode(reference)
                               : data::Matrix(0, r.cols);
  scores.density_ratio = eval::DensityRatioScores(c, r, ref);
  return scores;
}

CanaryScores ScoreCanaryCodes(const data::Matrix& canary_codes,
                              const data::Matrix& released_codes) {
  CanaryScores scores;
  if (released_codes.rows == 0) {
    scores.nearest_row.assign(static_cast<size_t>(canary_codes.rows), 0.0);
    scores.density_ratio.assign(static_cast<size_t>(canary_codes.rows), 0.0);
    return scores;
  }
  scores.nearest_row = eval::ClosestRecordScores(canary_codes, released_codes);
  scores.density_ratio =
      eval::DensityRatioScores(canary_codes, released_codes, data::Matrix(0, released_codes.cols),
                               static_cast<int>(std::min<int64_t>(10, released_codes.cols)));
  return scores;
}

absl::StatusOr<PresenceTest> TestCanaryPresence(const privacy::MetricMechanism& mechanism,
                                                const data::Matrix& canary_codes,
                                                const data::Matrix& released_codes,
                                                const std::vector<int64_t>& positions,
                                                const audit::InclusionBits& bits) {
  const auto m = static_cast<int64_t>(bits.size());
  if (static_cast<int64_t>(positions.size()) != m || canary_codes.rows != 2 * m ||
      canary_codes.cols != mechanism.params().dimension ||
      released_codes.cols != canary_codes.cols) {
    return absl::InvalidArgumentError(
        "the presence test needs one position and two canary "
        "codes per pair, in the mechanism's dimension");
  }
  std::vector<double> norms;
  for (int64_t j = 0; j < m; ++j) {
    const int64_t row = positions[static_cast<size_t>(j)];
    if (row < 0 || row >= released_codes.rows)
      return absl::InvalidArgumentError("a revealed position lies outside the release");
    const int64_t canary = audit::IncludedCanaryIndex(j, bits[static_cast<size_t>(j)]);
    const float* code = canary_codes.Row(canary);
    ASSIGN_OR_RETURN(const std::vector<double> center,
                     mechanism.Center(std::vector<double>(code, code + canary_codes.cols)));
    std::vector<double> residual(center.size());
    const float* released = released_codes.Row(row);
    for (size_t c = 0; c < center.size(); ++c) residual[c] = released[c] - center[c];
    norms.push_back(mechanism.Norm(residual));
  }
  PresenceTest test;
  test.pairs = static_cast<int>(m);
  if (m == 0) return test;
  std::sort(norms.begin(), norms.end());
  for (size_t i = 0; i < norms.size(); ++i) {
    const double f = mechanism.NoiseNormCdf(norms[i]);
    test.ks_statistic =
        std::max({test.ks_statistic, (i + 1.0) / m - f, f - static_cast<double>(i) / m});
  }
  test.critical_value =
      std::sqrt(std::log(2.0 / kPresenceTestAlpha) / (2.0 * static_cast<double>(m)));
  test.passed = test.ks_statistic <= test.critical_value;
  return test;
}

CanaryVerdict JudgeCanaries(const CanaryScores& scores, const audit::InclusionBits& bits,
                            double claimed_epsilon, double delta, double confidence) {
  CanaryVerdict v;
  v.claimed_epsilon = claimed_epsilon;
  v.delta = delta;
  v.confidence = confidence;
  const int m = static_cast<int>(bits.size());  // pairs
  v.canaries = 2 * m;
  v.included = m;
  const std::vector<int> ks = Ks(m);
  const std::vector<std::pair<std::string, const eval::Scores*>> all = {
      {"nearest_row", &scores.nearest_row}, {"density_ratio", &scores.density_ratio}};
  // Bonferroni over every estimate, so that their maximum holds at `confidence`.
  const double each =
      1 - (1 - confidence) / static_cast<double>(std::max<size_t>(1, 2 * ks.size() * all.size()));
  if (scores.nearest_row.size() != static_cast<size_t>(2 * m) ||
      scores.density_ratio.size() != static_cast<size_t>(2 * m)) {
    return v;  // nothing to judge: no estimate, a bound of 0
  }
  for (const auto& [name, s] : all) {
    const std::vector<bool> included = audit::IncludedCanaryFlags(bits);
    eval::Scores in, out;
    for (int i = 0; i < 2 * m; ++i)
      (included[static_cast<size_t>(i)] ? in : out).push_back((*s)[static_cast<size_t>(i)]);
    // One-run: pairs by decreasing |score difference|, guessing the higher-scoring canary.
    std::vector<int> pairs(static_cast<size_t>(m));
    std::iota(pairs.begin(), pairs.end(), 0);
    auto difference = [s](int j) {
      return (*s)[static_cast<size_t>(2 * j + 1)] - (*s)[static_cast<size_t>(2 * j)];
    };
    std::stable_sort(pairs.begin(), pairs.end(), [&](int a, int b) {
      return std::fabs(difference(a)) > std::fabs(difference(b));
    });
    // Threshold: canaries by decreasing score.
    std::vector<int> order(static_cast<size_t>(2 * m));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [s](int a, int b) {
      return (*s)[static_cast<size_t>(a)] > (*s)[static_cast<size_t>(b)];
    });
    for (int k : ks) {
      int64_t right = 0;
      for (int t = 0; t < k; ++t) {
        const int j = pairs[static_cast<size_t>(t)];
        const bool guess = difference(j) > 0;  // the pair's second canary
        right += bits[static_cast<size_t>(j)] == guess;
      }
      v.estimates.push_back(
          {name, "one-run", k, eval::OneRunEpsilonLowerBound(m, k, right, delta, each)});
      int64_t false_positives = 0;
      for (int t = 0; t < k; ++t)
        false_positives += !included[static_cast<size_t>(order[static_cast<size_t>(t)])];
      const int64_t true_positives = k - false_positives;
      v.estimates.push_back(
          {name, "threshold", k,
           eval::ThresholdEpsilonLowerBound(false_positives, static_cast<int64_t>(out.size()),
                                            static_cast<int64_t>(in.size()) - true_positives,
                                            static_cast<int64_t>(in.size()), delta, each)});
    }
    const eval::AttackMetrics metrics =
        eval::EvaluateAttack(in, out, eval::MedianScore(*s), 200, 1);
    (name == "nearest_row" ? v.nearest_row : v.density_ratio) = metrics;
  }
  for (const EpsilonEstimate& e : v.estimates)
    v.empirical_lower_bound = std::max(v.empirical_lower_bound, e.lower_bound);
  v.exceeds_claim = v.empirical_lower_bound > claimed_epsilon;
  return v;
}

}  // namespace fedsyn::coordinator
