// fedsyn-coordinator: serve the federation, and the operator's dashboard commands. The table of
// commands (one file each under coordinator/cli/) and the concrete objects they share.
//
//   serve    --config coordinator.toml
//   status | budgets | releases  [--json]  --config C --admin-cert A.pem --admin-key A.key
//                                            (through the running coordinator's admin API)
//                                 or  --db coordinator.db  (read-only, coordinator stopped)
//   export   --config C --dataset D --out pooled.csv [--with-site-column]
//   audit run  --config C [--report-dir DIR] [--max-tpr T]   (judge revealed canary audits)
//   audit list | audit show ID   --config C | --db coordinator.db
//   release approve ID --reason "..." [--by NAME] --config C
//
// Exit codes: common/base/exit_codes.h.
#include <vector>

#include "CLI/CLI.hpp"
#include "common/base/command_line.h"
#include "common/base/compute_environment.h"
#include "common/privacy/random.h"
#include "coordinator/cli/coordinator_command.h"

int main(int argc, char** argv) {
  fedsyn::base::PrepareComputeProcess(argv);  // before any compute thread exists
  using namespace fedsyn::coordinator::cli;   // NOLINT: the table names every command
  const std::vector<fedsyn::base::CommandEntry<CoordinatorContext>> commands = {
      {"serve", "serve sites and admins (until SIGINT/SIGTERM)", &MakeServeCommand},
      {"status", "sites: connected, last seen, releases, rows, epsilon", &MakeStatusCommand},
      {"budgets", "epsilon spent and limit per site and dataset", &MakeBudgetsCommand},
      {"sites", "each site's certificate: serial and expiry, marking those expiring soon",
       &MakeSitesCommand},
      {"releases", "every release and its state", &MakeReleasesCommand},
      {"export", "write the pooled synthetic rows of a dataset", &MakeExportCommand},
      {"audit", "privacy audits of the releases (docs/audits.md)", &MakeAuditCommand},
      {"release", "operator decisions about releases", &MakeReleaseCommand},
  };
  CLI::App app{
      "fedsyn coordinator: pools metric-private releases and keeps the privacy-budget ledger"};
  fedsyn::privacy::SecureRandom secure;
  CoordinatorContext context{secure};
  return fedsyn::base::RunCommandLine("fedsyn-coordinator", app, commands, context, argc, argv);
}
