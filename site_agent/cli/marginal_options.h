// The marginal generator's options `synthesize` and `submit` share.
#ifndef FEDSYN_SITE_AGENT_CLI_MARGINAL_OPTIONS_H_
#define FEDSYN_SITE_AGENT_CLI_MARGINAL_OPTIONS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "site_agent/marginal_release.h"

namespace fedsyn::site::cli {

struct MarginalOptions {
  std::string generator = "marginals";  // or vae (CLI-checked)
  MarginalSynthesisRequest request;
  double delta = 0;

  void Add(CLI::App& cmd);
  bool marginals() const { return generator == "marginals"; }
  // The request from `cmd`'s options and the records at `input_csv`, refusing the options that
  // belong to the VAE path.
  absl::Status Resolve(const CLI::App& cmd, const std::string& input_csv, bool keep_formulas);
};

}  // namespace fedsyn::site::cli

#endif  // FEDSYN_SITE_AGENT_CLI_MARGINAL_OPTIONS_H_
