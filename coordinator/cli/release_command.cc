// fedsyn-coordinator release approve: the operator lets a failed or unaudited release into
// exports, recorded with who and why.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "common/base/exit_codes.h"
#include "coordinator/cli/coordinator_command.h"
#include "coordinator/cli/dashboard_view.h"

namespace fedsyn::coordinator::cli {
namespace {

class ReleaseCommand : public CoordinatorCommand {
 public:
  void Define(CLI::App& app) override {
    app.require_subcommand(1);
    CLI::App* approve = app.add_subcommand(
        "approve", "let a failed or unaudited release into exports (recorded: who and why)");
    approve->add_option("id", release_id_, "release id")->required();
    approve->add_option("--reason", reason_, "why it may be exported")->required();
    approve->add_option("--by", by_, "who approves (default: $USER)");
    approve->add_option("--config", config_path_, "coordinator.toml")
        ->required()
        ->check(CLI::ExistingFile);
  }

  int Run(CLI::App&, CoordinatorContext&) override {
    if (by_.empty() && std::getenv("USER") != nullptr) by_ = std::getenv("USER");
    if (by_.empty()) {
      std::fprintf(stderr, "fedsyn-coordinator: say who approves with --by\n");
      return base::kExitUsage;
    }
    auto storage = OpenDatabase(config_path_, /*db_path=*/"", /*read_only=*/false);
    if (!storage.ok()) return Fail(storage.status());
    const int64_t now = std::time(nullptr);
    if (absl::Status s = (*storage)->Approve({release_id_, by_, reason_, now}); !s.ok())
      return Fail(s);
    std::printf("release %s approved for export by %s at %s: %s\n", release_id_.c_str(),
                by_.c_str(), When(now).c_str(), reason_.c_str());
    return base::kExitOk;
  }

 private:
  std::string release_id_, reason_, by_, config_path_;
};

}  // namespace

std::unique_ptr<CoordinatorCommand> MakeReleaseCommand() {
  return std::make_unique<ReleaseCommand>();
}

}  // namespace fedsyn::coordinator::cli
