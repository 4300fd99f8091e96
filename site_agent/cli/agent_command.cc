#include "site_agent/cli/agent_command.h"

#include "common/base/exit_codes.h"

namespace fedsyn::site::cli {

int Fail(const absl::Status& status) { return base::ReportFailure("fedsyn-agent", status); }

const char* FirstGiven(const CLI::App& cmd, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const CLI::Option* option = cmd.get_option_no_throw(name);
    if (option != nullptr && option->count() > 0) return name;
  }
  return nullptr;
}

void AddSiteKitOption(CLI::App& cmd, std::string& path) {
  cmd.add_option("--site-kit", path, "site.toml from the site kit")
      ->required()
      ->check(CLI::ExistingFile);
}

}  // namespace fedsyn::site::cli
