#include "common/privacy/budget.h"

#include <algorithm>
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

double MicrosToEpsilon(int64_t micros) {
  return static_cast<double>(micros) / static_cast<double>(kMicrosPerEpsilon);
}

absl::StatusOr<int64_t> LowerBoundMicros(double epsilon) {
  if (!std::isfinite(epsilon) || epsilon < 0.0 || epsilon > 1e9) {
    return absl::InvalidArgumentError("an epsilon bound must be finite and in [0, 1e9]");
  }
  return static_cast<int64_t>(std::floor(epsilon * static_cast<double>(kMicrosPerEpsilon)));
}

absl::StatusOr<Charge> Charge::Make(double release_epsilon, bool model_private,
                                    double model_epsilon, double model_delta,
                                    std::string model_sha256) {
  Charge charge;
  ASSIGN_OR_RETURN(charge.release_micros, EpsilonToChargeMicros(release_epsilon));
  charge.model_private = model_private;
  charge.model_sha256 = std::move(model_sha256);
  if (model_private) {
    ASSIGN_OR_RETURN(charge.model_micros, EpsilonToChargeMicros(model_epsilon));
    if (charge.model_micros == 0)
      return absl::InvalidArgumentError("a private model must state a positive epsilon");
    if (!(model_delta >= 0 && model_delta < 1))
      return absl::InvalidArgumentError("a model's delta must be in [0, 1)");
    charge.model_delta = model_delta;
  }
  return charge;
}

absl::Status Charge::Validate() const {
  if (release_micros < 0 || release_micros > kMaxChargeMicros || model_micros < 0 ||
      model_micros > kMaxChargeMicros) {
    return absl::InvalidArgumentError("a charge must be in 0.." + std::to_string(kMaxChargeMicros) +
                                      " micro-epsilon");
  }
  if (!model_private) {
    if (model_micros != 0 || model_delta != 0)
      return absl::InvalidArgumentError("a model that is not private states no epsilon or delta");
    return absl::OkStatus();
  }
  if (model_micros == 0)
    return absl::InvalidArgumentError("a private model must state a positive epsilon");
  if (model_sha256.empty())
    return absl::InvalidArgumentError("a private model's release must identify the model");
  if (!(model_delta >= 0 && model_delta < 1))
    return absl::InvalidArgumentError("a model's delta must be in [0, 1)");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Charge::ClaimedMicros() const {
  int64_t total = 0;
  if (__builtin_add_overflow(release_micros, model_micros, &total))
    return absl::InvalidArgumentError("the release's and the model's epsilon overflow");
  return total;
}

absl::StatusOr<int64_t> ModelPartDue(const Charge& charge, bool model_paid_before) {
  RETURN_IF_ERROR(charge.Validate());
  return charge.model_private && !model_paid_before ? charge.model_micros : 0;
}

absl::StatusOr<int64_t> TotalDue(const Charge& charge, int64_t model_part) {
  int64_t total = 0;
  if (__builtin_add_overflow(charge.release_micros, model_part, &total))
    return absl::InvalidArgumentError("the release's and the model's charges overflow");
  return total;
}

absl::StatusOr<double> ResolveDelta(std::optional<double> requested, int64_t records,
                                    std::string* warning) {
  if (warning != nullptr) warning->clear();
  if (records < 1) return absl::InvalidArgumentError("delta needs at least one protected record");
  const double n = static_cast<double>(records);
  if (!requested) return std::min(1e-6, 1.0 / (10.0 * n));
  const double delta = *requested;
  if (!(delta > 0 && delta < 1)) return absl::InvalidArgumentError("delta must be in (0, 1)");
  char text[256];
  if (delta * n >= 1.0) {
    std::snprintf(text, sizeof text,
                  "delta %g is at least 1/n = 1/%lld for the n = %lld protected records: at such a "
                  "delta a mechanism may publish a record in the clear. Use delta below "
                  "1/(10n) = %.3g (or leave it unset for min(1e-6, 1/(10n)))",
                  delta, static_cast<long long>(records), static_cast<long long>(records),
                  1.0 / (10.0 * n));
    return absl::FailedPreconditionError(text);
  }
  if (delta * 10.0 * n > 1.0 && warning != nullptr) {
    std::snprintf(text, sizeof text,
                  "delta %g is above 1/(10n) = %.3g for n = %lld protected records; a smaller "
                  "delta costs little epsilon",
                  delta, 1.0 / (10.0 * n), static_cast<long long>(records));
    *warning = text;
  }
  return delta;
}

}  // namespace fedsyn::privacy
