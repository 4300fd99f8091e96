// fedsyn-coordinator's commands (common/base/command_line.h): what they share and the table's
// entries. Each command is one file here; main.cc holds the table and builds the context.
#ifndef FEDSYN_COORDINATOR_CLI_COORDINATOR_COMMAND_H_
#define FEDSYN_COORDINATOR_CLI_COORDINATOR_COMMAND_H_

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "common/base/command_line.h"
#include "common/base/status.h"
#include "common/privacy/random.h"
#include "coordinator/storage.h"
#include "protocol/messages.h"

namespace fedsyn::coordinator::cli {

// What main.cc builds once for every command.
struct CoordinatorContext {
  privacy::RandomSource& secure;  // decoding codes-mode releases (export, audits)
};

using CoordinatorCommand = base::Command<CoordinatorContext>;

// Reports `status` on stderr as "fedsyn-coordinator: ..." and returns its exit code.
int Fail(const absl::Status& status);

// The database named by --db, or else by the config file's `database`.
absl::StatusOr<std::unique_ptr<Storage>> OpenDatabase(const std::string& config_path,
                                                      const std::string& db_path, bool read_only);

// Where the dashboard's reads are answered: the live admin API (with the admin certificate),
// or the admin handler over a database read directly (--db, or the config's `database`).
struct ReadTarget {
  std::string config_path, db_path, admin_cert, admin_key;

  // --config, --admin-cert, --admin-key and --db on `cmd`.
  void Add(CLI::App& cmd);
  bool live() const { return !admin_cert.empty() || !admin_key.empty(); }
  // What the options lack to name a target (a usage error); empty when they name one.
  std::string Missing() const;
  // The request answered by the admin handler: the coordinator's over TLS, or the same handler
  // in process over the database.
  absl::StatusOr<protocol::AdminResponse> Read(const protocol::AdminRequest& request) const;
  // Read and print (dashboard_view.h); the exit code.
  int ReadAndShow(const protocol::AdminRequest& request, bool json, bool one) const;
  // Read and hand the answer to `use`, whose result is the exit code; a missing option or a
  // failed read is reported and its exit code returned instead.
  int ReadThen(const protocol::AdminRequest& request,
               const std::function<int(const protocol::AdminResponse&)>& use) const;
};

std::unique_ptr<CoordinatorCommand> MakeServeCommand();
std::unique_ptr<CoordinatorCommand> MakeStatusCommand();
std::unique_ptr<CoordinatorCommand> MakeSitesCommand();
std::unique_ptr<CoordinatorCommand> MakeBudgetsCommand();
std::unique_ptr<CoordinatorCommand> MakeReleasesCommand();
std::unique_ptr<CoordinatorCommand> MakeExportCommand();
std::unique_ptr<CoordinatorCommand> MakeAuditCommand();
std::unique_ptr<CoordinatorCommand> MakeReleaseCommand();

}  // namespace fedsyn::coordinator::cli

#endif  // FEDSYN_COORDINATOR_CLI_COORDINATOR_COMMAND_H_
