// fedsyn-agent utility: what a synthetic table is good for, against held-out real rows.
#include <cstdio>
#include <string>

#include "common/base/exit_codes.h"
#include "common/data/table_io.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/utility_check.h"

namespace fedsyn::site::cli {
namespace {

class UtilityCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--synthetic", request_.synthetic_csv,
                   "synthetic CSV as fedsyn writes it (header line; a release or an export)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--real", request_.real_csvs, "real training rows (CSV as the schema says)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--test", request_.test_csvs,
                   "held-out real rows no generator saw (CSV as the schema says)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--schema", request_.schema_path, "schema of the three (its label is probed)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--json", json_, "also write the figures as JSON here");
  }

  int Run(CLI::App&, AgentContext&) override {
    auto check = CheckUtility(request_);
    if (!check.ok()) return Fail(check.status());
    if (!json_.empty()) {
      if (absl::Status st = data::WriteFileAtomically(json_, check->ToJson().dump(1) + "\n");
          !st.ok()) {
        return Fail(st);
      }
    }
    std::printf("%s\n", check->Headline().c_str());
    std::printf(
        "marginals: 1-way TVD mean %.3f (max %.3f), 2-way TVD mean %.3f (max %.3f); values at a "
        "declared bound: worst excess over 2x real + 1%% of rows %.3f\n",
        check->synthetic.mean_tvd_1way, check->synthetic.max_tvd_1way,
        check->synthetic.mean_tvd_2way, check->synthetic.max_tvd_2way,
        check->synthetic.worst_bound_excess);
    return base::kExitOk;
  }

 private:
  UtilityCheckRequest request_;
  std::string json_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeUtilityCommand() { return std::make_unique<UtilityCommand>(); }

}  // namespace fedsyn::site::cli
