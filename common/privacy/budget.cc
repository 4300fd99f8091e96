#include "common/privacy/budget.h"

#include <cmath>
#include <cstdio>

namespace fedsyn::privacy {

absl::StatusOr<int64_t> EpsilonToChargeMicros(double epsilon) {
  if (!std::isfinite(epsilon) || epsilon < 0.0 || epsilon > 1e9) {
    return absl::InvalidArgumentError("epsilon must be finite and in [0, 1e9]");
  }
  return static_cast<int64_t>(std::ceil(epsilon * static_cast<double>(kMicrosPerEpsilon)));
}

absl::StatusOr<int64_t> EpsilonToLimitMicros(double epsilon) {
  if (!std::isfinite(epsilon) || epsilon < 0.0 || epsilon > 1e6) {
    return absl::InvalidArgumentError("a budget limit must be a number of epsilon in [0, 1e6]");
  }
  return static_cast<int64_t>(std::floor(epsilon * static_cast<double>(kMicrosPerEpsilon)));
}

std::string FormatMicros(int64_t micros) {
  const char* sign = micros < 0 ? "-" : "";
  const uint64_t magnitude = micros < 0 ? -static_cast<uint64_t>(micros) : micros;
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%s%llu.%06llu", sign,
                static_cast<unsigned long long>(magnitude / kMicrosPerEpsilon),
                static_cast<unsigned long long>(magnitude % kMicrosPerEpsilon));
  return buffer;
}

}  // namespace fedsyn::privacy
