// Privacy budget in exact integer units (DESIGN.md §2.8). Ledgers add and compare micro-epsilon
// integers, never doubles, so that no sequence of charges can round its way under a limit.
#ifndef FEDSYN_COMMON_PRIVACY_BUDGET_H_
#define FEDSYN_COMMON_PRIVACY_BUDGET_H_

#include <cstdint>
#include <optional>
#include <string>

#include "common/base/status.h"

namespace fedsyn::privacy {

inline constexpr int64_t kMicrosPerEpsilon = 1'000'000;
// The largest charge a ledger accepts: EpsilonToChargeMicros' bound of 1e9 epsilon. Ledgers refuse
// anything above it, so no sum of a few charges and limits (<= 1e6 epsilon) can overflow int64.
inline constexpr int64_t kMaxChargeMicros = int64_t{1'000'000'000} * kMicrosPerEpsilon;

// Converts a computed epsilon into the charge in micro-epsilon, rounding UP so a charge never
// understates the guarantee. Returns InvalidArgument for a negative, non-finite or absurdly
// large (> 1e9) epsilon.
absl::StatusOr<int64_t> EpsilonToChargeMicros(double epsilon);

// Converts an operator's limit into micro-epsilon, rounding DOWN so a limit never grows by
// rounding. InvalidArgument unless 0 <= epsilon <= 1e6.
absl::StatusOr<int64_t> EpsilonToLimitMicros(double epsilon);

// "1.234567" for 1234567 micro-epsilon: exact decimal, for manifests and tables.
std::string FormatMicros(int64_t micros);

// The delta of an (epsilon, delta) guarantee over `records` protected records. delta is the
// probability mass on which the guarantee may fail; at delta >= 1/n a mechanism that publishes
// one record in the clear is (0, delta)-DP, so such a delta promises nothing. Hence:
//  - unset: min(1e-6, 1/(10 n));
//  - requested >= 1/n: FailedPrecondition (refused for privacy reasons), naming n;
//  - 1/(10 n) < requested < 1/n: accepted, with `warning` set (else cleared).
// InvalidArgument for records < 1 or a requested delta outside (0, 1).
absl::StatusOr<double> ResolveDelta(std::optional<double> requested, int64_t records,
                                    std::string* warning);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_BUDGET_H_
