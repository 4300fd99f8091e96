#include "site_agent/cli/train_options.h"

#include <cstdio>

#include "common/base/exit_codes.h"
#include "common/base/progress.h"
#include "common/data/schema.h"
#include "site_agent/audit_job.h"
#include "site_agent/site_kit.h"

namespace fedsyn::site::cli {

void TrainOptions::Add(CLI::App& cmd, bool model_out_required) {
  cmd.add_option("--input", train.input_csv, "CSV file of records")->check(CLI::ExistingFile);
  cmd.add_option("--schema", train.schema_path, "schema file (TOML) declaring every column")
      ->check(CLI::ExistingFile);
  cmd.add_option("--images", train.images_idx,
                 "IDX image file (28x28; .gz accepted) instead of a CSV")
      ->check(CLI::ExistingFile);
  cmd.add_option("--max-images", train.max_images, "use only the first N images (0: all)")
      ->check(CLI::NonNegativeNumber);
  auto* model_out =
      cmd.add_option("--model-out", train.model_out, "where to write the trained model");
  if (model_out_required) model_out->required();
  cmd.add_option("--latent-dim", train.model.latent_dim, "latent dimension k")
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--hidden", train.model.hidden, "hidden layer widths")->delimiter(',');
  cmd.add_option("--beta", train.model.beta, "weight of the KL term")->check(CLI::PositiveNumber);
  cmd.add_option("--epochs", train.train.max_epochs, "maximum epochs")
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--batch-size", train.train.batch_size, "minibatch size")
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--learning-rate", train.train.learning_rate, "Adam learning rate")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--validation-fraction", train.train.validation_fraction,
                 "held-out share for early stopping")
      ->check(CLI::Range(0.0, 0.49));
  cmd.add_option("--patience", train.train.patience, "epochs without improvement before stopping")
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--threads", train.train.threads, "compute threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd.add_option(
         "--dp-epsilon", dp_epsilon,
         "train with DP-SGD to this epsilon (the model's part of every release's guarantee)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--marginal-epsilon", marginal_epsilon,
                 "tables: never show the VAE a record; fit a private marginal model at this "
                 "epsilon and train the VAE on its samples (the model's epsilon is the fit's)")
      ->check(CLI::Range(1e-6, 1e6));
  cmd.add_option("--dp-delta", dp_delta,
                 "DP-SGD delta (default min(1e-6, 1/(10n)); refused at 1/n or more)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--dp-clip", dp.clip_norm, "DP-SGD per-record gradient clipping norm")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--dp-batch-size", dp.expected_batch_size,
                 "DP-SGD expected batch size (Poisson sampling; default n/6, with epochs 100, "
                 "learning rate 5e-3 and beta 0.2 under DP: chosen on Adult)")
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--seed", seed,
                 "training seed (initialisation and shuffling only; never privacy noise)");
}

int TrainOptions::Run(const CLI::App& cmd, AgentContext& context) {
  if (cmd.count("--seed") > 0) train.seed = seed;
  if (!audit_job.empty()) {
    if (site_kit.empty())
      return Fail(absl::InvalidArgumentError("--audit-job needs --site-kit (its ledger)"));
    auto kit = LoadSiteKit(site_kit);
    if (!kit.ok()) return Fail(kit.status());
    auto job = LoadOpenAuditJob(*kit, audit_job);
    if (!job.ok()) return Fail(job.status());
    auto schema = data::Schema::LoadFile(train.schema_path);
    if (!schema.ok()) return Fail(schema.status());
    auto canaries = IncludedCanaries(*job, *schema);
    if (!canaries.ok()) return Fail(canaries.status());
    train.extra_rows = std::move(*canaries);
    if (!dataset.empty() && dataset != job->dataset) {
      return Fail(absl::InvalidArgumentError("audit job " + audit_job + " is for dataset " +
                                             job->dataset + ", not " + dataset));
    }
    dataset = job->dataset;
  }
  train.dataset = dataset;
  train.audit_job = audit_job;
  if (cmd.count("--dp-epsilon") > 0 && cmd.count("--marginal-epsilon") > 0) {
    return Fail(
        absl::InvalidArgumentError("--dp-epsilon and --marginal-epsilon exclude each other"));
  }
  if (cmd.count("--marginal-epsilon") > 0 || whole_budget_to_model) {
    train.marginal_epsilon = marginal_epsilon;
    if (cmd.count("--epochs") == 0) train.train.max_epochs = MarginalVaeTrainingDefaults::kEpochs;
    if (cmd.count("--dp-delta") > 0) train.dp_delta = dp_delta;
    if (cmd.count("--dp-clip") + cmd.count("--dp-batch-size") > 0) {
      return Fail(absl::InvalidArgumentError("--dp-clip and --dp-batch-size belong to DP-SGD"));
    }
  } else if (cmd.count("--dp-epsilon") > 0) {
    dp.target_epsilon = dp_epsilon;
    // DP-SGD's own defaults (site::DpTrainingDefaults); a flag given wins.
    dp.epochs = cmd.count("--epochs") > 0 ? train.train.max_epochs : DpTrainingDefaults::kEpochs;
    if (cmd.count("--dp-batch-size") == 0) dp.expected_batch_size = 0;  // by the site's n
    if (cmd.count("--learning-rate") == 0)
      train.train.learning_rate = DpTrainingDefaults::kLearningRate;
    if (cmd.count("--beta") == 0) train.model.beta = DpTrainingDefaults::kBeta;
    train.dp = dp;
    if (cmd.count("--dp-delta") > 0) train.dp_delta = dp_delta;
  } else if (cmd.count("--dp-delta") + cmd.count("--dp-clip") + cmd.count("--dp-batch-size") > 0) {
    return Fail(
        absl::InvalidArgumentError("--dp-delta, --dp-clip and --dp-batch-size need --dp-epsilon"));
  }
  base::ConsoleProgress progress("epoch", stderr);
  auto summary = RunTrain(train, progress, context.secure);
  if (!summary.ok()) return Fail(summary.status());
  std::printf(
      "trained on %lld records (%lld train, %lld validation), best epoch %d, %.1f s, %d threads\n",
      static_cast<long long>(summary->rows), static_cast<long long>(summary->report.train_rows),
      static_cast<long long>(summary->report.validation_rows), summary->report.best_epoch,
      summary->report.seconds, summary->report.threads);
  if (summary->read_report.TotalClamped() > 0) {
    std::printf("clamped %lld out-of-range value(s) as the schema allows\n",
                static_cast<long long>(summary->read_report.TotalClamped()));
  }
  if (summary->marginal_fit) {
    std::printf(
        "model: %s (private: trained on samples of a marginal model fitted at epsilon %g, "
        "delta %g; the VAE never saw a record)\n",
        train.model_out.c_str(), summary->marginal_fit->epsilon, summary->marginal_fit->delta);
  } else if (summary->dp) {
    std::printf("model: %s (DP-SGD: epsilon %.4f, delta %g, noise multiplier %.4f, %lld steps)\n",
                train.model_out.c_str(), summary->dp->epsilon, summary->dp->delta,
                summary->dp->noise_multiplier, static_cast<long long>(summary->dp->steps));
  } else {
    std::printf("model: %s (NOT PRIVATE: trained without differential privacy)\n",
                train.model_out.c_str());
  }
  return base::kExitOk;
}

}  // namespace fedsyn::site::cli
