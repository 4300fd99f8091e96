// Privacy budget in exact integer units (DESIGN.md §2.8). Ledgers add and compare micro-epsilon
// integers, never doubles, so that no sequence of charges can round its way under a limit.
#ifndef FEDSYN_COMMON_PRIVACY_BUDGET_H_
#define FEDSYN_COMMON_PRIVACY_BUDGET_H_

#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace fedsyn::privacy {

inline constexpr int64_t kMicrosPerEpsilon = 1'000'000;

// Converts a computed epsilon into the charge in micro-epsilon, rounding UP so a charge never
// understates the guarantee. Returns InvalidArgument for a negative, non-finite or absurdly
// large (> 1e9) epsilon.
absl::StatusOr<int64_t> EpsilonToChargeMicros(double epsilon);

// Converts an operator's limit into micro-epsilon, rounding DOWN so a limit never grows by
// rounding. InvalidArgument unless 0 <= epsilon <= 1e6.
absl::StatusOr<int64_t> EpsilonToLimitMicros(double epsilon);

// "1.234567" for 1234567 micro-epsilon: exact decimal, for manifests and tables.
std::string FormatMicros(int64_t micros);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_BUDGET_H_
