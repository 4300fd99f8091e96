#include "coordinator/release_gate.h"

namespace fedsyn::coordinator {

absl::StatusOr<GateDecision> DecideGate(Storage& storage, const ReleaseRecord& release) {
  GateDecision gate;
  ASSIGN_OR_RETURN(gate.approval, storage.GetApproval(release.release_id));
  ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, storage.GetAudit(release.release_id));
  if (!audit) {
    gate.why = "not audited (no canaries in this release)";
    return gate;
  }
  switch (audit->state) {
    case AuditState::kInvalid:
      gate.status = AuditStatus::kFailed;
      gate.why = "the reveal did not match the commitment";
      return gate;
    case AuditState::kIssued:
    case AuditState::kCommitted:
      gate.why = "canaries not revealed yet";
      return gate;
    case AuditState::kRevealed:
      break;
  }
  ASSIGN_OR_RETURN(const std::optional<AuditVerdictRecord> verdict,
                   storage.GetVerdict(release.release_id));
  if (!verdict) {
    gate.why = "revealed; not judged yet (fedsyn-coordinator audit run)";
    return gate;
  }
  gate.status = verdict->passed ? AuditStatus::kPassed : AuditStatus::kFailed;
  gate.why = verdict->passed ? "empirical bound within the claim" : verdict->reason;
  return gate;
}

}  // namespace fedsyn::coordinator
