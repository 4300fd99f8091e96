// fedsyn-agent heartbeat: stay connected to the coordinator until SIGINT or SIGTERM (the
// agent's long-running service).
#include <chrono>
#include <string>

#include "common/base/exit_codes.h"
#include "common/base/stop_signals.h"
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
  }

  int Run(CLI::App&, AgentContext& context) override {
    auto kit = LoadSiteKit(site_kit_);
    if (!kit.ok()) return Fail(kit.status());
    KeepPresence(*kit, {}, std::chrono::seconds(seconds_), base::StopOnSignals(),
                 [&context] { return context.secure.UniformOpen01(); });
    return base::kExitOk;
  }

 private:
  std::string site_kit_;
  int seconds_ = 30;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeHeartbeatCommand() {
  return std::make_unique<HeartbeatCommand>();
}

}  // namespace fedsyn::site::cli
