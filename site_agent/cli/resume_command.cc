// fedsyn-agent resume: finish the uploads a crash or a lost connection interrupted.
#include <cstdio>
#include <string>

#include "common/base/exit_codes.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/site_kit.h"
#include "site_agent/submit.h"

namespace fedsyn::site::cli {
namespace {

class ResumeCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override { AddSiteKitOption(app, site_kit_); }

  int Run(CLI::App&, AgentContext& context) override {
    auto kit = LoadSiteKit(site_kit_);
    if (!kit.ok()) return Fail(kit.status());
    auto committed = ResumePending(*kit, {}, [&context] { return context.secure.UniformOpen01(); });
    if (!committed.ok()) return Fail(committed.status());
    std::printf("resumed: %d release(s) committed\n", *committed);
    return base::kExitOk;
  }

 private:
  std::string site_kit_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeResumeCommand() { return std::make_unique<ResumeCommand>(); }

}  // namespace fedsyn::site::cli
