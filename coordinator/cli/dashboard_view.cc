#include "coordinator/cli/dashboard_view.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "common/audit/canary_protocol.h"
#include "common/privacy/budget.h"
#include "nlohmann/json.hpp"

namespace fedsyn::coordinator::cli {
namespace {

using Json = nlohmann::json;

std::string Eps(int64_t micros) { return privacy::FormatMicros(micros); }

// `audit list` (a table, or JSON with --json) and `audit show` (`one`: the audit in full, JSON).
void ShowAudits(const std::vector<protocol::AuditInfo>& audits, bool json, bool one) {
  auto entry = [](const protocol::AuditInfo& a) {
    Json out = {{"release_id", a.release_id},
                {"site", a.site_id},
                {"dataset", a.dataset},
                {"canaries", a.canaries},
                {"included", a.included},
                {"state", audit::AuditStateName(a.state)},
                {"audit", audit::AuditStatusName(a.status)},
                {"why", a.why}};
    if (a.claimed_micros >= 0) {
      out["claimed_epsilon_micros"] = a.claimed_micros;
      out["empirical_lower_bound_micros"] = a.lower_bound_micros;
      out["judged"] = When(a.judged_unix);
    }
    if (a.approved) {
      out["approval"] = {
          {"by", a.approved_by}, {"reason", a.approval_reason}, {"when", When(a.approved_unix)}};
    }
    // The report as the audit stored it (JSON it wrote); anything else shows as text.
    if (!a.verdict_json.empty()) {
      Json verdict = Json::parse(a.verdict_json, nullptr, /*allow_exceptions=*/false);
      out["verdict"] = verdict.is_discarded() ? Json(a.verdict_json) : verdict;
    }
    return out;
  };
  if (one && !audits.empty()) {
    std::cout << entry(audits.front()).dump(2) << "\n";
    return;
  }
  if (json) {
    Json out = Json::array();
    for (const auto& a : audits) out.push_back(entry(a));
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : audits) {
    rows.push_back(
        {a.release_id, a.site_id, a.dataset, audit::AuditStateName(a.state),
         std::to_string(a.canaries) +
             (a.included == 0 ? "" : " (" + std::to_string(a.included) + " in)"),
         a.claimed_micros < 0 ? "-" : Eps(a.claimed_micros),
         a.lower_bound_micros < 0 ? "-" : Eps(a.lower_bound_micros),
         audit::AuditStatusName(a.status) + std::string(a.approved ? " (approved)" : "")});
  }
  PrintTable({"RELEASE", "SITE", "DATASET", "CANARY STATE", "CANARIES", "CLAIMED EPSILON",
              "EMPIRICAL EPSILON >=", "AUDIT"},
             rows);
}

}  // namespace

std::string When(int64_t unix_seconds) {
  if (unix_seconds == 0) return "never";
  const std::time_t t = unix_seconds;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%SZ", &utc);
  return buffer;
}

void ShowSiteCertificates(const std::vector<protocol::SiteStatus>& sites, bool json,
                          int64_t now_unix, int warn_days) {
  Json out = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sites) {
    const bool known = s.certificate_not_after_unix != 0;
    const int64_t seconds_left = s.certificate_not_after_unix - now_unix;
    const int64_t days_left = seconds_left / 86400;
    const bool expired = known && seconds_left <= 0;
    const bool expiring = known && !expired && seconds_left < int64_t{warn_days} * 86400;
    if (json) {
      out.push_back({{"site", s.site_id},
                     {"connected", s.connected},
                     {"last_seen_unix", s.last_seen_unix},
                     {"certificate_serial", s.certificate_serial},
                     {"certificate_not_after_unix", s.certificate_not_after_unix},
                     {"expired", expired},
                     {"expiring_soon", expiring}});
      continue;
    }
    const std::string note = !known    ? "certificate not seen yet"
                             : expired ? "EXPIRED: issue a new one (pki.sh rotate)"
                             : expiring
                                 ? "EXPIRES in " + std::to_string(days_left) + " days: rotate it"
                                 : "";
    rows.push_back({s.site_id, s.connected ? "connected" : "-", When(s.last_seen_unix),
                    known ? s.certificate_serial : "-",
                    known ? When(s.certificate_not_after_unix) : "-", note});
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return;
  }
  PrintTable({"SITE", "STATE", "LAST SEEN", "CERTIFICATE", "EXPIRES", ""}, rows);
}

// Prints rows as aligned columns.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t c = 0; c < cells.size(); ++c) {
      text += cells[c];
      if (c + 1 < cells.size()) text += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    std::printf("%s\n", text.c_str());
  };
  line(header);
  for (const auto& row : rows) line(row);
}

void Show(const protocol::AdminResponse& response, bool json, bool one) {
  if (const auto* sites = std::get_if<std::vector<protocol::SiteStatus>>(&response)) {
    if (json) {
      Json out = Json::array();
      for (const auto& s : *sites) {
        out.push_back({{"site", s.site_id},
                       {"connected", s.connected},
                       {"last_seen_unix", s.last_seen_unix},
                       {"releases", s.releases},
                       {"rows", s.rows},
                       {"spent_micros", s.spent_micros},
                       {"limit_micros", s.limit_micros},
                       {"audits",
                        {{"passed", s.audits_passed},
                         {"failed", s.audits_failed},
                         {"pending", s.audits_pending}}}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : *sites) {
      rows.push_back({s.site_id, s.connected ? "connected" : "-", When(s.last_seen_unix),
                      std::to_string(s.releases), std::to_string(s.rows),
                      Eps(s.spent_micros) + " / " + Eps(s.limit_micros),
                      std::to_string(s.audits_passed) + " passed, " +
                          std::to_string(s.audits_failed) + " failed, " +
                          std::to_string(s.audits_pending) + " pending"});
    }
    PrintTable(
        {"SITE", "STATE", "LAST SEEN", "RELEASES", "ROWS", "EPSILON SPENT / LIMIT", "AUDITS"},
        rows);
  } else if (const auto* budgets = std::get_if<std::vector<protocol::Budget>>(&response)) {
    if (json) {
      Json out = Json::array();
      for (const auto& b : *budgets) {
        out.push_back({{"site", b.site_id},
                       {"dataset", b.dataset},
                       {"spent_micros", b.spent_micros},
                       {"limit_micros", b.limit_micros}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : *budgets) {
      rows.push_back({b.site_id, b.dataset, Eps(b.spent_micros), Eps(b.limit_micros),
                      Eps(b.limit_micros - b.spent_micros)});
    }
    PrintTable({"SITE", "DATASET", "SPENT", "LIMIT", "REMAINING"}, rows);
  } else if (const auto* releases = std::get_if<std::vector<protocol::ReleaseInfo>>(&response)) {
    if (json) {
      Json out = Json::array();
      for (const auto& r : *releases) {
        out.push_back({{"release", r.release_id},
                       {"site", r.site_id},
                       {"dataset", r.dataset},
                       {"state", protocol::ReleaseProgressName(r.state)},
                       {"charge_micros", r.charge_micros},
                       {"rows", r.rows},
                       {"sha256", r.sha256},
                       {"created_unix", r.created_unix},
                       {"model_private", r.model_private},
                       {"mode", privacy::ReleaseModeName(r.mode)},
                       {"audit", audit::AuditStatusName(r.audit)},
                       {"approved", r.approved}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : *releases) {
      rows.push_back(
          {r.release_id, r.site_id, r.dataset, protocol::ReleaseProgressName(r.state),
           Eps(r.charge_micros), std::to_string(r.rows), privacy::ReleaseModeName(r.mode),
           r.model_private ? "private" : "NOT PRIVATE",
           audit::AuditStatusName(r.audit) + std::string(r.approved ? " (approved)" : ""),
           When(r.created_unix)});
    }
    // EPSILON is the release's own charge; a private model's epsilon is charged once, on its
    // first release (`budgets` shows the total spent).
    PrintTable({"RELEASE", "SITE", "DATASET", "STATE", "RELEASE EPSILON", "ROWS", "MODE", "MODEL",
                "AUDIT", "CREATED"},
               rows);
  } else if (const auto* audits = std::get_if<std::vector<protocol::AuditInfo>>(&response)) {
    ShowAudits(*audits, json, one);
  }
}

}  // namespace fedsyn::coordinator::cli
