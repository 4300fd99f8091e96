// fedsyn-coordinator: serve the federation, and the operator's dashboard commands.
//
//   serve    --config coordinator.toml
//   status | budgets | releases  [--json]  --config C --admin-cert A.pem --admin-key A.key
//                                            (through the running coordinator's admin API)
//                                 or  --db coordinator.db  (read-only, coordinator stopped)
//   export   --config C --dataset D --out pooled.csv [--with-site-column]
//   audit run  --config C [--report-dir DIR] [--max-tpr T]   (judge revealed canary audits)
//   audit list | audit show ID   --config C | --db coordinator.db
//   release approve ID --reason "..." [--by NAME] --config C
//
// Exit codes: common/base/exit_codes.h.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/base/exit_codes.h"
#include "common/base/logging.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/random.h"
#include "coordinator/admin.h"
#include "coordinator/admin_client.h"
#include "coordinator/audit_runner.h"
#include "coordinator/export.h"
#include "coordinator/release_gate.h"
#include "coordinator/server.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace {

using fedsyn::protocol::AdminQuery;
using fedsyn::protocol::AdminResponse;
using Json = nlohmann::json;

int Fail(const absl::Status& status) {
  return fedsyn::base::ReportFailure("fedsyn-coordinator", status);
}

std::atomic<bool> g_stop = false;
void OnSignal(int) { g_stop = true; }

// A server's soft descriptor limit is often 1,024 while the hard one is far higher; take what
// the system allows, so the connection caps (not EMFILE) decide when to refuse.
void RaiseDescriptorLimit() {
  rlimit descriptors{};
  if (getrlimit(RLIMIT_NOFILE, &descriptors) != 0 || descriptors.rlim_cur >= descriptors.rlim_max)
    return;
  descriptors.rlim_cur = descriptors.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &descriptors) != 0)
    spdlog::warn("cannot raise the descriptor limit to {}", descriptors.rlim_max);
}

std::string Eps(int64_t micros) { return fedsyn::privacy::FormatMicros(micros); }

std::string When(int64_t unix_seconds) {
  if (unix_seconds == 0) return "never";
  const std::time_t t = unix_seconds;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%SZ", &utc);
  return buffer;
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

// `audit list` (a table, or JSON with --json) and `audit show` (`one`: the audit in full, JSON).
void ShowAudits(const std::vector<fedsyn::protocol::AuditInfo>& audits, bool json, bool one) {
  auto entry = [](const fedsyn::protocol::AuditInfo& a) {
    Json out = {{"release_id", a.release_id},
                {"site", a.site_id},
                {"dataset", a.dataset},
                {"canaries", a.canaries},
                {"included", a.included},
                {"state", fedsyn::audit::AuditStateName(a.state)},
                {"audit", fedsyn::audit::AuditStatusName(a.status)},
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
        {a.release_id, a.site_id, a.dataset, fedsyn::audit::AuditStateName(a.state),
         std::to_string(a.canaries) +
             (a.included == 0 ? "" : " (" + std::to_string(a.included) + " in)"),
         a.claimed_micros < 0 ? "-" : Eps(a.claimed_micros),
         a.lower_bound_micros < 0 ? "-" : Eps(a.lower_bound_micros),
         fedsyn::audit::AuditStatusName(a.status) + std::string(a.approved ? " (approved)" : "")});
  }
  PrintTable({"RELEASE", "SITE", "DATASET", "CANARY STATE", "CANARIES", "CLAIMED EPSILON",
              "EMPIRICAL EPSILON >=", "AUDIT"},
             rows);
}

void Show(const AdminResponse& response, bool json, bool one) {
  if (const auto* sites = std::get_if<std::vector<fedsyn::protocol::SiteStatus>>(&response)) {
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
  } else if (const auto* budgets = std::get_if<std::vector<fedsyn::protocol::Budget>>(&response)) {
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
  } else if (const auto* releases =
                 std::get_if<std::vector<fedsyn::protocol::ReleaseInfo>>(&response)) {
    if (json) {
      Json out = Json::array();
      for (const auto& r : *releases) {
        out.push_back({{"release", r.release_id},
                       {"site", r.site_id},
                       {"dataset", r.dataset},
                       {"state", fedsyn::protocol::ReleaseProgressName(r.state)},
                       {"charge_micros", r.charge_micros},
                       {"rows", r.rows},
                       {"sha256", r.sha256},
                       {"created_unix", r.created_unix},
                       {"model_private", r.model_private},
                       {"mode", fedsyn::privacy::ReleaseModeName(r.mode)},
                       {"audit", fedsyn::audit::AuditStatusName(r.audit)},
                       {"approved", r.approved}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : *releases) {
      rows.push_back(
          {r.release_id, r.site_id, r.dataset, fedsyn::protocol::ReleaseProgressName(r.state),
           Eps(r.charge_micros), std::to_string(r.rows), fedsyn::privacy::ReleaseModeName(r.mode),
           r.model_private ? "private" : "NOT PRIVATE",
           fedsyn::audit::AuditStatusName(r.audit) + std::string(r.approved ? " (approved)" : ""),
           When(r.created_unix)});
    }
    // EPSILON is the release's own charge; a private model's epsilon is charged once, on its
    // first release (`budgets` shows the total spent).
    PrintTable({"RELEASE", "SITE", "DATASET", "STATE", "RELEASE EPSILON", "ROWS", "MODE", "MODEL",
                "AUDIT", "CREATED"},
               rows);
  } else if (const auto* audits =
                 std::get_if<std::vector<fedsyn::protocol::AuditInfo>>(&response)) {
    ShowAudits(*audits, json, one);
  }
}

// The database named by --db, or else by the config file's `database`.
absl::StatusOr<std::unique_ptr<fedsyn::coordinator::Storage>> OpenDatabase(
    const std::string& config_path, const std::string& db_path, bool read_only) {
  if (!db_path.empty()) return fedsyn::coordinator::OpenSqliteStorage(db_path, read_only);
  ASSIGN_OR_RETURN(const auto config, fedsyn::coordinator::LoadCoordinatorConfig(config_path));
  return fedsyn::coordinator::OpenSqliteStorage(config.database, read_only);
}

// Where the dashboard's reads are answered: the live admin API (with the admin certificate),
// or the admin handler over a database read directly (--db, or the config's `database`).
struct ReadTarget {
  std::string config_path, db_path, admin_cert, admin_key;
  bool live() const { return !admin_cert.empty() || !admin_key.empty(); }
  // What the options lack to name a target (a usage error); empty when they name one.
  std::string Missing() const {
    if (live() && (config_path.empty() || admin_cert.empty() || admin_key.empty()))
      return "give --config with both --admin-cert and --admin-key";
    if (!live() && config_path.empty() && db_path.empty())
      return "give --config with --admin-cert and --admin-key (a running coordinator), or --db "
             "or --config alone (its database, read-only)";
    return "";
  }
};

// Every read (status, budgets, releases, audit list, audit show) goes through the admin handler:
// the coordinator's over TLS, or the same handler in process over the database. `target` names
// one (ReadTarget::Missing is empty).
absl::StatusOr<AdminResponse> Read(const fedsyn::protocol::AdminRequest& request,
                                   const ReadTarget& target) {
  if (target.live()) {
    ASSIGN_OR_RETURN(const auto config,
                     fedsyn::coordinator::LoadCoordinatorConfig(target.config_path));
    return fedsyn::coordinator::QueryAdmin(
        config.admin_listen, {config.ca_file, target.admin_cert, target.admin_key}, request);
  }
  ASSIGN_OR_RETURN(auto storage, OpenDatabase(target.config_path, target.db_path,
                                              /*read_only=*/true));
  AdminResponse response = fedsyn::coordinator::HandleAdminRequest(request, *storage, {});
  if (const auto* error = std::get_if<fedsyn::protocol::Error>(&response))
    return absl::Status(error->code, error->message);
  return response;
}

int RunAudit(const std::string& config_path, const fedsyn::coordinator::AuditRunOptions& options) {
  auto config = fedsyn::coordinator::LoadCoordinatorConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  // Read-write next to a running coordinator: SQLite serialises the writers.
  auto storage = fedsyn::coordinator::OpenSqliteStorage(config->database);
  if (!storage.ok()) return Fail(storage.status());
  if (!options.report_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.report_dir, error);
    if (error)
      return Fail(absl::PermissionDeniedError("cannot create " + options.report_dir + ": " +
                                              error.message()));
  }
  fedsyn::privacy::SecureRandom secure;  // decoding codes-mode releases
  auto audits =
      fedsyn::coordinator::RunAudits(**storage, *config, options, secure, std::time(nullptr));
  if (!audits.ok()) return Fail(audits.status());
  if (audits->empty()) std::printf("nothing to judge: no revealed audit without a verdict\n");
  for (const auto& a : *audits) {
    std::printf("dataset %s: %zu release(s) judged, %lld failed\n", a.dataset.c_str(),
                a.judged.size(), static_cast<long long>(a.failed()));
    for (const auto& [site, v] : a.judged) {
      std::printf("  %s  %-10s claimed %s  empirical >= %s  %s%s%s\n", v.release_id.c_str(),
                  site.c_str(), Eps(v.claimed_micros).c_str(), Eps(v.lower_bound_micros).c_str(),
                  v.passed ? "passed" : "failed", v.reason.empty() ? "" : ": ", v.reason.c_str());
    }
    if (!a.html_path.empty())
      std::printf("  report: %s\n  report: %s\n", a.json_path.c_str(), a.html_path.c_str());
  }
  return fedsyn::base::kExitOk;
}

int ApproveRelease(const std::string& config_path, const std::string& id, const std::string& by,
                   const std::string& reason) {
  auto storage = OpenDatabase(config_path, /*db_path=*/"", /*read_only=*/false);
  if (!storage.ok()) return Fail(storage.status());
  const int64_t now = std::time(nullptr);
  if (absl::Status s = (*storage)->Approve({id, by, reason, now}); !s.ok()) return Fail(s);
  std::printf("release %s approved for export by %s at %s: %s\n", id.c_str(), by.c_str(),
              When(now).c_str(), reason.c_str());
  return fedsyn::base::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fedsyn coordinator: pools metric-private releases and keeps the privacy-budget ledger"};
  app.require_subcommand(1);
  std::string log_level = "info", config_path, db_path, admin_cert, admin_key, dataset, out;
  bool json = false, with_site = false, keep_formulas = false;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");

  CLI::App* serve = app.add_subcommand("serve", "serve sites and admins (until SIGINT/SIGTERM)");
  serve->add_option("--config", config_path, "coordinator.toml")
      ->required()
      ->check(CLI::ExistingFile);

  std::map<std::string, AdminQuery> queries = {{"status", AdminQuery::kStatus},
                                               {"budgets", AdminQuery::kBudgets},
                                               {"releases", AdminQuery::kReleases}};
  std::map<std::string, CLI::App*> query_commands;
  // Every read takes the same target: the live admin API, or a database read directly.
  auto add_read_target = [&](CLI::App* cmd) {
    cmd->add_option("--config", config_path,
                    "coordinator.toml (admin address and CA; alone: its database, read-only)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--admin-cert", admin_cert, "admin certificate (from deploy/pki/pki.sh admin)");
    cmd->add_option("--admin-key", admin_key, "admin private key");
    cmd->add_option("--db", db_path, "read a stopped coordinator's database directly (read-only)")
        ->check(CLI::ExistingFile);
  };
  for (const auto& [name, query] : queries) {
    CLI::App* cmd = app.add_subcommand(
        name, name == "status"    ? "sites: connected, last seen, releases, rows, epsilon"
              : name == "budgets" ? "epsilon spent and limit per site and dataset"
                                  : "every release and its state");
    add_read_target(cmd);
    cmd->add_flag("--json", json, "machine-readable output");
    query_commands[name] = cmd;
  }
  CLI::App* export_cmd =
      app.add_subcommand("export", "write the pooled synthetic rows of a dataset");
  export_cmd->add_option("--config", config_path, "coordinator.toml")
      ->required()
      ->check(CLI::ExistingFile);
  export_cmd->add_option("--dataset", dataset, "dataset name")->required();
  export_cmd->add_option("--out", out, "output CSV")->required();
  export_cmd->add_flag("--with-site-column", with_site, "prefix every row with the releasing site");
  export_cmd->add_flag("--keep-formulas", keep_formulas,
                       "write text values verbatim even when a spreadsheet would run them as "
                       "formulas (by default they get a leading ' ; numbers are never changed)");

  CLI::App* audit = app.add_subcommand("audit", "privacy audits of the releases (docs/audits.md)");
  audit->require_subcommand(1);
  fedsyn::coordinator::AuditRunOptions audit_options;
  CLI::App* audit_run = audit->add_subcommand(
      "run", "judge every revealed canary audit, run the downstream audit, write reports");
  audit_run->add_option("--config", config_path, "coordinator.toml")
      ->required()
      ->check(CLI::ExistingFile);
  audit_run->add_option("--report-dir", audit_options.report_dir,
                        "folder for <dataset>-audit.json and .html (created)");
  audit_run
      ->add_option("--max-tpr", audit_options.max_tpr_at_01pct_fpr,
                   "fail a release when an attack's TPR at 0.1% FPR exceeds this")
      ->check(CLI::Range(0.0, 1.0));
  std::string audit_id;
  CLI::App* audit_list = audit->add_subcommand("list", "every canary audit and its status");
  CLI::App* audit_show = audit->add_subcommand("show", "one release's audit and verdict (JSON)");
  audit_show->add_option("id", audit_id, "release id")->required();
  add_read_target(audit_list);
  add_read_target(audit_show);
  audit_list->add_flag("--json", json, "machine-readable output");
  CLI::App* release_cmd = app.add_subcommand("release", "operator decisions about releases");
  release_cmd->require_subcommand(1);
  CLI::App* approve = release_cmd->add_subcommand(
      "approve", "let a failed or unaudited release into exports (recorded: who and why)");
  std::string approve_reason, approve_by;
  approve->add_option("id", audit_id, "release id")->required();
  approve->add_option("--reason", approve_reason, "why it may be exported")->required();
  approve->add_option("--by", approve_by, "who approves (default: $USER)");
  approve->add_option("--config", config_path, "coordinator.toml")
      ->required()
      ->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? fedsyn::base::kExitOk : fedsyn::base::kExitUsage;
  }
  if (absl::Status s = fedsyn::base::SetUpLogging(log_level); !s.ok()) return Fail(s);

  if (*serve) {
    auto config = fedsyn::coordinator::LoadCoordinatorConfig(config_path);
    if (!config.ok()) return Fail(config.status());
    auto storage = fedsyn::coordinator::OpenSqliteStorage(config->database);
    if (!storage.ok()) return Fail(storage.status());
    RaiseDescriptorLimit();
    auto server = fedsyn::coordinator::CoordinatorServer::Start(*config, **storage);
    if (!server.ok()) return Fail(server.status());
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    std::printf("fedsyn-coordinator serving: sites on %s, admins on %s\n", config->listen.c_str(),
                config->admin_listen.c_str());
    std::fflush(stdout);
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*server)->Stop();
    return fedsyn::base::kExitOk;
  }
  const ReadTarget target{config_path, db_path, admin_cert, admin_key};
  auto read_and_show = [&](const fedsyn::protocol::AdminRequest& request, bool one) -> int {
    if (const std::string missing = target.Missing(); !missing.empty()) {
      std::fprintf(stderr, "fedsyn-coordinator: %s\n", missing.c_str());
      return fedsyn::base::kExitUsage;
    }
    auto response = Read(request, target);
    if (!response.ok()) return Fail(response.status());
    Show(*response, json, one);
    return fedsyn::base::kExitOk;
  };
  for (const auto& [name, cmd] : query_commands) {
    if (*cmd) return read_and_show({fedsyn::protocol::kProtocolVersion, queries[name]}, false);
  }
  if (*audit_run) return RunAudit(config_path, audit_options);
  if (*audit_list)
    return read_and_show({fedsyn::protocol::kProtocolVersion, AdminQuery::kAudits}, false);
  if (*audit_show) {
    return read_and_show({fedsyn::protocol::kProtocolVersion, AdminQuery::kAudit, audit_id}, true);
  }
  if (*approve) {
    if (approve_by.empty() && std::getenv("USER") != nullptr) approve_by = std::getenv("USER");
    if (approve_by.empty()) {
      std::fprintf(stderr, "fedsyn-coordinator: say who approves with --by\n");
      return fedsyn::base::kExitUsage;
    }
    return ApproveRelease(config_path, audit_id, approve_by, approve_reason);
  }
  if (*export_cmd) {
    auto config = fedsyn::coordinator::LoadCoordinatorConfig(config_path);
    if (!config.ok()) return Fail(config.status());
    auto storage = fedsyn::coordinator::OpenSqliteStorage(config->database, /*read_only=*/true);
    if (!storage.ok()) return Fail(storage.status());
    fedsyn::privacy::SecureRandom secure;  // the decoder's sampling for codes-mode releases
    auto pooled = fedsyn::coordinator::ExportPooledCsv(
        **storage, *config, dataset, with_site, secure,
        keep_formulas ? fedsyn::data::FormulaCells::kKeep
                      : fedsyn::data::FormulaCells::kNeutralise);
    if (!pooled.ok()) return Fail(pooled.status());
    if (absl::Status s = fedsyn::data::WriteFileAtomically(out, pooled->csv); !s.ok())
      return Fail(s);
    const size_t lines =
        static_cast<size_t>(std::count(pooled->csv.begin(), pooled->csv.end(), '\n'));
    std::printf("exported %zu rows of %s from %zu release(s) to %s (%lld canary rows left out)\n",
                lines - 1, dataset.c_str(), pooled->exported.size(), out.c_str(),
                static_cast<long long>(pooled->canary_rows_removed));
    for (const std::string& id : pooled->held_back) {
      std::fprintf(stderr,
                   "fedsyn-coordinator: release %s held back by the release gate (audit not "
                   "passed; see audit show %s, or release approve)\n",
                   id.c_str(), id.c_str());
    }
    return fedsyn::base::kExitOk;
  }
  return fedsyn::base::kExitUsage;
}
