// fedsyn-agent: the site agent's command line. The table of commands (one file each under
// site_agent/cli/) and the concrete objects they share; all logic lives in the library.
//
// Exit codes: common/base/exit_codes.h (0 success; 1 internal error; 2 bad command line;
// 3 invalid input; 4 file missing or damaged; 5 refused for privacy reasons, e.g. a release
// from a non-private model without --allow-nonprivate-model; 6 coordinator unreachable).
#include <vector>

#include "CLI/CLI.hpp"
#include "common/base/command_line.h"
#include "common/base/compute_environment.h"
#include "common/privacy/random.h"
#include "site_agent/cli/agent_command.h"

int main(int argc, char** argv) {
  fedsyn::base::PrepareComputeProcess(argv);  // before any compute thread exists
  using namespace fedsyn::site::cli;          // NOLINT: the table names every command
  const std::vector<fedsyn::base::CommandEntry<AgentContext>> commands = {
      {"schema", "schema helpers", &MakeSchemaCommand},
      {"train", "train a VAE on a CSV table (with a schema) or IDX images", &MakeTrainCommand},
      {"release", "release metric-private synthetic data from a trained model",
       &MakeReleaseCommand},
      {"synthesize",
       "the whole site pipeline: --generator marginals fits a private graphical model to noisy "
       "marginals under --epsilon/--delta and samples from it; --generator vae trains a VAE, "
       "then releases through the metric mechanism (--epsilon-d, --clip-radius)",
       &MakeSynthesizeCommand},
      {"submit", "release into the federation: reserve budget, noise, persist, upload, commit",
       &MakeSubmitCommand},
      {"audit-job",
       "open a canary audit for the next release of a dataset: fetch canaries, draw and commit "
       "the inclusion bits (then train and submit with --audit-job)",
       &MakeAuditJobCommand},
      {"heartbeat", "stay connected to the coordinator and send heartbeats until SIGINT/SIGTERM",
       &MakeHeartbeatCommand},
      {"evaluate",
       "membership-inference and utility experiment on this site's records (aggregates only)",
       &MakeEvaluateCommand},
      {"utility",
       "what a synthetic table is good for: a classifier trained on it, tested on held-out real "
       "rows, beside the same classifier trained on real rows; marginal distances; values at "
       "bounds",
       &MakeUtilityCommand},
      {"resume", "finish uploads interrupted by a crash or a lost connection", &MakeResumeCommand},
  };
  CLI::App app{
      "fedsyn site agent: turns a hospital's table or images into metric-private synthetic data"};
  app.set_config("--config", "",
                 "TOML file with option values ([train], [release], [synthesize] sections)");
  fedsyn::privacy::SecureRandom secure;
  AgentContext context{secure};
  return fedsyn::base::RunCommandLine("fedsyn-agent", app, commands, context, argc, argv);
}
