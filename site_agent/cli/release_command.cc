// fedsyn-agent release: release metric-private synthetic data from a trained model.
#include "site_agent/cli/agent_command.h"
#include "site_agent/cli/release_options.h"

namespace fedsyn::site::cli {
namespace {

class ReleaseCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override { options_.Add(app, /*needs_model_and_input=*/true); }

  int Run(CLI::App& app, AgentContext& context) override {
    if (absl::Status st = options_.Resolve(app); !st.ok()) return Fail(st);
    return options_.Run(context);
  }

 private:
  ReleaseOptions options_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeReleaseCommand() { return std::make_unique<ReleaseCommand>(); }

}  // namespace fedsyn::site::cli
