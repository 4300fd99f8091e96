#include "site_agent/marginal_release.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "common/privacy/rdp_accountant.h"
#include "nlohmann/json.hpp"
#include "site_agent/manifest.h"
#include "site_agent/pipeline.h"

namespace fedsyn::site {
namespace {

using Json = nlohmann::json;

}  // namespace

absl::StatusOr<MarginalSynthesisSummary> RunMarginalSynthesis(
    const MarginalSynthesisRequest& request, privacy::RandomSource& secure) {
  if (request.output.empty()) return absl::InvalidArgumentError("no output path given");
  if (request.rows < 0 || request.rows > kMaxSampledRows) {
    return absl::InvalidArgumentError("rows must be in [0, " + std::to_string(kMaxSampledRows) +
                                      "] (0: as many as the input)");
  }
  const std::string manifest_path = request.output + ".manifest.json";
  RETURN_IF_ERROR(CheckOutputsAreNotInputs({request.output, manifest_path},
                                           {request.input_csv, request.schema_path}));
  ASSIGN_OR_RETURN(const data::Schema schema, data::Schema::LoadFile(request.schema_path));
  ASSIGN_OR_RETURN(data::ReadResult read, data::ReadCsvTable(request.input_csv, schema));
  ASSIGN_OR_RETURN(const PrivacyUnits units, BoundContributions(read, schema, secure));
  if (units.count < 1) return absl::InvalidArgumentError("the input has no records");

  MarginalSynthesisSummary summary;
  ASSIGN_OR_RETURN(summary.delta,
                   privacy::ResolveDelta(request.delta, units.count, &summary.delta_warning));
  ASSIGN_OR_RETURN(summary.charge_micros, privacy::EpsilonToChargeMicros(request.epsilon));
  synth::MarginalOptions options = request.options;
  options.contribution_bound = schema.person_index ? schema.max_rows_per_person : 1;
  ASSIGN_OR_RETURN(const synth::MarginalModel model,
                   synth::MarginalModel::Fit(read.table, schema, request.epsilon, summary.delta,
                                             options, secure));
  summary.fit = model.report();
  const int64_t rows = request.rows > 0 ? request.rows : read.table.num_rows();
  const data::Table synthetic = model.Sample(rows, secure);
  RETURN_IF_ERROR(data::WriteFileAtomically(
      request.output, data::FormatCsvTable(synthetic, schema, request.formula_cells)));
  summary.output = request.output;
  summary.rows = synthetic.num_rows();
  summary.read_report = read.report;

  const bool per_person = schema.person_index.has_value();
  char line[256];
  std::snprintf(line, sizeof line,
                "eps_total = %s per %s, delta %.3g (marginal generator: noisy marginals under "
                "zCDP, rho %.6g; no per-record part)",
                privacy::FormatMicros(summary.charge_micros).c_str(),
                per_person ? "person" : "record", summary.delta, summary.fit.rho);
  summary.guarantee_summary = line;
  Json guarantee = {
      {"generator", "marginals"},
      {"unit", per_person ? "person (the schema's person identifier; at most " +
                                std::to_string(schema.max_rows_per_person) + " rows each)"
                          : "row"},
      {"rows_per_unit", per_person ? schema.max_rows_per_person : 1},
      {"neighbouring_relation", privacy::NeighbouringRelationName(privacy::kReleaseRelation)},
      {"epsilon_total", request.epsilon},
      {"epsilon_total_micros", summary.charge_micros},
      {"epsilon_total_exact", privacy::FormatMicros(summary.charge_micros)},
      {"delta", summary.delta},
      {"epsilon_release", 0},
      {"per_record_link",
       "none: every output row is sampled from the fitted model, none is derived from one input "
       "row; the whole epsilon is the model's"},
      {"summary", summary.guarantee_summary},
  };
  ASSIGN_OR_RETURN(Json output_file, FileJson(request.output));
  ASSIGN_OR_RETURN(const std::string input_sha, privacy::Sha256HexOfFile(request.input_csv));
  Json site_only = ReadReportJson(read.report, schema);
  site_only["input"] = {{"path", request.input_csv}, {"sha256", input_sha}};
  if (units.rows_dropped > 0)
    site_only["rows_dropped_beyond_max_rows_per_person"] = units.rows_dropped;
  const Json manifest = {
      {"format", "fedsyn-release-manifest"},
      {"version", kManifestVersion},
      {"created_utc", UtcTimestamp()},
      {"kind", "table"},
      {"mode", "synthetic"},
      {"rows", summary.rows},
      {"guarantee", guarantee},
      {"mechanism", MarginalFitJson(summary.fit, options)},
      {"labels", "generated jointly by the model (never copied)"},
      {"outputs", Json::array({output_file})},
      {"site_only", site_only},
  };
  summary.manifest_path = manifest_path;
  RETURN_IF_ERROR(data::WriteFileAtomically(manifest_path, manifest.dump(2) + "\n"));
  return summary;
}

}  // namespace fedsyn::site
