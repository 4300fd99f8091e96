// Rényi-DP accounting for DP-SGD with Poisson subsampling (Mironov 2017, "Rényi Differential
// Privacy"; Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
// Mechanism"). Each step with sampling rate q and noise multiplier sigma adds
// RDP(alpha) = log A_alpha(q, sigma) / (alpha - 1) at every order alpha of a fixed grid;
// steps compose by adding. Conversion to (epsilon, delta) uses the tighter bound of
// Balle et al. 2020 ("Hypothesis Testing Interpretations and Renyi Differential Privacy"):
//   epsilon = min_alpha RDP(alpha) + log((alpha-1)/alpha) - (log delta + log alpha)/(alpha-1).
// The computation of log A follows the closed forms of Mironov-Talwar-Zhang (integer orders)
// and their series for fractional orders, as implemented by Opacus and TF Privacy.
#ifndef FEDSYN_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
#define FEDSYN_COMMON_PRIVACY_RDP_ACCOUNTANT_H_

#include <string>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::privacy {

// RDP of one step of the Poisson-subsampled Gaussian at order alpha (> 1).
double SubsampledGaussianRdp(double q, double sigma, double alpha);

struct PrivacySpent {
  double epsilon = 0;
  double order = 0;  // the order that gave the minimum
};

class RdpAccountant {
 public:
  // The default grid of orders: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
  static std::vector<double> DefaultOrders();

  RdpAccountant() : RdpAccountant(DefaultOrders()) {}
  explicit RdpAccountant(std::vector<double> orders);

  // Adds `steps` steps of the subsampled Gaussian (q in [0, 1], sigma > 0).
  absl::Status Compose(double q, double sigma, int64_t steps);
  // (epsilon, delta) for 0 < delta < 1.
  absl::StatusOr<PrivacySpent> Spent(double delta) const;

  // Text form of the accountant's state (orders and accumulated RDP, full precision), and
  // back: a restored accountant continues exactly where the saved one stopped.
  std::string Serialize() const;
  static absl::StatusOr<RdpAccountant> Deserialize(const std::string& text);

  const std::vector<double>& orders() const { return orders_; }
  const std::vector<double>& rdp() const { return rdp_; }

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
};

// The smallest noise multiplier sigma (to a relative precision of 1e-4) for which `steps`
// steps at rate q stay within (target_epsilon, delta). The result never overshoots: its
// epsilon is <= target_epsilon. NotFound if even sigma = 1e4 does not reach the target.
absl::StatusOr<double> CalibrateNoiseMultiplier(double target_epsilon, double delta, double q,
                                                int64_t steps);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
