#include "common/privacy/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace fedsyn::privacy {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double LogAdd(double a, double b) {
  const double hi = std::max(a, b), lo = std::min(a, b);
  if (hi == kNegInf) return kNegInf;
  return hi + std::log1p(std::exp(lo - hi));
}

// log(erfc(x)), accurate where erfc underflows (x > ~26): asymptotic series.
double LogErfc(double x) {
  if (x < 25.0) return std::log(std::erfc(x));
  const double r = 1.0 / (x * x);
  return -x * x - std::log(x) - 0.5 * std::log(M_PI) +
         std::log1p(-0.5 * r + 0.75 * r * r - 1.875 * r * r * r);
}

// log(n!) for integer n >= 0: lgamma(n + 1), from a table for the orders the accountant uses
// (the replace-one bound evaluates integer orders up to 2 x 63); the same values lgamma gives.
double LogFactorial(int n) {
  static const std::vector<double> table = [] {
    std::vector<double> values(257);
    for (size_t k = 0; k < values.size(); ++k) values[k] = std::lgamma(static_cast<double>(k) + 1);
    return values;
  }();
  return static_cast<size_t>(n) < table.size() ? table[n] : std::lgamma(static_cast<double>(n) + 1);
}

// log of sum_k sign_k e^(log_terms_k), for a sum known to be positive (sign_k is -1 where
// `negative` is given and true, else +1): max + log sum of the terms scaled by e^-max, one exp
// per term.
double LogSignedSum(const std::vector<double>& log_terms,
                    const std::vector<bool>* negative = nullptr) {
  double max_term = kNegInf;
  for (const double log_term : log_terms) max_term = std::max(max_term, log_term);
  if (max_term == kNegInf) return kNegInf;
  double sum = 0;
  for (size_t k = 0; k < log_terms.size(); ++k) {
    const double term = std::exp(log_terms[k] - max_term);
    sum += negative != nullptr && (*negative)[k] ? -term : term;
  }
  return max_term + std::log(sum);
}

// log A_alpha for integer alpha: log sum_i C(alpha, i) q^i (1-q)^(alpha-i) e^((i^2-i)/(2 s^2)).
double LogAInteger(double q, double sigma, int alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double two_var = 2 * sigma * sigma;
  std::vector<double> log_terms(alpha + 1);
  for (int i = 0; i <= alpha; ++i) {
    const double log_binomial = LogFactorial(alpha) - LogFactorial(i) - LogFactorial(alpha - i);
    log_terms[i] = log_binomial + i * log_q + (alpha - i) * log_1mq +
                   (static_cast<double>(i) * i - i) / two_var;
  }
  return LogSignedSum(log_terms);
}

// log A_alpha for fractional alpha: the two series of Mironov-Talwar-Zhang (their A_0 and A_1),
// each term's sign that of the fractional binomial coefficient, up to terms below e^-30.
double LogAFractional(double q, double sigma, double alpha) {
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double log_q = std::log(q), log_1mq = std::log1p(-q), log_half = std::log(0.5);
  const double erfc_scale = std::sqrt(2.0) * sigma, two_var = 2 * sigma * sigma;
  std::vector<double> log_s0, log_s1;
  std::vector<bool> negative;
  // Binomial coefficients of a fractional alpha, by the recurrence (they change sign past alpha).
  double coef = 1.0;
  for (int i = 0;; ++i) {
    if (i > 0) coef *= (alpha - (i - 1)) / i;
    const double log_coef = std::log(std::fabs(coef));
    const double j = alpha - i;
    const double log_t0 = log_coef + i * log_q + j * log_1mq;
    const double log_t1 = log_coef + j * log_q + i * log_1mq;
    const double log_e0 = log_half + LogErfc((i - z0) / erfc_scale);
    const double log_e1 = log_half + LogErfc((z0 - j) / erfc_scale);
    log_s0.push_back(log_t0 + (static_cast<double>(i) * i - i) / two_var + log_e0);
    log_s1.push_back(log_t1 + (j * j - j) / two_var + log_e1);
    negative.push_back(coef < 0);
    if (std::max(log_s0.back(), log_s1.back()) < -30 || i > 10'000) break;
  }
  return LogAdd(LogSignedSum(log_s0, &negative), LogSignedSum(log_s1, &negative));
}

// (epsilon, delta) from accumulated RDP at each order (Balle et al. 2020); +inf if none is finite.
PrivacySpent ConvertRdp(const std::vector<double>& orders, const std::vector<double>& rdp,
                        double delta) {
  PrivacySpent best{std::numeric_limits<double>::infinity(), 0};
  for (size_t i = 0; i < orders.size(); ++i) {
    const double a = orders[i];
    const double eps = rdp[i] + std::log((a - 1) / a) - (std::log(delta) + std::log(a)) / (a - 1);
    if (std::isfinite(eps) && eps < best.epsilon) best = {std::max(eps, 0.0), a};
  }
  return best;
}

// Bound (b): the smallest 2e over add/remove guarantees (e, d) with (1 + e^e) d <= delta. The
// feasibility of the returned point is checked, so the bound holds whatever the search finds.
double GroupPrivacyReplaceOne(const std::vector<double>& orders, const std::vector<double>& rdp,
                              double delta) {
  auto feasible = [&](double d) {
    const double e = ConvertRdp(orders, rdp, d).epsilon;
    return std::isfinite(e) && (1 + std::exp(e)) * d <= delta;
  };
  // (1 + e^e) >= 2, so d <= delta / 2; bisection in log space for the largest feasible d.
  double hi = delta / 2, lo = delta * 1e-300;
  if (feasible(hi)) return 2 * ConvertRdp(orders, rdp, hi).epsilon;
  if (!feasible(lo)) return std::numeric_limits<double>::infinity();
  for (int i = 0; i < 100 && hi / lo > 1 + 1e-9; ++i) {
    const double mid = std::sqrt(lo * hi);
    (feasible(mid) ? lo : hi) = mid;
  }
  return 2 * ConvertRdp(orders, rdp, lo).epsilon;
}

// Bound (a) at order alpha from the add/remove RDP at orders 2 alpha and 2 alpha - 1.
double ReplaceOneRdpFrom(double alpha, double rdp_at_double, double rdp_at_double_minus_one) {
  return (alpha - 0.5) / (alpha - 1) * rdp_at_double + rdp_at_double_minus_one;
}

}  // namespace

const char* NeighbouringRelationName(NeighbouringRelation relation) {
  return relation == NeighbouringRelation::kReplaceOne ? "replace-one (n public)"
                                                       : "add/remove one";
}

double ReplaceOneSubsampledGaussianRdp(double q, double sigma, double alpha) {
  return ReplaceOneRdpFrom(alpha, SubsampledGaussianRdp(q, sigma, 2 * alpha),
                           SubsampledGaussianRdp(q, sigma, 2 * alpha - 1));
}

double SubsampledGaussianRdp(double q, double sigma, double alpha) {
  // An order outside (1, kMaxRdpOrder] gives no bound: +infinity, which conversion skips.
  if (!(alpha > 1 && alpha <= kMaxRdpOrder)) return std::numeric_limits<double>::infinity();
  if (q == 0) return 0;
  if (q == 1.0) return alpha / (2 * sigma * sigma);
  const double log_a = (alpha == std::floor(alpha)) ? LogAInteger(q, sigma, static_cast<int>(alpha))
                                                    : LogAFractional(q, sigma, alpha);
  return log_a / (alpha - 1);
}

std::vector<double> RdpAccountant::DefaultOrders() {
  std::vector<double> orders;
  for (int x = 1; x < 100; ++x) orders.push_back(1 + x / 10.0);
  for (int a = 12; a < 64; ++a) orders.push_back(a);
  return orders;
}

RdpAccountant::RdpAccountant(NeighbouringRelation relation, std::vector<double> orders)
    : relation_(relation), orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {
  if (relation_ == NeighbouringRelation::kReplaceOne) replace_one_rdp_.assign(orders_.size(), 0.0);
}

absl::Status RdpAccountant::Compose(double q, double sigma, int64_t steps) {
  if (!(q >= 0 && q <= 1)) return absl::InvalidArgumentError("sampling rate must be in [0, 1]");
  if (!(sigma > 0) || !std::isfinite(sigma))
    return absl::InvalidArgumentError("noise multiplier must be positive");
  if (steps < 0) return absl::InvalidArgumentError("steps cannot be negative");
  const auto count = static_cast<double>(steps);
  // Bound (a) needs orders 2a and 2a - 1, most of which are on the grid or shared between
  // neighbours (453 evaluations for 267 distinct orders on the default grid): each distinct
  // order is computed once. Only an exactly equal order is reused.
  std::unordered_map<double, double> step_rdp;
  auto rdp_at = [&](double alpha) {
    const auto [it, inserted] = step_rdp.try_emplace(alpha, 0.0);
    if (inserted) it->second = SubsampledGaussianRdp(q, sigma, alpha);
    return it->second;
  };
  for (size_t i = 0; i < orders_.size(); ++i) {
    const double alpha = orders_[i];
    rdp_[i] += count * rdp_at(alpha);
    if (!replace_one_rdp_.empty())
      replace_one_rdp_[i] +=
          count * ReplaceOneRdpFrom(alpha, rdp_at(2 * alpha), rdp_at(2 * alpha - 1));
  }
  return absl::OkStatus();
}

absl::StatusOr<PrivacySpent> RdpAccountant::Spent(double delta) const {
  if (!(delta > 0 && delta < 1)) return absl::InvalidArgumentError("delta must be in (0, 1)");
  PrivacySpent best = ConvertRdp(orders_, rdp_, delta);
  if (relation_ == NeighbouringRelation::kReplaceOne) {
    const PrivacySpent triangle = ConvertRdp(orders_, replace_one_rdp_, delta);
    const double group = GroupPrivacyReplaceOne(orders_, rdp_, delta);
    best = group < triangle.epsilon ? PrivacySpent{group, 0} : triangle;
  }
  if (!std::isfinite(best.epsilon))
    return absl::InternalError("no finite epsilon on the order grid");
  return best;
}

// v1 (add/remove only): "rdp-accountant v1 N (order rdp)*N".
// v2: "rdp-accountant v2 add-remove|replace-one N (order rdp replace_one_rdp)*N", the last
// column 0 under add/remove. Hex floats: exact.
std::string RdpAccountant::Serialize() const {
  std::ostringstream out;
  const bool replace_one = relation_ == NeighbouringRelation::kReplaceOne;
  out << "rdp-accountant v2 " << (replace_one ? "replace-one " : "add-remove ") << orders_.size();
  char buffer[96];
  for (size_t i = 0; i < orders_.size(); ++i) {
    std::snprintf(buffer, sizeof buffer, " %a %a %a", orders_[i], rdp_[i],
                  replace_one ? replace_one_rdp_[i] : 0.0);
    out << buffer;
  }
  return out.str();
}

absl::StatusOr<RdpAccountant> RdpAccountant::Deserialize(const std::string& text) {
  std::istringstream in(text);
  std::string tag, version, relation_text = "add-remove";
  size_t n = 0;
  if (!(in >> tag >> version) || tag != "rdp-accountant" || (version != "v1" && version != "v2"))
    return absl::DataLossError("not a saved RDP accountant");
  if (version == "v2" && !(in >> relation_text)) return absl::DataLossError("truncated RDP state");
  if (relation_text != "add-remove" && relation_text != "replace-one")
    return absl::DataLossError("unknown neighbouring relation in a saved RDP accountant");
  if (!(in >> n) || n == 0 || n > 10'000) return absl::DataLossError("not a saved RDP accountant");
  const NeighbouringRelation relation = relation_text == "replace-one"
                                            ? NeighbouringRelation::kReplaceOne
                                            : NeighbouringRelation::kAddRemove;
  const int columns = version == "v1" ? 2 : 3;
  std::vector<double> orders(n), rdp(n), replace_one(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double* fields[3] = {&orders[i], &rdp[i], &replace_one[i]};
    for (int c = 0; c < columns; ++c) {
      std::string field;
      if (!(in >> field)) return absl::DataLossError("truncated RDP accountant state");
      char* end = nullptr;
      *fields[c] = std::strtod(field.c_str(), &end);
      if (end != field.c_str() + field.size())
        return absl::DataLossError("invalid number in a saved RDP accountant");
    }
    if (!(orders[i] > 1 && orders[i] <= kMaxRdpOrder) || !(rdp[i] >= 0) || !(replace_one[i] >= 0))
      return absl::DataLossError("invalid RDP accountant state");
  }
  RdpAccountant accountant(relation, std::move(orders));
  accountant.rdp_ = std::move(rdp);
  if (relation == NeighbouringRelation::kReplaceOne)
    accountant.replace_one_rdp_ = std::move(replace_one);
  return accountant;
}

absl::StatusOr<double> CalibrateNoiseMultiplier(double target_epsilon, double delta, double q,
                                                int64_t steps, NeighbouringRelation relation) {
  if (!(target_epsilon > 0)) return absl::InvalidArgumentError("target epsilon must be positive");
  // g(u) = log(epsilon(e^u) / target): decreasing in u, and nearly straight near the root,
  // which is why the search below needs a third of the evaluations a bisection does (each one
  // composes every order of the grid: ~1 ms, once per private training).
  auto excess_at = [&](double log_sigma) -> absl::StatusOr<double> {
    RdpAccountant accountant(relation);
    RETURN_IF_ERROR(accountant.Compose(q, std::exp(log_sigma), steps));
    const absl::StatusOr<PrivacySpent> spent = accountant.Spent(delta);
    // No finite epsilon on the grid: far too little noise, above any target.
    if (!spent.ok()) return std::numeric_limits<double>::infinity();
    return std::log(spent->epsilon / target_epsilon);
  };
  // The search keeps a bracket [u_lo, u_hi] around the root: g(u_hi) <= 0 once evaluated
  // (before that u_hi is log 1e4, the largest multiplier offered), g(u_lo) > 0 once evaluated
  // (before that log 0.01, which no target needs in practice). It stops when an evaluated high
  // end is within hi / lo < 1 + 1e-4 of the low end and returns that high end.
  const double tolerance = std::log1p(1e-4);
  const double u_max = std::log(1e4);
  double u_lo = std::log(0.01), u_hi = u_max;
  double g_lo = std::numeric_limits<double>::infinity(), g_hi = 0;
  bool lo_known = false, hi_known = false;
  // Illinois regula falsi once both ends are known: the chord's crossing between them, and an
  // end kept twice in a row has its value halved for the chord, so that both ends move. Before
  // that, steps along slope -1 from the one known end (near the root epsilon falls about as fast
  // as 1/sigma, or faster; the steps lengthen if it does not), starting from sigma = 1, where most
  // trainings land: far fewer evaluations than bisecting [0.01, 1e4], and none at the tiny
  // multipliers that are the costliest to evaluate. Every point stays tolerance / 2 inside the
  // bracket, so that a chord converging on one end still closes it.
  double chord_lo = 0, chord_hi = 0;
  int kept = 0;        // +1: the low end was kept last time, -1: the high end
  double u = 0;        // sigma = 1
  double stretch = 1;  // doubles with every one-sided step: where epsilon flattens (large
                       // sigma), the steps still reach the other side in a few evaluations
  for (;;) {
    ASSIGN_OR_RETURN(const double g, excess_at(u));
    if (g <= 0) {
      u_hi = u;
      g_hi = chord_hi = g;
      hi_known = true;
      if (kept == 1) chord_lo /= 2;
      kept = 1;
    } else {
      if (u >= u_max)
        return absl::NotFoundError("no noise multiplier up to 1e4 reaches the target epsilon");
      u_lo = u;
      g_lo = chord_lo = g;
      lo_known = true;
      if (kept == -1) chord_hi /= 2;
      kept = -1;
    }
    if (hi_known && u_hi - u_lo <= tolerance) break;
    if (!hi_known && u_max - u_lo <= tolerance) {
      u = u_max;  // the largest multiplier offered decides between an answer and NotFound
      continue;
    }
    if (lo_known && hi_known) {
      u = 0.5 * (u_lo + u_hi);
      if (std::isfinite(chord_lo) && chord_lo > chord_hi) {
        const double crossing = u_lo + chord_lo / (chord_lo - chord_hi) * (u_hi - u_lo);
        if (crossing > u_lo && crossing < u_hi) u = crossing;
      }
    } else if (hi_known) {
      u = u_hi + stretch * g_hi;
      stretch *= 2;
    } else {
      u = u_lo + stretch * (std::isfinite(g_lo) ? g_lo : 1.0);
      stretch *= 2;
    }
    u = std::clamp(u, u_lo + 0.5 * tolerance, u_hi - 0.5 * tolerance);
  }
  return std::exp(u_hi);
}

}  // namespace fedsyn::privacy
