// The column lists and row readers both database backends share (sqlite_storage.cc,
// postgres_storage.cc): a release or audit is laid out and read back the same way whichever
// database holds it. `Row` is anything with Int(column) and Text(column).
#ifndef FEDSYN_COORDINATOR_STORAGE_ROWS_H_
#define FEDSYN_COORDINATOR_STORAGE_ROWS_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/audit/canary_protocol.h"
#include "common/base/stored_value.h"
#include "coordinator/storage.h"

namespace fedsyn::coordinator::rows {

inline constexpr char kAuditColumns[] =
    "release_id, site_id, dataset, canaries, count, commitment, bits, salt, positions, state, "
    "created_unix";

inline constexpr char kReleaseColumns[] =
    "release_id, site_id, dataset, mode, charge_micros, rows_declared, model_private, status, "
    "next_chunk, rows_received, sha256, created_unix, model_sha256, model_charge_micros, "
    "model_epsilon_micros, model_delta, relation, mechanism";

inline constexpr char kBudgetColumns[] = "site_id, dataset, limit_micros, spent_micros";

inline constexpr char kSiteColumns[] =
    "site_id, last_seen_unix, certificate_serial, certificate_not_after_unix";

// A delta is kept as exact decimal text (neither backend's integer columns can hold it).
inline std::string FormatDelta(double delta) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", delta);
  return text;
}

template <typename Row>
absl::StatusOr<AuditRecord> ReadAudit(const Row& s) {
  AuditRecord a;
  a.release_id = s.Text(0);
  a.site_id = s.Text(1);
  a.dataset = s.Text(2);
  a.canaries = s.Text(3);
  a.count = static_cast<int>(s.Int(4));
  a.commitment = s.Text(5);
  ASSIGN_OR_RETURN(a.bits, base::ParseStored(s.Text(6), &audit::ParseInclusionBits,
                                             "inclusion bits", a.release_id));
  a.salt = s.Text(7);
  ASSIGN_OR_RETURN(a.positions, base::ParseStored(s.Text(8), &audit::ParsePositions,
                                                  "canary positions", a.release_id));
  ASSIGN_OR_RETURN(
      a.state, base::ParseStored(s.Text(9), &audit::ParseAuditState, "audit state", a.release_id));
  a.created_unix = s.Int(10);
  return a;
}

template <typename Row>
absl::StatusOr<ReleaseRecord> ReadRelease(const Row& s) {
  ReleaseRecord r;
  r.release_id = s.Text(0);
  r.site_id = s.Text(1);
  r.dataset = s.Text(2);
  ASSIGN_OR_RETURN(r.mode, base::ParseStored(s.Text(3), &privacy::ParseReleaseMode, "release mode",
                                             r.release_id));
  r.charge.release_micros = s.Int(4);
  r.rows_declared = s.Int(5);
  r.charge.model_private = s.Int(6) != 0;
  ASSIGN_OR_RETURN(
      r.status, base::ParseStored(s.Text(7), &ParseReleaseStatus, "release status", r.release_id));
  r.next_chunk = static_cast<uint32_t>(s.Int(8));
  r.rows_received = s.Int(9);
  r.sha256 = s.Text(10);
  r.created_unix = s.Int(11);
  r.charge.model_sha256 = s.Text(12);
  r.model_paid_micros = s.Int(13);
  r.charge.model_micros = s.Int(14);
  r.charge.model_delta = std::strtod(s.Text(15).c_str(), nullptr);  // written by FormatDelta
  r.relation = s.Text(16);
  r.mechanism = s.Text(17);
  return r;
}

template <typename Row>
BudgetRow ReadBudget(const Row& r) {
  return BudgetRow{r.Text(0), r.Text(1), r.Int(2), r.Int(3)};
}

template <typename Row>
SiteSeen ReadSite(const Row& r) {
  return SiteSeen{r.Text(0), r.Int(1), r.Text(2), r.Int(3)};
}

template <typename Row>
AuditVerdictRecord ReadVerdict(const std::string& release_id, const Row& s) {
  return AuditVerdictRecord{release_id, s.Int(0) != 0, s.Int(1), s.Int(2),
                            s.Text(3),  s.Text(4),     s.Int(5)};
}

inline constexpr char kVerdictColumns[] =
    "passed, claimed_micros, lower_bound_micros, reason, report, judged_unix";

}  // namespace fedsyn::coordinator::rows

#endif  // FEDSYN_COORDINATOR_STORAGE_ROWS_H_
