// Rényi-DP accounting for DP-SGD with Poisson subsampling (Mironov 2017, "Rényi Differential
// Privacy"; Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
// Mechanism"). Each step with sampling rate q and noise multiplier sigma adds
// RDP(alpha) = log A_alpha(q, sigma) / (alpha - 1) at every order alpha of a fixed grid;
// steps compose by adding. Conversion to (epsilon, delta) uses the tighter bound of
// Balle et al. 2020 ("Hypothesis Testing Interpretations and Renyi Differential Privacy"):
//   epsilon = min_alpha RDP(alpha) + log((alpha-1)/alpha) - (log delta + log alpha)/(alpha-1).
// The computation of log A follows the closed forms of Mironov-Talwar-Zhang (integer orders)
// and their series for fractional orders, as implemented by Opacus and TF Privacy.
//
// Neighbouring relations. The bound above is for add/remove-one (datasets D and D minus a
// record). A fedsyn release publishes its row count n, so its guarantee is replace-one (D and D
// with one record replaced); DESIGN §2.9. Two proven replace-one bounds are computed and the
// smaller is reported (docs/privacy.md §2 has the derivations):
//  (a) RDP through the removed dataset D0: with P = M(D), Q = M(D0), R = M(D'), Mironov 2017
//      Proposition 11 (p = 2) gives D_a(P||R) <= (a - 1/2)/(a - 1) D_2a(P||Q) + D_(2a-1)(Q||R).
//      D_2a(P||Q) is the add/remove RDP at order 2a, and D_(2a-1)(Q||R) is at most the
//      add/remove RDP at order 2a - 1 (Mironov-Talwar-Zhang 2019, Theorem 5: the removal
//      direction never exceeds the addition direction). Per step, then composed by addition.
//  (b) group privacy on (epsilon, delta): an add/remove (e, d) guarantee gives replace-one
//      (2e, (1 + e^e) d); d is chosen so that (1 + e^e) d <= delta.
// Both are conservative: for Opacus's reference case (sigma 1.5, q 0.04, 2,250 steps,
// delta 1e-5) (a) gives 18.68 and (b) 20.55, against 14.44 from numerical integration of
// the privacy loss of the pair (1-q)N(0,s^2) + qN(1,s^2) vs (1-q)N(0,s^2) + qN(-1,s^2).
#ifndef FEDSYN_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
#define FEDSYN_COMMON_PRIVACY_RDP_ACCOUNTANT_H_

#include <string>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::privacy {

// The largest order the accountant evaluates: an integer order's closed form has alpha + 1
// terms, so a hostile saved state must not choose it.
inline constexpr double kMaxRdpOrder = 1e4;

// RDP of one step of the Poisson-subsampled Gaussian at order alpha in (1, kMaxRdpOrder];
// +infinity (no bound at that order) outside it.
double SubsampledGaussianRdp(double q, double sigma, double alpha);

enum class NeighbouringRelation {
  kAddRemove,   // D vs D with one record added or removed
  kReplaceOne,  // D vs D with one record replaced (n public): what every fedsyn release states
};

// The text manifests and model files state: "add/remove one" or "replace-one (n public)".
const char* NeighbouringRelationName(NeighbouringRelation relation);

// The relation every fedsyn guarantee is stated under: a release publishes its row count
// (DESIGN §2.9). Model training, manifests, model files, reservations and both ledgers use it.
inline constexpr NeighbouringRelation kReleaseRelation = NeighbouringRelation::kReplaceOne;

struct PrivacySpent {
  double epsilon = 0;
  double order = 0;  // the order that gave the minimum
};

class RdpAccountant {
 public:
  // The default grid of orders: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
  static std::vector<double> DefaultOrders();

  explicit RdpAccountant(NeighbouringRelation relation)
      : RdpAccountant(relation, DefaultOrders()) {}
  RdpAccountant(NeighbouringRelation relation, std::vector<double> orders);

  // Adds `steps` steps of the subsampled Gaussian (q in [0, 1], sigma > 0).
  absl::Status Compose(double q, double sigma, int64_t steps);
  // (epsilon, delta) under the accountant's relation, for 0 < delta < 1. Under replace-one,
  // the smaller of bounds (a) and (b) above; `order` is 0 when (b) gave it.
  absl::StatusOr<PrivacySpent> Spent(double delta) const;

  // Text form of the accountant's state (orders and accumulated RDP, full precision), and
  // back: a restored accountant continues exactly where the saved one stopped.
  std::string Serialize() const;
  static absl::StatusOr<RdpAccountant> Deserialize(const std::string& text);

  NeighbouringRelation relation() const { return relation_; }
  const std::vector<double>& orders() const { return orders_; }
  // Accumulated add/remove RDP per order.
  const std::vector<double>& rdp() const { return rdp_; }
  // Accumulated replace-one RDP per order, bound (a); empty under add/remove.
  const std::vector<double>& replace_one_rdp() const { return replace_one_rdp_; }

 private:
  NeighbouringRelation relation_;
  std::vector<double> orders_;
  std::vector<double> rdp_;
  std::vector<double> replace_one_rdp_;
};

// Bound (a) for one step at order alpha > 1.
double ReplaceOneSubsampledGaussianRdp(double q, double sigma, double alpha);

// The smallest noise multiplier sigma (to a relative precision of 1e-4) for which `steps`
// steps at rate q stay within (target_epsilon, delta) under `relation`. The result never
// overshoots: its epsilon is <= target_epsilon. NotFound if even sigma = 1e4 does not reach
// the target.
absl::StatusOr<double> CalibrateNoiseMultiplier(double target_epsilon, double delta, double q,
                                                int64_t steps, NeighbouringRelation relation);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
