#include "coordinator/storage.h"

#include "common/audit/canary_protocol.h"
#include "common/base/names.h"

namespace fedsyn::coordinator {

const char* ReleaseStatusName(ReleaseStatus status) {
  return status == ReleaseStatus::kCommitted ? "committed" : "reserved";
}

std::optional<ReleaseStatus> ParseReleaseStatus(std::string_view name) {
  return base::ParseName(name, {ReleaseStatus::kReserved, ReleaseStatus::kCommitted},
                         &ReleaseStatusName);
}

bool IsPostgresDatabase(std::string_view database) {
  return database.starts_with("postgresql://") || database.starts_with("postgres://");
}

absl::StatusOr<std::unique_ptr<Storage>> OpenStorage(const std::string& database, bool read_only) {
  return IsPostgresDatabase(database) ? OpenPostgresStorage(database, read_only)
                                      : OpenSqliteStorage(database, read_only);
}

std::vector<int64_t> ReleasedCanaryRows(const ReleaseRecord& release, const AuditRecord& audit) {
  if (release.mode == privacy::ReleaseMode::kModelOnly) return {};
  return audit::CanaryPositions(audit.salt, release.rows_received,
                                static_cast<int64_t>(audit.bits.size()));
}

}  // namespace fedsyn::coordinator
