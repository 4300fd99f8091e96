#include "site_agent/cli/release_options.h"

#include <cstdio>

#include "common/base/exit_codes.h"
#include "common/privacy/budget.h"

namespace fedsyn::site::cli {

void ReleaseOptions::Add(CLI::App& cmd, bool needs_model_and_input, bool output_required) {
  if (needs_model_and_input) {
    cmd.add_option("--model", release.model_path, "trained model file")
        ->required()
        ->check(CLI::ExistingFile);
    cmd.add_option("--input", release.input_csv, "CSV records to release (table models)")
        ->check(CLI::ExistingFile);
    cmd.add_option("--images", release.images_idx, "IDX images to release (image models)")
        ->check(CLI::ExistingFile);
    cmd.add_option("--max-images", release.max_images, "use only the first N images")
        ->check(CLI::NonNegativeNumber);
  }
  cmd.add_option("--labels", release.labels_idx, "IDX labels to release by randomized response")
      ->check(CLI::ExistingFile);
  cmd.add_option("--label-epsilon", release.label_epsilon,
                 "epsilon of randomized response on labels")
      ->check(CLI::PositiveNumber);
  auto* out =
      cmd.add_option("--out", release.output, "output CSV (tables) or file prefix (images)");
  if (output_required) out->required();
  cmd.add_option("--epsilon-d", release.mechanism.epsilon_per_unit,
                 "metric-privacy epsilon per unit latent distance")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--clip-radius", release.mechanism.clip_radius, "clip radius R of latent codes")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--metric", metric, "l2 (Gamma radius, clip in L2) or l1 (Laplace, clip in L1)")
      ->check(CLI::IsMember({"l2", "l1"}));
  cmd.add_option("--grid-exponent", grid_exponent, "output grid spacing 2^G (default: from R)")
      ->check(CLI::Range(-60, 10));
  cmd.add_option(
         "--decoding", decoding,
         "sample from the decoder's distribution (default) or take its most likely value (argmax)")
      ->check(CLI::IsMember({"sample", "argmax"}));
  cmd.add_option("--code-decoding", code_decoding,
                 "what the decoder is fed: posterior (a draw of the code's centre given the "
                 "noised code; default), posterior-mean, or noised (the noised code itself)")
      ->check(CLI::IsMember({"posterior", "posterior-mean", "noised"}));
  cmd.add_option("--mode", mode,
                 "synthetic: release decoded records (default); codes: release the noised codes "
                 "and the published decoder (DP-trained table models only); model-only: decode "
                 "codes drawn from the prior, as many as the input has rows (no per-record "
                 "epsilon; tables)")
      ->check(CLI::IsMember({privacy::ReleaseModeName(privacy::ReleaseMode::kSynthetic),
                             privacy::ReleaseModeName(privacy::ReleaseMode::kCodes),
                             privacy::ReleaseModeName(privacy::ReleaseMode::kModelOnly)}));
  cmd.add_flag("--allow-nonprivate-model", release.allow_nonprivate_model,
               "release from a VAE trained without DP (the paper's mode; no end-to-end guarantee)");
  cmd.add_flag("--keep-formulas", keep_formulas,
               "write text values verbatim even when a spreadsheet would run them as formulas "
               "(by default they get a leading ' ; numbers are never changed)");
}

absl::Status ReleaseOptions::Resolve(const CLI::App& cmd) {
  release.mechanism.metric = metric == "l1" ? privacy::NoiseMetric::kL1 : privacy::NoiseMetric::kL2;
  if (cmd.count("--grid-exponent") > 0) release.mechanism.grid_exponent = grid_exponent;
  release.formula_cells =
      keep_formulas ? data::FormulaCells::kKeep : data::FormulaCells::kNeutralise;
  release.decoding =
      decoding == "argmax" ? data::DecodingMode::kArgmax : data::DecodingMode::kSample;
  release.code_decoding = *privacy::ParseCodeDecoding(code_decoding);  // CLI-checked
  release.mode = privacy::ParseReleaseMode(mode).value_or(privacy::ReleaseMode::kSynthetic);
  const size_t mechanism_given = cmd.count("--epsilon-d") + cmd.count("--clip-radius");
  if (release.mode == ReleaseMode::kModelOnly) {
    if (mechanism_given > 0) {
      return absl::InvalidArgumentError(
          "--mode model-only noises no code: drop --epsilon-d and --clip-radius");
    }
    return absl::OkStatus();
  }
  if (cmd.count("--epsilon-d") == 0 || cmd.count("--clip-radius") == 0) {
    return absl::InvalidArgumentError(
        "the release needs --epsilon-d and --clip-radius (the metric mechanism), or --mode "
        "model-only");
  }
  return absl::OkStatus();
}

int ReleaseOptions::Run(AgentContext& context) {
  auto summary = RunRelease(release, context.secure);
  if (!summary.ok()) return Fail(summary.status());
  std::printf("released %lld %s\n", static_cast<long long>(summary->rows),
              release.mode == ReleaseMode::kCodes ? "noised codes" : "synthetic records");
  for (const std::string& out : summary->outputs) std::printf("output: %s\n", out.c_str());
  std::printf("manifest: %s\n", summary->manifest_path.c_str());
  std::printf("guarantee: %s\n", summary->guarantee.Describe().c_str());
  std::printf("charge: %s epsilon per record\n",
              privacy::FormatMicros(summary->charge.release_micros).c_str());
  if (!summary->guarantee.model_private) {
    std::fprintf(
        stderr,
        "fedsyn-agent: WARNING: released with a NON-PRIVATE model (--allow-nonprivate-model)\n");
  }
  return base::kExitOk;
}

}  // namespace fedsyn::site::cli
