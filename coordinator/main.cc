// fedsyn-coordinator: serve the federation, and the operator's dashboard commands.
//
//   serve    --config coordinator.toml
//   status | budgets | releases  [--json]  --config C --admin-cert A.pem --admin-key A.key
//                                            (through the running coordinator's admin API)
//                                 or  --db coordinator.db  (read-only, coordinator stopped)
//   export   --config C --dataset D --out pooled.csv [--with-site-column]
//
// Exit codes: common/base/exit_codes.h.
#include <csignal>
#include <cstdio>
#include <ctime>
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
#include "coordinator/export.h"
#include "coordinator/server.h"
#include "nlohmann/json.hpp"

namespace {

using fedsyn::protocol::AdminQuery;
using fedsyn::protocol::AdminResponse;
using Json = nlohmann::json;

int Fail(const absl::Status& status) {
  return fedsyn::base::ReportFailure("fedsyn-coordinator", status);
}

std::atomic<bool> g_stop = false;
void OnSignal(int) { g_stop = true; }

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

void Show(const AdminResponse& response, bool json) {
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
                       {"limit_micros", s.limit_micros}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : *sites) {
      rows.push_back({s.site_id, s.connected ? "connected" : "-", When(s.last_seen_unix),
                      std::to_string(s.releases), std::to_string(s.rows),
                      Eps(s.spent_micros) + " / " + Eps(s.limit_micros)});
    }
    PrintTable({"SITE", "STATE", "LAST SEEN", "RELEASES", "ROWS", "EPSILON SPENT / LIMIT"}, rows);
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
                       {"state", r.state},
                       {"charge_micros", r.charge_micros},
                       {"rows", r.rows},
                       {"sha256", r.sha256},
                       {"created_unix", r.created_unix},
                       {"model_private", r.model_private},
                       {"mode", r.mode}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : *releases) {
      rows.push_back({r.release_id, r.site_id, r.dataset, r.state, Eps(r.charge_micros),
                      std::to_string(r.rows), r.mode, r.model_private ? "DP-SGD" : "NOT PRIVATE",
                      When(r.created_unix)});
    }
    PrintTable(
        {"RELEASE", "SITE", "DATASET", "STATE", "EPSILON", "ROWS", "MODE", "MODEL", "CREATED"},
        rows);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fedsyn coordinator: pools metric-private releases and keeps the privacy-budget ledger"};
  app.require_subcommand(1);
  std::string log_level = "info", config_path, db_path, admin_cert, admin_key, dataset, out;
  bool json = false, with_site = false;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");

  CLI::App* serve = app.add_subcommand("serve", "serve sites and admins (until SIGINT/SIGTERM)");
  serve->add_option("--config", config_path, "coordinator.toml")
      ->required()
      ->check(CLI::ExistingFile);

  std::map<std::string, AdminQuery> queries = {{"status", AdminQuery::kStatus},
                                               {"budgets", AdminQuery::kBudgets},
                                               {"releases", AdminQuery::kReleases}};
  std::map<std::string, CLI::App*> query_commands;
  for (const auto& [name, query] : queries) {
    CLI::App* cmd = app.add_subcommand(
        name, name == "status"    ? "sites: connected, last seen, releases, rows, epsilon"
              : name == "budgets" ? "epsilon spent and limit per site and dataset"
                                  : "every release and its state");
    cmd->add_option("--config", config_path, "coordinator.toml (admin address and CA)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--admin-cert", admin_cert, "admin certificate (from deploy/pki/pki.sh admin)");
    cmd->add_option("--admin-key", admin_key, "admin private key");
    cmd->add_option("--db", db_path, "read a stopped coordinator's database directly (read-only)")
        ->check(CLI::ExistingFile);
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
  for (const auto& [name, cmd] : query_commands) {
    if (!*cmd) continue;
    AdminResponse response;
    if (!db_path.empty()) {
      auto storage = fedsyn::coordinator::OpenSqliteStorage(db_path, /*read_only=*/true);
      if (!storage.ok()) return Fail(storage.status());
      response = fedsyn::coordinator::HandleAdminRequest(
          {fedsyn::protocol::kProtocolVersion, queries[name]}, **storage, {});
      if (const auto* e = std::get_if<fedsyn::protocol::Error>(&response))
        return Fail(absl::Status(e->code, e->message));
    } else {
      if (config_path.empty() || admin_cert.empty() || admin_key.empty()) {
        std::fprintf(
            stderr,
            "fedsyn-coordinator: give --config with --admin-cert and --admin-key, or --db\n");
        return fedsyn::base::kExitUsage;
      }
      auto config = fedsyn::coordinator::LoadCoordinatorConfig(config_path);
      if (!config.ok()) return Fail(config.status());
      auto answer = fedsyn::coordinator::QueryAdmin(
          config->admin_listen, {config->ca_file, admin_cert, admin_key}, queries[name]);
      if (!answer.ok()) return Fail(answer.status());
      response = *answer;
    }
    Show(response, json);
    return fedsyn::base::kExitOk;
  }
  if (*export_cmd) {
    auto config = fedsyn::coordinator::LoadCoordinatorConfig(config_path);
    if (!config.ok()) return Fail(config.status());
    auto storage = fedsyn::coordinator::OpenSqliteStorage(config->database, /*read_only=*/true);
    if (!storage.ok()) return Fail(storage.status());
    fedsyn::privacy::SecureRandom secure;  // the decoder's sampling for codes-mode releases
    auto csv = fedsyn::coordinator::ExportPooledCsv(**storage, *config, dataset, with_site, secure);
    if (!csv.ok()) return Fail(csv.status());
    if (absl::Status s = fedsyn::data::WriteFileAtomically(out, *csv); !s.ok()) return Fail(s);
    const size_t lines = static_cast<size_t>(std::count(csv->begin(), csv->end(), '\n'));
    std::printf("exported %zu rows of %s to %s\n", lines - 1, dataset.c_str(), out.c_str());
    return fedsyn::base::kExitOk;
  }
  return fedsyn::base::kExitUsage;
}
