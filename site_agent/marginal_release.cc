#include "site_agent/marginal_release.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "common/privacy/rdp_accountant.h"
#include "common/privacy/zcdp.h"
#include "nlohmann/json.hpp"
#include "site_agent/manifest.h"
#include "site_agent/pipeline.h"

namespace fedsyn::site {
namespace {

using Json = nlohmann::json;

}  // namespace

absl::StatusOr<PreparedMarginalSynthesis> PrepareMarginalSynthesis(
    const MarginalSynthesisRequest& request, privacy::RandomSource& secure) {
  if (request.output.empty()) return absl::InvalidArgumentError("no output path given");
  if (request.rows < 0 || request.rows > kMaxSampledRows) {
    return absl::InvalidArgumentError("rows must be in [0, " + std::to_string(kMaxSampledRows) +
                                      "] (0: as many as the input)");
  }
  RETURN_IF_ERROR(CheckOutputsAreNotInputs({request.output, request.output + ".manifest.json"},
                                           {request.input_csv, request.schema_path}));
  PreparedMarginalSynthesis prepared;
  ASSIGN_OR_RETURN(prepared.schema, data::Schema::LoadFile(request.schema_path));
  ASSIGN_OR_RETURN(prepared.input, data::ReadCsvTable(request.input_csv, prepared.schema));
  ASSIGN_OR_RETURN(const PrivacyUnits units,
                   BoundContributions(prepared.input, prepared.schema, secure));
  if (units.count < 1) return absl::InvalidArgumentError("the input has no records");
  prepared.rows_dropped = units.rows_dropped;
  prepared.input_rows = prepared.input.table.num_rows();
  ASSIGN_OR_RETURN(prepared.delta,
                   privacy::ResolveDelta(request.delta, units.count, &prepared.delta_warning));
  // No per-record part: every output row is the model's sample.
  ASSIGN_OR_RETURN(prepared.charge, privacy::Charge::Make(0, /*model_private=*/true,
                                                          request.epsilon, prepared.delta));
  ASSIGN_OR_RETURN(const double rho, privacy::ZcdpRhoFor(request.epsilon, prepared.delta));
  char line[256];
  std::snprintf(line, sizeof line,
                "eps_total = %s per %s, delta %.3g (marginal generator: noisy marginals under "
                "zCDP, rho %.6g; no per-record part)",
                privacy::FormatMicros(prepared.charge.model_micros).c_str(),
                prepared.schema.person_index ? "person" : "record", prepared.delta, rho);
  prepared.guarantee_summary = line;
  if (prepared.RowsToSample(request) > kMaxSampledRows) {
    return absl::InvalidArgumentError("the input has more rows than one synthesis samples (" +
                                      std::to_string(kMaxSampledRows) + "): give --rows");
  }
  return prepared;
}

absl::StatusOr<MarginalSynthesisSummary> GenerateMarginalSynthesis(
    const MarginalSynthesisRequest& request, const PreparedMarginalSynthesis& prepared,
    privacy::RandomSource& secure) {
  const data::Schema& schema = prepared.schema;
  MarginalSynthesisSummary summary;
  summary.delta = prepared.delta;
  summary.delta_warning = prepared.delta_warning;
  summary.charge = prepared.charge;
  synth::MarginalOptions options = request.options;
  options.contribution_bound = schema.person_index ? schema.max_rows_per_person : 1;
  ASSIGN_OR_RETURN(const synth::MarginalModel model,
                   synth::MarginalModel::Fit(prepared.input.table, schema, request.epsilon,
                                             summary.delta, options, secure));
  summary.fit = model.report();
  const data::Table synthetic = model.Sample(prepared.RowsToSample(request), secure);
  RETURN_IF_ERROR(data::WriteFileAtomically(
      request.output, data::FormatCsvTable(synthetic, schema, request.formula_cells)));
  summary.output = request.output;
  summary.rows = synthetic.num_rows();
  summary.read_report = prepared.input.report;

  const bool per_person = schema.person_index.has_value();
  summary.guarantee_summary = prepared.guarantee_summary;
  Json guarantee = {
      {"generator", "marginals"},
      {"unit", per_person ? "person (the schema's person identifier; at most " +
                                std::to_string(schema.max_rows_per_person) + " rows each)"
                          : "row"},
      {"rows_per_unit", per_person ? schema.max_rows_per_person : 1},
      {"neighbouring_relation", privacy::NeighbouringRelationName(privacy::kReleaseRelation)},
      {"epsilon_total", request.epsilon},
      {"epsilon_total_micros", summary.charge.model_micros},
      {"epsilon_total_exact", privacy::FormatMicros(summary.charge.model_micros)},
      {"delta", summary.delta},
      {"epsilon_release", 0},
      {"per_record_link",
       "none: every output row is sampled from the fitted model, none is derived from one input "
       "row; the whole epsilon is the model's"},
      {"summary", summary.guarantee_summary},
  };
  ASSIGN_OR_RETURN(Json output_file, FileJson(request.output));
  ASSIGN_OR_RETURN(const std::string input_sha, privacy::Sha256HexOfFile(request.input_csv));
  Json site_only = ReadReportJson(prepared.input.report, schema);
  site_only["input"] = {{"path", request.input_csv}, {"sha256", input_sha}};
  if (prepared.rows_dropped > 0)
    site_only["rows_dropped_beyond_max_rows_per_person"] = prepared.rows_dropped;
  const Json manifest = {
      {"format", "fedsyn-release-manifest"},
      {"version", kManifestVersion},
      {"created_utc", UtcTimestamp()},
      {"kind", "table"},
      {"mode", ReleaseModeName(ReleaseMode::kModelOnly)},  // rows sampled from a private model
      {"rows", summary.rows},
      {"guarantee", guarantee},
      {"mechanism", MarginalFitJson(summary.fit, options)},
      {"labels", "generated jointly by the model (never copied)"},
      {"outputs", Json::array({output_file})},
      {"site_only", site_only},
  };
  summary.manifest_path = request.output + ".manifest.json";
  RETURN_IF_ERROR(data::WriteFileAtomically(summary.manifest_path, manifest.dump(2) + "\n"));
  return summary;
}

absl::StatusOr<MarginalSynthesisSummary> RunMarginalSynthesis(
    const MarginalSynthesisRequest& request, privacy::RandomSource& secure) {
  ASSIGN_OR_RETURN(const PreparedMarginalSynthesis prepared,
                   PrepareMarginalSynthesis(request, secure));
  return GenerateMarginalSynthesis(request, prepared, secure);
}

}  // namespace fedsyn::site
