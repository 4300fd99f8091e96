// The release options `release`, `synthesize --generator vae` and `submit` share: the metric
// mechanism, decoding and the release mode.
#ifndef FEDSYN_SITE_AGENT_CLI_RELEASE_OPTIONS_H_
#define FEDSYN_SITE_AGENT_CLI_RELEASE_OPTIONS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "site_agent/cli/agent_command.h"
#include "site_agent/pipeline.h"

namespace fedsyn::site::cli {

struct ReleaseOptions {
  ReleaseRequest release;
  // As typed; Resolve turns them into the request's enums (CLI11 has checked the names).
  std::string metric = "l2", decoding = "sample", mode = "synthetic", code_decoding = "posterior";
  bool keep_formulas = false;
  int grid_exponent = 0;

  // `needs_model_and_input`: --model, --input, --images and --max-images (not for synthesize,
  // which trains the model and reads the records itself).
  void Add(CLI::App& cmd, bool needs_model_and_input, bool output_required = true);
  // Fills the request from the typed names, then checks the mechanism's options against the
  // mode: --epsilon-d and --clip-radius are required unless the mode releases no codes.
  absl::Status Resolve(const CLI::App& cmd);
  // Releases and prints the summary.
  int Run(AgentContext& context);
};

}  // namespace fedsyn::site::cli

#endif  // FEDSYN_SITE_AGENT_CLI_RELEASE_OPTIONS_H_
