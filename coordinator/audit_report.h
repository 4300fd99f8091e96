// An audit run's report for one dataset (audit_runner.h), typed: what each judged release
// showed, the per-site tally, the downstream audit and the parameters. ToJson gives the report
// file (docs/audits.md); RenderAuditHtml the self-contained HTML page (one file, no external
// resources, ROC curves as inline log-log SVG). Both are drawn from the same fields.
#ifndef FEDSYN_COORDINATOR_AUDIT_REPORT_H_
#define FEDSYN_COORDINATOR_AUDIT_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/eval/model_attacks.h"
#include "common/privacy/release_mode.h"
#include "coordinator/canary_audit.h"
#include "nlohmann/json.hpp"

namespace fedsyn::coordinator {

// One release judged by an audit run.
struct ReleaseAuditEntry {
  std::string release_id, site_id;
  privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic;
  // The claim as reserved (its total, both parts) and what the canaries showed against it.
  double epsilon_model = 0, epsilon_release = 0;
  CanaryVerdict verdict;
  int64_t rows = 0;
  std::string neighbouring_relation;
  // Codes mode with a stated mechanism: whether the canaries are in the codes at all.
  std::optional<PresenceTest> presence;
  bool passed = false;
  std::string reason;  // why it failed; empty when it passed
  nlohmann::json ToJson() const;
};

// Per site: every audited release of the dataset with a verdict, judged now or before.
struct SiteAuditSummary {
  std::string site_id;
  int releases = 0, passed = 0, failed = 0;
  double max_lower_bound = 0;
  nlohmann::json ToJson() const;
};

// A model trained on the dataset's pooled releases, attacked with the included canaries as
// members and the excluded ones as non-members.
struct DownstreamAudit {
  bool ran = false;
  std::string skipped;  // why it did not run (empty: it ran, or nothing to say)
  int64_t pooled_rows = 0, members = 0, nonmembers = 0;
  std::vector<int> target_hidden;
  int target_epochs = 0, reference_models = 0;
  std::vector<eval::NamedAttack> attacks;
  // The attack with the highest TPR at 0.1% FPR, and whether it is above the threshold.
  std::string worst_attack;
  double worst_tpr = 0;
  bool exceeds_threshold = false;
  nlohmann::json ToJson() const;
};

struct AuditParameters {
  double confidence = 0.95;
  int canaries_per_release = 0;
  double max_tpr_at_01pct_fpr = 0.3;
  int bootstrap = 0;
  nlohmann::json ToJson() const;
};

struct AuditReport {
  std::string dataset;
  int64_t created_unix = 0;
  AuditParameters parameters;
  std::vector<ReleaseAuditEntry> releases;  // judged by this run
  std::vector<SiteAuditSummary> sites;
  DownstreamAudit downstream;
  nlohmann::json ToJson() const;  // format fedsyn-audit-report, version 1
};

std::string RenderAuditHtml(const AuditReport& report);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_AUDIT_REPORT_H_
