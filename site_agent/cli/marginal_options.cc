#include "site_agent/cli/marginal_options.h"

#include "site_agent/cli/agent_command.h"

namespace fedsyn::site::cli {

void MarginalOptions::Add(CLI::App& cmd) {
  cmd.add_option("--generator", generator,
                 "marginals: a private graphical model of noisy marginals (default); vae: a VAE "
                 "and the metric mechanism")
      ->check(CLI::IsMember({"marginals", "vae"}));
  cmd.add_option("--epsilon", request.epsilon,
                 "the release's whole epsilon (replace-one, per record or person); vae: all "
                 "of it trains the model on a private marginal model's samples, the release is "
                 "model-only")
      ->check(CLI::Range(1e-6, 1e6));
  cmd.add_option("--delta", delta,
                 "with --epsilon: delta (default min(1e-6, 1/(10n)); refused at 1/n or more)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--rows", request.rows,
                 "marginals: rows to sample (default: as many as the "
                 "input)")
      ->check(CLI::Range(int64_t{0}, kMaxSampledRows));
}

absl::Status MarginalOptions::Resolve(const CLI::App& cmd, const std::string& input_csv,
                                      bool keep_formulas) {
  if (cmd.count("--epsilon") == 0) {
    return absl::InvalidArgumentError("--generator marginals needs --epsilon");
  }
  if (input_csv.empty() || request.schema_path.empty()) {
    return absl::InvalidArgumentError("--generator marginals needs --input and --schema");
  }
  if (const char* vae_only = FirstGiven(
          cmd, {"--model", "--epsilon-d", "--clip-radius", "--dp-epsilon", "--marginal-epsilon",
                "--model-out", "--images", "--labels", "--label-epsilon", "--mode", "--metric",
                "--decoding", "--code-decoding", "--allow-nonprivate-model"})) {
    return absl::InvalidArgumentError(std::string(vae_only) + " belongs to --generator vae");
  }
  request.input_csv = input_csv;
  if (cmd.count("--delta") > 0) request.delta = delta;
  request.formula_cells =
      keep_formulas ? data::FormulaCells::kKeep : data::FormulaCells::kNeutralise;
  return absl::OkStatus();
}

}  // namespace fedsyn::site::cli
