// fedsyn-agent schema infer: propose a schema from a CSV file.
#include <cstdio>
#include <string>
#include <vector>

#include "common/base/exit_codes.h"
#include "common/data/schema_infer.h"
#include "common/data/table_io.h"
#include "site_agent/cli/agent_command.h"

namespace fedsyn::site::cli {
namespace {

class SchemaCommand : public AgentCommand {
 public:
  void Define(CLI::App& app) override {
    app.require_subcommand(1);
    infer_ = app.add_subcommand("infer",
                                "propose a schema from a CSV file (review it: it leaks the data)");
    infer_->add_option("input", input_, "CSV file")->required()->check(CLI::ExistingFile);
    infer_->add_option("--out", out_, "write the proposal here instead of stdout");
    infer_->add_flag("--header", header_, "the first line holds column names");
    infer_->add_option("--delimiter", delimiter_, "field delimiter");
    infer_->add_option("--name", name_, "dataset name");
    infer_->add_option("--missing", missing_, "missing-value tokens");
  }

  int Run(CLI::App&, AgentContext&) override {
    std::fprintf(stderr, "%s\n", data::kInferWarning);
    if (delimiter_.size() != 1)
      return Fail(absl::InvalidArgumentError("the delimiter must be one character"));
    data::InferOptions options;
    options.header = header_;
    options.delimiter = delimiter_[0];
    options.missing_tokens = missing_;
    options.dataset_name = name_;
    auto toml = data::InferSchemaToml(input_, options);
    if (!toml.ok()) return Fail(toml.status());
    if (out_.empty()) {
      std::fputs(toml->c_str(), stdout);
    } else if (absl::Status st = data::WriteFileAtomically(out_, *toml); !st.ok()) {
      return Fail(st);
    }
    return base::kExitOk;
  }

 private:
  CLI::App* infer_ = nullptr;
  std::string input_, out_, name_ = "dataset", delimiter_ = ",";
  bool header_ = false;
  std::vector<std::string> missing_ = {"?", ""};
};

}  // namespace

std::unique_ptr<AgentCommand> MakeSchemaCommand() { return std::make_unique<SchemaCommand>(); }

}  // namespace fedsyn::site::cli
