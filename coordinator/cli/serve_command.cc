// fedsyn-coordinator serve: serve sites and admins until SIGINT or SIGTERM.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/base/exit_codes.h"
#include "common/base/stop_signals.h"
#include "common/net/tls.h"
#include "coordinator/cli/coordinator_command.h"
#include "coordinator/federation.h"
#include "coordinator/server.h"
#include "spdlog/spdlog.h"

namespace fedsyn::coordinator::cli {
namespace {

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

// What --check-config finds wrong: the TLS files, and the database — an SQLite file's folder
// must exist; a PostgreSQL server must accept a connection (nothing is read or written).
std::vector<std::string> CheckFiles(const CoordinatorConfig& config) {
  if (!IsPostgresDatabase(config.database)) {
    return net::CheckServiceFiles(config.tls_files(), {{"database", config.database}});
  }
  std::vector<std::string> problems = net::CheckServiceFiles(config.tls_files(), {});
  if (absl::Status reached = ProbePostgres(config.database); !reached.ok())
    problems.push_back("database: " + std::string(reached.message()));
  return problems;
}

class ServeCommand : public CoordinatorCommand {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--config", config_path_, "coordinator.toml")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_flag("--check-config", check_only_,
                 "check the configuration and the files it names (keys, schemas, database "
                 "folder, TLS files) and exit: 0 if all is well, 3 with each problem otherwise");
  }

  int Run(CLI::App&, CoordinatorContext&) override {
    auto config = LoadCoordinatorConfig(config_path_);
    if (check_only_) {
      return base::ReportConfigCheck(
          "fedsyn-coordinator", config_path_,
          config.ok() ? CheckFiles(*config)
                      : std::vector<std::string>{std::string(config.status().message())});
    }
    if (!config.ok()) return Fail(config.status());
    auto storage = OpenStorage(config->database);
    if (!storage.ok()) return Fail(storage.status());
    RaiseDescriptorLimit();
    ServerOptions options;
    options.handshake_deadline = std::chrono::seconds(config->handshake_timeout_seconds);
    options.idle_deadline = std::chrono::seconds(config->idle_timeout_seconds);
    options.write_deadline = std::chrono::seconds(config->write_timeout_seconds);
    auto server = CoordinatorServer::Start(*config, **storage, options);
    if (!server.ok()) return Fail(server.status());
    const std::atomic<bool>& stop = base::StopOnSignals();
    std::printf("fedsyn-coordinator serving: sites on %s, admins on %s\n", config->listen.c_str(),
                config->admin_listen.c_str());
    std::fflush(stdout);
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*server)->Stop();
    return base::kExitOk;
  }

 private:
  std::string config_path_;
  bool check_only_ = false;
};

}  // namespace

std::unique_ptr<CoordinatorCommand> MakeServeCommand() { return std::make_unique<ServeCommand>(); }

}  // namespace fedsyn::coordinator::cli
