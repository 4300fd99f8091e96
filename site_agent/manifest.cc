#include "site_agent/manifest.h"

#include <chrono>
#include <ctime>
#include <filesystem>

#include "common/base/utc_time.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "common/privacy/rdp_accountant.h"

namespace fedsyn::site {

using Json = nlohmann::json;

Json MechanismJson(const privacy::MetricMechanism& mechanism) {
  const auto& p = mechanism.params();
  return {
      {"name", p.metric == privacy::NoiseMetric::kL2 ? "metric-privacy-l2-gamma"
                                                     : "metric-privacy-l1-laplace"},
      {"metric", p.metric == privacy::NoiseMetric::kL2 ? "l2" : "l1"},
      {"epsilon_per_unit_distance", p.epsilon_per_unit},
      {"clip_radius", p.clip_radius},
      {"latent_dim", p.dimension},
      {"grid_spacing", mechanism.GridSpacing()},
      {"grid_exponent", *p.grid_exponent},
      {"rounding_slack", mechanism.RoundingSlack()},
      {"record_epsilon_formula", "epsilon_per_unit_distance * (2 * clip_radius + rounding_slack)"},
      {"randomness", "OpenSSL RAND_bytes (fail closed)"}};
}

absl::StatusOr<Json> GuaranteeJson(const Guarantee& guarantee, const privacy::Charge& charge) {
  const std::string unit =
      guarantee.rows_per_person > 0
          ? "person (the schema's person identifier; at most " +
                std::to_string(guarantee.rows_per_person) +
                " rows each, extra rows dropped at random; the identifier never leaves the site)"
          : "row (local DP: each record is noised on its own); if a person has several rows, "
            "their epsilon is the sum over those rows";
  Json j = {{"unit", unit},
            {"rows_per_unit", std::max(1, guarantee.rows_per_person)},
            {"neighbouring_relation", privacy::NeighbouringRelationName(privacy::kReleaseRelation)},
            {"epsilon_codes_per_row", guarantee.epsilon_codes},
            {"epsilon_labels_per_row", guarantee.epsilon_labels},
            {"epsilon_release", guarantee.EpsilonRelease()},
            {"epsilon_release_micros", charge.release_micros},
            {"epsilon_release_exact", privacy::FormatMicros(charge.release_micros)},
            {"composition", "basic (epsilons add; repeated releases of the same records add up)"},
            {"summary", guarantee.Describe()}};
  if (guarantee.model_private) {
    ASSIGN_OR_RETURN(const int64_t total, charge.ClaimedMicros());
    j["model_private"] = true;
    j["epsilon_model"] = guarantee.epsilon_model;
    j["epsilon_model_micros"] = charge.model_micros;
    j["delta"] = guarantee.delta_model;
    j["epsilon_total"] = guarantee.EpsilonTotal();
    j["epsilon_total_micros"] = total;
    j["total_composition"] =
        "basic: epsilon_model (the private model's: DP-SGD or its marginal fit; charged once per "
        "model) + epsilon_release";
  } else {
    j["epsilon_model"] = "not private";
    j["epsilon_total"] = "not private";
    j["model_private"] = false;
    j["warning"] =
        "The VAE was trained on the records without differential privacy (the paper's mode, "
        "allowed by --allow-nonprivate-model). Decoding is not post-processing of a private "
        "model, so epsilon_release does not bound what the synthetic data reveals.";
  }
  return j;
}

absl::StatusOr<Json> FileJson(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string sha, privacy::Sha256HexOfFile(path));
  std::error_code error;
  const auto bytes = std::filesystem::file_size(path, error);
  return Json{{"path", path}, {"sha256", sha}, {"bytes", error ? 0 : bytes}};
}

std::string UtcTimestamp() {
  return base::Iso8601Utc(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

Json ReadReportJson(const data::ReadReport& report, const data::Schema& schema) {
  Json clamped = Json::object(), missing = Json::object();
  for (size_t c = 0; c < report.columns.size(); ++c) {
    clamped[schema.columns[c].name] = report.columns[c].clamped;
    missing[schema.columns[c].name] = report.columns[c].missing;
  }
  return {{"rows", report.rows}, {"clamped_values", clamped}, {"missing_values", missing}};
}

bool SamePath(const std::string& a, const std::string& b) {
  std::error_code error;
  return !a.empty() && !b.empty() &&
         std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

// Outputs must never overwrite the private input or the model they are made from.
absl::Status CheckOutputsAreNotInputs(const std::vector<std::string>& outputs,
                                      const std::vector<std::string>& inputs) {
  for (const std::string& out : outputs) {
    for (const std::string& in : inputs) {
      if (SamePath(out, in)) {
        return absl::InvalidArgumentError("output " + out + " would overwrite the input " + in);
      }
    }
  }
  return absl::OkStatus();
}

Json MarginalFitJson(const synth::MarginalFitReport& fit, const synth::MarginalOptions& options) {
  Json edges = Json::array();
  for (const auto& [a, b] : fit.edges) edges.push_back({a, b});
  return {
      {"name", "marginals"},
      {"accounting",
       "zCDP (Bun & Steinke 2016), converted to (epsilon, delta) by Canonne, Kamath "
       "& Steinke 2020, Cor. 13"},
      {"rho", fit.rho},
      {"noise", "discrete Gaussian on integer counts"},
      {"sigma_one_way", fit.sigma_one_way},
      {"sigma_label", fit.sigma_label},
      {"sigma_clique", fit.sigma_clique},
      {"selection_epsilon_per_step", fit.selection_epsilon_per_step},
      {"selection_steps", fit.selection_steps},
      {"shares",
       {{"one_way", options.one_way_share},
        {"label", options.label_share},
        {"selection", options.selection_share}}},
      {"interior_bins", options.interior_bins},
      {"per_value_limit", options.per_value_limit},
      {"numeric_groups", options.numeric_groups},
      {"contribution_bound", options.contribution_bound},
      {"tables_measured", edges},
  };
}

}  // namespace fedsyn::site
