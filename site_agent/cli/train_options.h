// The training options `train` and `synthesize --generator vae` share, and the training run
// both make with them.
#ifndef FEDSYN_SITE_AGENT_CLI_TRAIN_OPTIONS_H_
#define FEDSYN_SITE_AGENT_CLI_TRAIN_OPTIONS_H_

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"
#include "common/model/vae.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/pipeline.h"

namespace fedsyn::site::cli {

struct TrainOptions {
  TrainRequest train;
  double dp_epsilon = 0;
  double marginal_epsilon = 0;
  double dp_delta = 0;
  model::DpSgdOptions dp;
  uint64_t seed = 0;
  // `train` only: the audit job whose included canaries join the records, and its site kit.
  std::string site_kit, dataset, audit_job;
  // synthesize --generator vae --epsilon E: the whole budget trains the VAE on a private
  // marginal model's samples (marginal_epsilon) and the release is model-only.
  bool whole_budget_to_model = false;

  void Add(CLI::App& cmd, bool model_out_required);
  // Resolves the DP flags against each other and their defaults, trains, prints the summary.
  int Run(const CLI::App& cmd, AgentContext& context);
};

}  // namespace fedsyn::site::cli

#endif  // FEDSYN_SITE_AGENT_CLI_TRAIN_OPTIONS_H_
