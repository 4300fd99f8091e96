#include "common/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

namespace fedsyn::eval {
namespace {

// (score, is_member) sorted by descending score.
std::vector<std::pair<double, bool>> Ranked(const Scores& members, const Scores& nonmembers) {
  std::vector<std::pair<double, bool>> all;
  all.reserve(members.size() + nonmembers.size());
  for (double s : members) all.emplace_back(s, true);
  for (double s : nonmembers) all.emplace_back(s, false);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return all;
}

}  // namespace

double Auc(const Scores& members, const Scores& nonmembers) {
  if (members.empty() || nonmembers.empty()) return 0.5;
  const auto ranked = Ranked(members, nonmembers);
  // Walk groups of tied scores from the top: each member in a group beats every non-member
  // below the group and ties with the group's non-members.
  double wins = 0;
  size_t i = 0;
  double nonmembers_below = static_cast<double>(nonmembers.size());
  while (i < ranked.size()) {
    size_t j = i;
    double group_members = 0, group_nonmembers = 0;
    while (j < ranked.size() && ranked[j].first == ranked[i].first) {
      (ranked[j].second ? group_members : group_nonmembers) += 1;
      ++j;
    }
    nonmembers_below -= group_nonmembers;
    wins += group_members * (nonmembers_below + 0.5 * group_nonmembers);
    i = j;
  }
  return wins / (static_cast<double>(members.size()) * static_cast<double>(nonmembers.size()));
}

std::vector<RocPoint> RocCurve(const Scores& members, const Scores& nonmembers) {
  std::vector<RocPoint> curve = {{0, 0}};
  if (members.empty() || nonmembers.empty()) {
    curve.push_back({1, 1});
    return curve;
  }
  const auto ranked = Ranked(members, nonmembers);
  double tp = 0, fp = 0;
  for (size_t i = 0; i < ranked.size(); ++i) {
    (ranked[i].second ? tp : fp) += 1;
    if (i + 1 == ranked.size() || ranked[i + 1].first != ranked[i].first) {
      curve.push_back(
          {fp / static_cast<double>(nonmembers.size()), tp / static_cast<double>(members.size())});
    }
  }
  return curve;
}

double TprAtFpr(const Scores& members, const Scores& nonmembers, double max_fpr) {
  double best = 0;
  for (const RocPoint& p : RocCurve(members, nonmembers)) {
    if (p.fpr <= max_fpr + 1e-12) best = std::max(best, p.tpr);
  }
  return best;
}

double BalancedAccuracy(const Scores& members, const Scores& nonmembers, double threshold) {
  if (members.empty() || nonmembers.empty()) return 0.5;
  const double tp = static_cast<double>(
      std::count_if(members.begin(), members.end(), [&](double s) { return s >= threshold; }));
  const double tn = static_cast<double>(
      std::count_if(nonmembers.begin(), nonmembers.end(), [&](double s) { return s < threshold; }));
  return 0.5 *
         (tp / static_cast<double>(members.size()) + tn / static_cast<double>(nonmembers.size()));
}

double BestThreshold(const Scores& members, const Scores& nonmembers) {
  const auto ranked = Ranked(members, nonmembers);
  double best_threshold = ranked.empty() ? 0.0 : ranked.front().first + 1;  // "nobody is a member"
  double best = 0.5;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (i + 1 < ranked.size() && ranked[i + 1].first == ranked[i].first) continue;
    const double accuracy = BalancedAccuracy(members, nonmembers, ranked[i].first);
    if (accuracy > best) {
      best = accuracy;
      best_threshold = ranked[i].first;
    }
  }
  return best_threshold;
}

double MedianScore(Scores scores) {
  if (scores.empty()) return 0;
  const auto middle = scores.begin() + static_cast<int64_t>(scores.size() / 2);
  std::nth_element(scores.begin(), middle, scores.end());
  return *middle;
}

Interval BootstrapInterval(const Scores& members, const Scores& nonmembers,
                           const Statistic& statistic, int resamples, double level, uint64_t seed) {
  Interval interval;
  interval.estimate = statistic(members, nonmembers);
  if (resamples < 2 || members.empty() || nonmembers.empty()) {
    interval.low = interval.high = interval.estimate;
    return interval;
  }
  std::mt19937_64 generator(seed);
  auto resample = [&generator](const Scores& from) {
    std::uniform_int_distribution<size_t> pick(0, from.size() - 1);
    Scores out(from.size());
    for (double& s : out) s = from[pick(generator)];
    return out;
  };
  std::vector<double> values;
  values.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r)
    values.push_back(statistic(resample(members), resample(nonmembers)));
  std::sort(values.begin(), values.end());
  auto quantile = [&values](double q) {
    const double position = q * static_cast<double>(values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(values.size() - 1, below + 1);
    return values[below] +
           (position - static_cast<double>(below)) * (values[above] - values[below]);
  };
  interval.low = quantile((1 - level) / 2);
  interval.high = quantile(1 - (1 - level) / 2);
  return interval;
}

AttackMetrics EvaluateAttack(const Scores& members, const Scores& nonmembers, double threshold,
                             int resamples, uint64_t seed) {
  AttackMetrics m;
  m.auc = BootstrapInterval(members, nonmembers, Auc, resamples, 0.95, seed);
  m.balanced_accuracy = BootstrapInterval(
      members, nonmembers,
      [threshold](const Scores& a, const Scores& b) { return BalancedAccuracy(a, b, threshold); },
      resamples, 0.95, seed + 1);
  m.tpr_at_1pct_fpr = BootstrapInterval(
      members, nonmembers, [](const Scores& a, const Scores& b) { return TprAtFpr(a, b, 0.01); },
      resamples, 0.95, seed + 2);
  m.tpr_at_01pct_fpr = BootstrapInterval(
      members, nonmembers, [](const Scores& a, const Scores& b) { return TprAtFpr(a, b, 0.001); },
      resamples, 0.95, seed + 3);
  // For log-log plots: the best TPR at each FPR, then FPRs about 1/60 of a decade apart, so the
  // low-FPR region (where leakage shows) keeps its resolution.
  const std::vector<RocPoint> full = RocCurve(members, nonmembers);
  std::vector<RocPoint> envelope;
  for (const RocPoint& p : full) {
    if (!envelope.empty() && envelope.back().fpr == p.fpr) {
      envelope.back().tpr = std::max(envelope.back().tpr, p.tpr);
    } else {
      envelope.push_back(p);
    }
  }
  double last_log = -1e9;
  for (size_t i = 0; i < envelope.size(); ++i) {
    const double log_fpr = envelope[i].fpr > 0 ? std::log10(envelope[i].fpr) : -1e8;
    if (i == 0 || i + 1 == envelope.size() || log_fpr >= last_log + 1.0 / 60) {
      m.roc.push_back(envelope[i]);
      last_log = log_fpr;
    }
  }
  return m;
}

}  // namespace fedsyn::eval
