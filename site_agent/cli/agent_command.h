// fedsyn-agent's commands (common/base/command_line.h): what they share and the table's entries.
// Each command is one file here; main.cc holds the table and builds the context.
#ifndef FEDSYN_SITE_AGENT_CLI_AGENT_COMMAND_H_
#define FEDSYN_SITE_AGENT_CLI_AGENT_COMMAND_H_

#include <initializer_list>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "common/base/command_line.h"
#include "common/base/status.h"
#include "common/privacy/random.h"

namespace fedsyn::site::cli {

// What main.cc builds once for every command.
struct AgentContext {
  privacy::RandomSource& secure;  // the only source of privacy noise
};

using AgentCommand = base::Command<AgentContext>;

// Reports `status` on stderr as "fedsyn-agent: ..." and returns its exit code.
int Fail(const absl::Status& status);

// The first of `names` given on `cmd`'s command line (options `cmd` does not have count as not
// given), or nullptr: for refusing options that belong to another way of running a command.
const char* FirstGiven(const CLI::App& cmd, std::initializer_list<const char*> names);

// --site-kit PATH (required, an existing file): how the federation commands find their kit.
void AddSiteKitOption(CLI::App& cmd, std::string& path);

std::unique_ptr<AgentCommand> MakeSchemaCommand();
std::unique_ptr<AgentCommand> MakeTrainCommand();
std::unique_ptr<AgentCommand> MakeReleaseCommand();
std::unique_ptr<AgentCommand> MakeSynthesizeCommand();
std::unique_ptr<AgentCommand> MakeSubmitCommand();
std::unique_ptr<AgentCommand> MakeAuditJobCommand();
std::unique_ptr<AgentCommand> MakeHeartbeatCommand();
std::unique_ptr<AgentCommand> MakeEvaluateCommand();
std::unique_ptr<AgentCommand> MakeUtilityCommand();
std::unique_ptr<AgentCommand> MakeResumeCommand();

}  // namespace fedsyn::site::cli

#endif  // FEDSYN_SITE_AGENT_CLI_AGENT_COMMAND_H_
