// fedsyn-coordinator export: the pooled synthetic rows of a dataset, as the release gate lets
// them through.
#include <algorithm>
#include <cstdio>
#include <string>

#include "common/base/exit_codes.h"
#include "common/data/table_io.h"
#include "coordinator/cli/coordinator_command.h"
#include "coordinator/export.h"
#include "coordinator/federation.h"

namespace fedsyn::coordinator::cli {
namespace {

class ExportCommand : public CoordinatorCommand {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--config", config_path_, "coordinator.toml")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--dataset", dataset_, "dataset name")->required();
    app.add_option("--out", out_, "output CSV")->required();
    app.add_flag("--with-site-column", with_site_, "prefix every row with the releasing site");
    app.add_flag("--keep-formulas", keep_formulas_,
                 "write text values verbatim even when a spreadsheet would run them as "
                 "formulas (by default they get a leading ' ; numbers are never changed)");
  }

  int Run(CLI::App&, CoordinatorContext& context) override {
    auto config = LoadCoordinatorConfig(config_path_);
    if (!config.ok()) return Fail(config.status());
    auto storage = OpenStorage(config->database, /*read_only=*/true);
    if (!storage.ok()) return Fail(storage.status());
    auto pooled = ExportPooledCsv(
        **storage, *config, dataset_, with_site_, context.secure,
        keep_formulas_ ? data::FormulaCells::kKeep : data::FormulaCells::kNeutralise);
    if (!pooled.ok()) return Fail(pooled.status());
    if (absl::Status s = data::WriteFileAtomically(out_, pooled->csv); !s.ok()) return Fail(s);
    const size_t lines =
        static_cast<size_t>(std::count(pooled->csv.begin(), pooled->csv.end(), '\n'));
    std::printf("exported %zu rows of %s from %zu release(s) to %s (%lld canary rows left out)\n",
                lines - 1, dataset_.c_str(), pooled->exported.size(), out_.c_str(),
                static_cast<long long>(pooled->canary_rows_removed));
    for (const std::string& id : pooled->held_back) {
      std::fprintf(stderr,
                   "fedsyn-coordinator: release %s held back by the release gate (audit not "
                   "passed; see audit show %s, or release approve)\n",
                   id.c_str(), id.c_str());
    }
    return base::kExitOk;
  }

 private:
  std::string config_path_, dataset_, out_;
  bool with_site_ = false, keep_formulas_ = false;
};

}  // namespace

std::unique_ptr<CoordinatorCommand> MakeExportCommand() {
  return std::make_unique<ExportCommand>();
}

}  // namespace fedsyn::coordinator::cli
