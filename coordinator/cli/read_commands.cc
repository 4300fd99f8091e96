// fedsyn-coordinator status | budgets | releases | sites: the dashboard's tables, each one admin
// query through the read target (the live admin API or the database).
#include <ctime>

#include "common/base/exit_codes.h"
#include "coordinator/cli/coordinator_command.h"
#include "coordinator/cli/dashboard_view.h"

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

// The certificate each site last connected with, and which expire soon: what an operator checks
// before rotating (deploy/pki/pki.sh rotate).
class SitesCommand : public CoordinatorCommand {
 public:
  void Define(CLI::App& app) override {
    target_.Add(app);
    app.add_flag("--json", json_, "machine-readable output");
    app.add_option("--warn-days", warn_days_,
                   "mark certificates that expire within this many days (default 30)")
        ->check(CLI::Range(0, 3650));
  }

  int Run(CLI::App&, CoordinatorContext&) override {
    return target_.ReadThen(
        {protocol::kProtocolVersion, protocol::AdminQuery::kStatus},
        [&](const protocol::AdminResponse& response) -> int {
          const auto* sites = std::get_if<std::vector<protocol::SiteStatus>>(&response);
          if (sites == nullptr) {
            return Fail(
                absl::InternalError("the coordinator answered a status query with another reply"));
          }
          ShowSiteCertificates(*sites, json_, std::time(nullptr), warn_days_);
          return base::kExitOk;
        });
  }

 private:
  ReadTarget target_;
  bool json_ = false;
  int warn_days_ = 30;
};

}  // namespace

std::unique_ptr<CoordinatorCommand> MakeSitesCommand() { return std::make_unique<SitesCommand>(); }

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
