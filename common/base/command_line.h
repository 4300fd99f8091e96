// A program's command line as a table of commands: each command declares its own options on its
// CLI11 subcommand and runs with them, so a program's main.cc is the table and the concrete
// objects the commands share (its Context), and each command lives in a small file of its own.
//
// What every fedsyn program's command line shares lives here too: --log-level, exactly one
// command, exit code 2 for a command line CLI11 refuses (0 for --help), logging set up before
// the command runs.
#ifndef FEDSYN_COMMON_BASE_COMMAND_LINE_H_
#define FEDSYN_COMMON_BASE_COMMAND_LINE_H_

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/base/exit_codes.h"
#include "common/base/logging.h"

namespace fedsyn::base {

// One command of a program. `Context` holds what the program's main builds once and every
// command may use (a secure random source, say).
template <class Context>
class Command {
 public:
  virtual ~Command() = default;
  // Adds the command's options, and any commands nested under it, to `app`.
  virtual void Define(CLI::App& app) = 0;
  // Runs once `app` (the command's own) has parsed; returns an exit code (exit_codes.h).
  virtual int Run(CLI::App& app, Context& context) = 0;
};

template <class Context>
struct CommandEntry {
  const char* name;
  const char* description;
  std::unique_ptr<Command<Context>> (*make)();
};

// Adds the table's commands to `app` (whose own options the caller has added), parses, sets up
// logging and runs the one command given.
template <class Context>
int RunCommandLine(const char* program, CLI::App& app,
                   const std::vector<CommandEntry<Context>>& table, Context& context, int argc,
                   char** argv) {
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
  std::vector<std::pair<CLI::App*, std::unique_ptr<Command<Context>>>> commands;
  for (const CommandEntry<Context>& entry : table) {
    CLI::App* sub = app.add_subcommand(entry.name, entry.description);
    std::unique_ptr<Command<Context>> command = entry.make();
    command->Define(*sub);
    commands.emplace_back(sub, std::move(command));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (const absl::Status status = SetUpLogging(log_level); !status.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, std::string(status.message()).c_str());
    return kExitUsage;
  }
  for (auto& [sub, command] : commands)
    if (sub->parsed()) return command->Run(*sub, context);
  return kExitUsage;
}

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_COMMAND_LINE_H_
