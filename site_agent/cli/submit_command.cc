// fedsyn-agent submit: release into the federation (reserve budget, noise, persist, upload,
// commit) from a trained VAE or with the marginal generator.
#include <cstdio>
#include <string>

#include "common/base/exit_codes.h"
#include "common/privacy/budget.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/cli/marginal_options.h"
#include "site_agent/cli/release_options.h"
#include "site_agent/site_kit.h"
#include "site_agent/submit.h"

namespace fedsyn::site::cli {
namespace {

class SubmitCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override {
    release_.Add(app, /*needs_model_and_input=*/true, /*output_required=*/false);
    AddSiteKitOption(app, site_kit_);
    app.add_option("--dataset", dataset_, "the federation's dataset name")->required();
    app.add_option("--audit-job", release_.release.audit_job,
                   "release under this audit job (its canaries join the input; revealed after "
                   "the commit)");
    // Either a trained VAE (--model: the metric mechanism, or --mode model-only) or the marginal
    // generator (--generator marginals --input --schema --epsilon): the default follows --model.
    app.get_option("--model")->required(false);
    marginals_.Add(app);
    app.add_option("--schema", marginals_.request.schema_path,
                   "marginals: the schema of --input (the federation's declaration of it)")
        ->check(CLI::ExistingFile);
  }

  int Run(CLI::App& app, AgentContext& context) override {
    // The options first (exit 3 for a wrong combination), then the kit.
    const bool marginals =
        app.count("--generator") > 0 ? marginals_.marginals() : release_.release.model_path.empty();
    if (marginals) {
      if (absl::Status st =
              marginals_.Resolve(app, release_.release.input_csv, release_.keep_formulas);
          !st.ok())
        return Fail(st);
    } else {
      if (release_.release.model_path.empty()) {
        return Fail(absl::InvalidArgumentError("--generator vae needs --model (a trained VAE)"));
      }
      if (const char* marginal_only =
              FirstGiven(app, {"--epsilon", "--delta", "--rows", "--schema"})) {
        return Fail(absl::InvalidArgumentError(std::string(marginal_only) +
                                               " belongs to --generator marginals"));
      }
      if (absl::Status st = release_.Resolve(app); !st.ok()) return Fail(st);
    }
    auto kit = LoadSiteKit(site_kit_);
    if (!kit.ok()) return Fail(kit.status());
    auto summary = marginals
                       ? SubmitMarginalSynthesis(marginals_.request, release_.release.audit_job,
                                                 *kit, dataset_, context.secure, {})
                       : SubmitRelease(release_.release, *kit, dataset_, context.secure, {});
    if (!summary.ok()) return Fail(summary.status());
    std::printf(
        "release %s committed (%s): %lld rows, charged %s epsilon, %s remaining at the "
        "coordinator\n",
        summary->release_id.c_str(), marginals ? "marginals, model-only" : release_.mode.c_str(),
        static_cast<long long>(summary->rows),
        privacy::FormatMicros(summary->charged_micros).c_str(),
        privacy::FormatMicros(summary->coordinator_remaining_micros).c_str());
    std::printf("guarantee: %s\n", summary->guarantee.c_str());
    std::printf("spooled output (site only): %s\n", summary->spool_path.c_str());
    return base::kExitOk;
  }

 private:
  ReleaseOptions release_;
  MarginalOptions marginals_;
  std::string site_kit_, dataset_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeSubmitCommand() { return std::make_unique<SubmitCommand>(); }

}  // namespace fedsyn::site::cli
