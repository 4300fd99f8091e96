#include "coordinator/storage.h"

#include "common/audit/canary_protocol.h"

namespace fedsyn::coordinator {

const char* AuditStateName(AuditState state) {
  switch (state) {
    case AuditState::kIssued:
      return "issued";
    case AuditState::kCommitted:
      return "committed";
    case AuditState::kRevealed:
      return "revealed";
    case AuditState::kInvalid:
      return "invalid";
  }
  return "invalid";
}

const char* ReleaseStatusName(ReleaseStatus status) {
  return status == ReleaseStatus::kCommitted ? "committed" : "reserved";
}

std::vector<int64_t> ReleasedCanaryRows(const ReleaseRecord& release, const AuditRecord& audit) {
  if (release.mode == kModelOnlyMode) return {};
  return audit::CanaryPositions(audit.salt, release.rows_received,
                                static_cast<int64_t>(audit.bits.size()));
}

}  // namespace fedsyn::coordinator
