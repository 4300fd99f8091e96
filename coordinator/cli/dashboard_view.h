// How the dashboard prints what the admin handler answers: aligned tables for people, JSON
// (--json) for scripts. Presentation only; the reads are ReadTarget's.
#ifndef FEDSYN_COORDINATOR_CLI_DASHBOARD_VIEW_H_
#define FEDSYN_COORDINATOR_CLI_DASHBOARD_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/messages.h"

namespace fedsyn::coordinator::cli {

// "2026-12-01 09:30:00Z", or "never" for 0.
std::string When(int64_t unix_seconds);

// Rows as aligned columns under `header`.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// Sites, budgets, releases or audits as a table or JSON; `one`: a single audit in full (JSON).
void Show(const protocol::AdminResponse& response, bool json, bool one);

// Each site's certificate as last seen (serial, expiry), marking those expired or expiring
// within `warn_days` of `now_unix`.
void ShowSiteCertificates(const std::vector<protocol::SiteStatus>& sites, bool json,
                          int64_t now_unix, int warn_days);

}  // namespace fedsyn::coordinator::cli

#endif  // FEDSYN_COORDINATOR_CLI_DASHBOARD_VIEW_H_
