#include "coordinator/admin.h"

#include <map>

#include "coordinator/release_gate.h"
#include "coordinator/release_progress.h"

namespace fedsyn::coordinator {
namespace {

absl::StatusOr<std::vector<protocol::SiteStatus>> SiteStatuses(
    Storage& storage, const std::multiset<std::string>& connected) {
  std::map<std::string, protocol::SiteStatus> sites;
  ASSIGN_OR_RETURN(const auto budgets, storage.ListBudgets());
  for (const BudgetRow& b : budgets) {
    auto& s = sites[b.site_id];
    s.site_id = b.site_id;
    s.spent_micros += b.spent_micros;
    s.limit_micros += b.limit_micros;
  }
  ASSIGN_OR_RETURN(const std::vector<SiteSeen> seen, storage.SitesSeen());
  for (const SiteSeen& row : seen) {
    auto& s = sites[row.site_id];
    s.site_id = row.site_id;
    s.last_seen_unix = row.last_seen_unix;
    s.certificate_serial = row.certificate_serial;
    s.certificate_not_after_unix = row.certificate_not_after_unix;
  }
  ASSIGN_OR_RETURN(const auto releases, storage.ListReleases());
  for (const ReleaseRecord& r : releases) {
    auto& s = sites[r.site_id];
    s.site_id = r.site_id;
    if (r.status == ReleaseStatus::kCommitted) {
      ++s.releases;
      s.rows += r.rows_received;
      ASSIGN_OR_RETURN(const GateDecision gate, DecideGate(storage, r));
      ++(gate.status == AuditStatus::kPassed   ? s.audits_passed
         : gate.status == AuditStatus::kFailed ? s.audits_failed
                                               : s.audits_pending);
    }
  }
  std::vector<protocol::SiteStatus> out;
  for (auto& [id, s] : sites) {
    s.connected = connected.contains(id);
    out.push_back(s);
  }
  return out;
}

// One audit as the dashboard shows it: its canary state, where its release stands at the gate
// (pending while the release does not exist), its verdict's figures and, in `full`, the report.
absl::StatusOr<protocol::AuditInfo> AuditInfoOf(Storage& storage, const AuditRecord& a, bool full) {
  protocol::AuditInfo info;
  info.release_id = a.release_id;
  info.site_id = a.site_id;
  info.dataset = a.dataset;
  info.state = a.state;
  info.canaries = a.count;
  info.included = static_cast<int64_t>(a.bits.size());  // one canary per pair, once revealed
  ASSIGN_OR_RETURN(const std::optional<ReleaseRecord> release, storage.GetRelease(a.release_id));
  if (release) {
    ASSIGN_OR_RETURN(const GateDecision gate, DecideGate(storage, *release));
    info.status = gate.status;
    info.why = gate.why;
    if (gate.approval) {
      info.approved = true;
      info.approved_by = gate.approval->approved_by;
      info.approval_reason = gate.approval->reason;
      info.approved_unix = gate.approval->approved_unix;
    }
  }
  ASSIGN_OR_RETURN(const std::optional<AuditVerdictRecord> verdict,
                   storage.GetVerdict(a.release_id));
  if (verdict) {
    info.claimed_micros = verdict->claimed_micros;
    info.lower_bound_micros = verdict->lower_bound_micros;
    info.judged_unix = verdict->judged_unix;
    if (full) info.verdict_json = verdict->report_json;
  }
  return info;
}

absl::StatusOr<std::vector<protocol::AuditInfo>> Audits(Storage& storage,
                                                        const protocol::AdminRequest& request) {
  std::vector<protocol::AuditInfo> out;
  if (request.query == protocol::AdminQuery::kAudit) {
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, storage.GetAudit(request.release_id));
    if (!audit) return absl::NotFoundError("release " + request.release_id + " has no audit");
    ASSIGN_OR_RETURN(protocol::AuditInfo info, AuditInfoOf(storage, *audit, /*full=*/true));
    out.push_back(std::move(info));
    return out;
  }
  ASSIGN_OR_RETURN(const std::vector<AuditRecord> audits, storage.ListAudits());
  for (const AuditRecord& a : audits) {
    ASSIGN_OR_RETURN(protocol::AuditInfo info, AuditInfoOf(storage, a, /*full=*/false));
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

protocol::AdminResponse HandleAdminRequest(const protocol::AdminRequest& request, Storage& storage,
                                           const std::multiset<std::string>& connected) {
  if (request.protocol_version != protocol::kProtocolVersion) {
    return protocol::ErrorFromStatus(absl::FailedPreconditionError(
        "protocol version " + std::to_string(request.protocol_version) +
        " is not supported; this coordinator speaks version " +
        std::to_string(protocol::kProtocolVersion)));
  }
  switch (request.query) {
    case protocol::AdminQuery::kStatus: {
      auto statuses = SiteStatuses(storage, connected);
      if (!statuses.ok()) return protocol::ErrorFromStatus(statuses.status());
      return *statuses;
    }
    case protocol::AdminQuery::kBudgets: {
      auto budgets = storage.ListBudgets();
      if (!budgets.ok()) return protocol::ErrorFromStatus(budgets.status());
      std::vector<protocol::Budget> out;
      for (const BudgetRow& b : *budgets)
        out.push_back({b.site_id, b.dataset, b.limit_micros, b.spent_micros});
      return out;
    }
    case protocol::AdminQuery::kReleases: {
      auto releases = storage.ListReleases();
      if (!releases.ok()) return protocol::ErrorFromStatus(releases.status());
      std::vector<protocol::ReleaseInfo> out;
      for (const ReleaseRecord& r : *releases) {
        auto gate = DecideGate(storage, r);
        if (!gate.ok()) return protocol::ErrorFromStatus(gate.status());
        out.push_back({r.release_id, r.site_id, r.dataset, ReleaseProgressOf(r.status),
                       r.charge.release_micros, r.rows_received, r.sha256, r.created_unix,
                       r.charge.model_private, r.mode, gate->status, gate->approval.has_value()});
      }
      return out;
    }
    case protocol::AdminQuery::kAudits:
    case protocol::AdminQuery::kAudit: {
      auto audits = Audits(storage, request);
      if (!audits.ok()) return protocol::ErrorFromStatus(audits.status());
      return *audits;
    }
  }
  return protocol::ErrorFromStatus(absl::InvalidArgumentError("unknown admin query"));
}

}  // namespace fedsyn::coordinator
