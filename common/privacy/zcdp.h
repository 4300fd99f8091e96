// Zero-concentrated differential privacy (Bun & Steinke 2016): the accounting of the marginal
// generator (common/synth). Every mechanism here is stated under the replace-one relation of
// DESIGN.md §2 (neighbouring tables have the same size and differ in one record), the relation
// every fedsyn guarantee uses; the sensitivities below are the replace-one ones.
//
//  - The Gaussian mechanism with L2 sensitivity D and noise N(0, s^2) per coordinate is
//    D^2 / (2 s^2)-zCDP; the discrete Gaussian on integers is too (Canonne, Kamath & Steinke
//    2020, Thm 14). A histogram of a table moves by +1 in one cell and -1 in another when one
//    record is replaced: D = sqrt(2), so s^2 = 1 / rho.
//  - The exponential mechanism that picks item i with probability proportional to
//    exp(epsilon * q_i / (2 D_q)) for a quality of sensitivity D_q is epsilon-DP and
//    epsilon^2 / 8-zCDP (Cesar & Rogers 2021: it is epsilon-bounded-range).
//  - zCDP composes by adding rho; rho-zCDP implies (epsilon, delta)-DP with the conversion of
//    Canonne, Kamath & Steinke 2020 (Corollary 13), computed conservatively below.
#ifndef FEDSYN_COMMON_PRIVACY_ZCDP_H_
#define FEDSYN_COMMON_PRIVACY_ZCDP_H_

#include <cstdint>
#include <span>

#include "common/base/status.h"
#include "common/privacy/random.h"

namespace fedsyn::privacy {

// An upper bound on the delta at which rho-zCDP gives epsilon-DP:
//   delta = exp((a - 1)(a rho - epsilon) + a log(1 - 1/a)) / (a - 1)   for any a > 1,
// minimised over a numerically. Any a gives a valid bound, so an imprecise minimiser can only
// overstate delta, never understate it. Clamped to [0, 1]. rho >= 0, epsilon >= 0.
double ZcdpDelta(double rho, double epsilon);

// The smallest epsilon (to 1e-9 relative, rounded up) with ZcdpDelta(rho, epsilon) <= delta.
double ZcdpEpsilon(double rho, double delta);

// The largest rho (rounded down) whose conversion meets (epsilon, delta): ZcdpDelta(rho,
// epsilon) <= delta holds for the returned value. InvalidArgument unless epsilon > 0 and
// 0 < delta < 1.
absl::StatusOr<double> ZcdpRhoFor(double epsilon, double delta);

// rho of the Gaussian mechanism with L2 sensitivity `sensitivity` and noise `sigma`.
inline double GaussianRho(double sensitivity, double sigma) {
  return sensitivity * sensitivity / (2.0 * sigma * sigma);
}
// The noise sigma that makes a Gaussian mechanism of L2 sensitivity `sensitivity` rho-zCDP.
double GaussianSigmaFor(double rho, double sensitivity);
// rho of the exponential mechanism at `epsilon`.
inline double ExponentialMechanismRho(double epsilon) { return epsilon * epsilon / 8.0; }
// The epsilon an exponential mechanism may use to cost `rho`.
double ExponentialMechanismEpsilonFor(double rho);

// One draw of the discrete Gaussian N_Z(0, sigma^2): P(x) proportional to exp(-x^2 / (2
// sigma^2)) over the integers, by rejection from a discrete Laplace (Canonne, Kamath & Steinke
// 2020, Algorithm 3). Integer outputs carry no floating-point artefacts of the data they are
// added to (the attack of Mironov 2012 on textbook Laplace needs real-valued outputs).
// sigma > 0.
int64_t SampleDiscreteGaussian(RandomSource& rng, double sigma);

// The exponential mechanism: index i drawn with probability proportional to
// exp(epsilon * scores[i] / (2 sensitivity)), by the Gumbel-max trick. scores non-empty and
// finite, epsilon > 0, sensitivity > 0.
size_t ExponentialMechanism(RandomSource& rng, std::span<const double> scores, double epsilon,
                            double sensitivity);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_ZCDP_H_
