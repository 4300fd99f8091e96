// The release gate (issue #6, docs/audits.md): every committed release has an audit status —
// pending until a verdict exists, then passed or failed (an invalid reveal fails at once) — and
// only passed releases, or those an operator approved explicitly, enter pooled exports.
#ifndef FEDSYN_COORDINATOR_RELEASE_GATE_H_
#define FEDSYN_COORDINATOR_RELEASE_GATE_H_

#include <optional>
#include <string>

#include "common/audit/canary_protocol.h"
#include "coordinator/storage.h"

namespace fedsyn::coordinator {

using audit::AuditStatus;

struct GateDecision {
  AuditStatus status = AuditStatus::kPending;
  std::string why;  // one line for the dashboard: the verdict's reason, "not audited", ...
  std::optional<ApprovalRecord> approval;
  bool exportable() const { return status == AuditStatus::kPassed || approval.has_value(); }
};

absl::StatusOr<GateDecision> DecideGate(Storage& storage, const ReleaseRecord& release);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_RELEASE_GATE_H_
