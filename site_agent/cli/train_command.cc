// fedsyn-agent train: train a VAE on a table or images, optionally on an audit job's canaries.
#include "site_agent/cli/agent_command.h"
#include "site_agent/cli/train_options.h"

namespace fedsyn::site::cli {
namespace {

class TrainCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override {
    options_.Add(app, /*model_out_required=*/true);
    app.add_option("--audit-job", options_.audit_job,
                   "also train on the canaries this site's audit job includes (docs/audits.md)");
    app.add_option("--site-kit", options_.site_kit, "site.toml (its ledger holds the audit job)")
        ->check(CLI::ExistingFile);
    app.add_option("--dataset", options_.dataset,
                   "the federation dataset the model is for (a DP model's epsilon is charged "
                   "there; implied by --audit-job)");
  }

  int Run(CLI::App& app, AgentContext& context) override { return options_.Run(app, context); }

 private:
  TrainOptions options_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeTrainCommand() { return std::make_unique<TrainCommand>(); }

}  // namespace fedsyn::site::cli
