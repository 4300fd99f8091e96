// fedsyn-agent heartbeat: stay connected to the coordinator until SIGINT or SIGTERM (the
// agent's long-running service).
#include <chrono>
#include <string>
#include <vector>

#include "common/base/exit_codes.h"
#include "common/base/stop_signals.h"
#include "common/net/tls.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/coordinator_client.h"
#include "site_agent/site_kit.h"

namespace fedsyn::site::cli {
namespace {

class HeartbeatCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override {
    AddSiteKitOption(app, site_kit_);
    app.add_option("--interval", seconds_, "seconds between heartbeats")
        ->check(CLI::Range(1, 3600));
    app.add_flag("--check-config", check_only_,
                 "check the site kit and the files it names (keys, TLS files, ledger and spool "
                 "folders) and exit: 0 if all is well, 3 with each problem otherwise");
  }

  int Run(CLI::App&, AgentContext& context) override {
    auto kit = LoadSiteKit(site_kit_);
    if (check_only_) {
      return base::ReportConfigCheck(
          "fedsyn-agent", site_kit_,
          kit.ok() ? net::CheckServiceFiles({kit->ca_file, kit->cert_file, kit->key_file},
                                            {{"ledger", kit->ledger_path}})
                   : std::vector<std::string>{std::string(kit.status().message())});
    }
    if (!kit.ok()) return Fail(kit.status());
    KeepPresence(*kit, {}, std::chrono::seconds(seconds_), base::StopOnSignals(),
                 [&context] { return context.secure.UniformOpen01(); });
    return base::kExitOk;
  }

 private:
  std::string site_kit_;
  int seconds_ = 30;
  bool check_only_ = false;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeHeartbeatCommand() {
  return std::make_unique<HeartbeatCommand>();
}

}  // namespace fedsyn::site::cli
