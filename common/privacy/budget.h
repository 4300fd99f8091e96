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

// Micro-epsilon as epsilon, for reports and the audit's comparisons (never for ledger sums).
double MicrosToEpsilon(int64_t micros);
// An empirical lower bound in micro-epsilon, rounded DOWN so a bound never overstates what
// was measured; InvalidArgument for a negative, non-finite or absurdly large (> 1e9) epsilon.
absl::StatusOr<int64_t> LowerBoundMicros(double epsilon);

// What one release claims and may cost, made once where the release is prepared and read by
// the manifest, both ledgers, the wire and the audit (DESIGN.md §2.8). The model's epsilon is
// the claim's model part on every release of that model; a ledger charges it once per model
// (ChargeDue).
struct Charge {
  int64_t release_micros = 0;  // the per-record mechanism's epsilon; 0 for a model-only release
  bool model_private = false;  // false: the model saw the records in the clear (no model part)
  int64_t model_micros = 0;    // the private model's epsilon; 0 unless model_private
  std::string model_sha256;    // the model the epsilon belongs to
  double model_delta = 0;      // recorded with the release, never charged
  // Rounded up (EpsilonToChargeMicros); the model's part only when `model_private`. The hash
  // may be set later (a ledger needs it, see Validate). InvalidArgument for an epsilon it
  // refuses, a private model without a positive epsilon, or a delta outside [0, 1).
  static absl::StatusOr<Charge> Make(double release_epsilon, bool model_private,
                                     double model_epsilon, double model_delta,
                                     std::string model_sha256 = "");
  // What a ledger requires of a charge it records (a peer's included): both parts in
  // 0..kMaxChargeMicros; a private model with a positive epsilon, a hash and a delta in [0, 1);
  // a model that is not private with no epsilon or delta. InvalidArgument naming the flaw.
  absl::Status Validate() const;
  // The release's claimed total epsilon: release + model (overflow-checked).
  absl::StatusOr<int64_t> ClaimedMicros() const;
  bool operator==(const Charge&) const = default;
};

// The once-per-model rule both ledgers follow: a release is charged its own epsilon, plus its
// model's on the model's first charged release at (site, dataset) — `model_paid_before` says
// whether an earlier release (not refused) of the same model paid it. Returns the model part
// due; InvalidArgument when the charge fails Validate.
absl::StatusOr<int64_t> ModelPartDue(const Charge& charge, bool model_paid_before);
// release_micros + model_part, overflow-checked (InvalidArgument).
absl::StatusOr<int64_t> TotalDue(const Charge& charge, int64_t model_part);

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
