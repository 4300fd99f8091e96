// fedsyn-agent audit-job: open a canary audit for the next release of a dataset.
#include <cstdio>
#include <string>

#include "common/base/exit_codes.h"
#include "site_agent/audit_job.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/site_kit.h"

namespace fedsyn::site::cli {
namespace {

class AuditJobCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override {
    AddSiteKitOption(app, site_kit_);
    app.add_option("--dataset", dataset_, "the federation's dataset name")->required();
  }

  int Run(CLI::App&, AgentContext& context) override {
    auto kit = LoadSiteKit(site_kit_);
    if (!kit.ok()) return Fail(kit.status());
    auto job = OpenAuditJob(*kit, dataset_, context.secure, {});
    if (!job.ok()) return Fail(job.status());
    if (job->canaries.empty()) {
      std::printf("dataset %s is not audited by the federation: no audit job needed\n",
                  dataset_.c_str());
      return base::kExitOk;
    }
    std::printf(
        "audit job %s: %zu canaries (%zu pairs, one of each included), inclusion committed\n",
        job->release_id.c_str(), 2 * job->bits.size(), job->bits.size());
    std::printf(
        "next: fedsyn-agent train ... --audit-job %s --site-kit %s, then submit ... "
        "--audit-job %s\n",
        job->release_id.c_str(), site_kit_.c_str(), job->release_id.c_str());
    return base::kExitOk;
  }

 private:
  std::string site_kit_, dataset_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeAuditJobCommand() { return std::make_unique<AuditJobCommand>(); }

}  // namespace fedsyn::site::cli
