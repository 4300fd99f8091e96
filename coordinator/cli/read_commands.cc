// fedsyn-coordinator status | budgets | releases: the dashboard's tables, each one admin query
// through the read target (the live admin API or the database).
#include "coordinator/cli/coordinator_command.h"

namespace fedsyn::coordinator::cli {
namespace {

class ReadCommand : public CoordinatorCommand {
 public:
  explicit ReadCommand(protocol::AdminQuery query) : query_(query) {}

  void Define(CLI::App& app) override {
    target_.Add(app);
    app.add_flag("--json", json_, "machine-readable output");
  }

  int Run(CLI::App&, CoordinatorContext&) override {
    return target_.ReadAndShow({protocol::kProtocolVersion, query_}, json_, /*one=*/false);
  }

 private:
  const protocol::AdminQuery query_;
  ReadTarget target_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<CoordinatorCommand> MakeStatusCommand() {
  return std::make_unique<ReadCommand>(protocol::AdminQuery::kStatus);
}
std::unique_ptr<CoordinatorCommand> MakeBudgetsCommand() {
  return std::make_unique<ReadCommand>(protocol::AdminQuery::kBudgets);
}
std::unique_ptr<CoordinatorCommand> MakeReleasesCommand() {
  return std::make_unique<ReadCommand>(protocol::AdminQuery::kReleases);
}

}  // namespace fedsyn::coordinator::cli
