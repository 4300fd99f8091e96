// fedsyn-agent: the site agent's command line. Builds the concrete objects (secure random
// source, progress sink) and hands them to the pipeline; all logic lives in the library.
//
// Exit codes: common/base/exit_codes.h (0 success; 1 internal error; 2 bad command line;
// 3 invalid input; 4 file missing or damaged; 5 refused for privacy reasons, e.g. a release
// from a non-private model without --allow-nonprivate-model; 6 coordinator unreachable).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "common/base/exit_codes.h"
#include "common/base/logging.h"
#include "common/base/progress.h"
#include "common/data/schema_infer.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/random.h"
#include "site_agent/audit_job.h"
#include "site_agent/evaluate.h"
#include "site_agent/marginal_release.h"
#include "site_agent/pipeline.h"
#include "site_agent/submit.h"
#include "site_agent/utility_check.h"

namespace {

using fedsyn::site::ReleaseRequest;
using fedsyn::site::TrainRequest;

std::atomic<bool> g_stop = false;
void OnStopSignal(int) { g_stop = true; }

int Fail(const absl::Status& status) { return fedsyn::base::ReportFailure("fedsyn-agent", status); }

struct CliState {
  std::string log_level = "info";
  // infer
  std::string infer_input, infer_out, infer_name = "dataset", infer_delimiter = ",";
  bool infer_header = false;
  std::vector<std::string> infer_missing = {"?", ""};
  // train + release
  TrainRequest train;
  ReleaseRequest release;
  std::string metric = "l2", decoding = "sample", mode = "synthetic", code_decoding = "posterior";
  bool keep_formulas = false;
  std::string site_kit, dataset, audit_job;
  double dp_epsilon = 0;
  double marginal_epsilon = 0;
  // synthesize --generator vae --epsilon E: the whole budget trains the VAE on a private marginal
  // model's samples and the release is model-only (the split measured best on Adult).
  bool whole_budget_to_model = false;
  double dp_delta = 0;
  fedsyn::model::DpSgdOptions dp;
  // synthesize --generator marginals
  std::string generator = "marginals";
  fedsyn::site::MarginalSynthesisRequest marginals;
  double marginal_delta = 0;
  // utility
  fedsyn::site::UtilityCheckRequest utility;
  std::string utility_json;
  // evaluate
  fedsyn::site::EvaluateRequest evaluate;
  std::string evaluate_target = "mlp", evaluate_out;
  int grid_exponent = 0;
  uint64_t seed = 0;
};

void AddTrainOptions(CLI::App* cmd, CliState& s, bool model_out_required) {
  cmd->add_option("--input", s.train.input_csv, "CSV file of records")->check(CLI::ExistingFile);
  cmd->add_option("--schema", s.train.schema_path, "schema file (TOML) declaring every column")
      ->check(CLI::ExistingFile);
  cmd->add_option("--images", s.train.images_idx,
                  "IDX image file (28x28; .gz accepted) instead of a CSV")
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-images", s.train.max_images, "use only the first N images (0: all)")
      ->check(CLI::NonNegativeNumber);
  auto* model_out =
      cmd->add_option("--model-out", s.train.model_out, "where to write the trained model");
  if (model_out_required) model_out->required();
  cmd->add_option("--latent-dim", s.train.model.latent_dim, "latent dimension k")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--hidden", s.train.model.hidden, "hidden layer widths")->delimiter(',');
  cmd->add_option("--beta", s.train.model.beta, "weight of the KL term")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--epochs", s.train.train.max_epochs, "maximum epochs")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--batch-size", s.train.train.batch_size, "minibatch size")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--learning-rate", s.train.train.learning_rate, "Adam learning rate")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--validation-fraction", s.train.train.validation_fraction,
                  "held-out share for early stopping")
      ->check(CLI::Range(0.0, 0.49));
  cmd->add_option("--patience", s.train.train.patience,
                  "epochs without improvement before stopping")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--threads", s.train.train.threads, "compute threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option(
         "--dp-epsilon", s.dp_epsilon,
         "train with DP-SGD to this epsilon (the model's part of every release's guarantee)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--marginal-epsilon", s.marginal_epsilon,
                  "tables: never show the VAE a record; fit a private marginal model at this "
                  "epsilon and train the VAE on its samples (the model's epsilon is the fit's)")
      ->check(CLI::Range(1e-6, 1e6));
  cmd->add_option("--dp-delta", s.dp_delta,
                  "DP-SGD delta (default min(1e-6, 1/(10n)); refused at 1/n or more)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--dp-clip", s.dp.clip_norm, "DP-SGD per-record gradient clipping norm")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dp-batch-size", s.dp.expected_batch_size,
                  "DP-SGD expected batch size (Poisson sampling; default n/6, with epochs 100, "
                  "learning rate 5e-3 and beta 0.2 under DP: chosen on Adult)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--seed", s.seed,
                  "training seed (initialisation and shuffling only; never privacy noise)");
}

void AddReleaseOptions(CLI::App* cmd, CliState& s, bool needs_model_and_input,
                       bool output_required = true) {
  if (needs_model_and_input) {
    cmd->add_option("--model", s.release.model_path, "trained model file")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--input", s.release.input_csv, "CSV records to release (table models)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--images", s.release.images_idx, "IDX images to release (image models)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--max-images", s.release.max_images, "use only the first N images")
        ->check(CLI::NonNegativeNumber);
  }
  cmd->add_option("--labels", s.release.labels_idx, "IDX labels to release by randomized response")
      ->check(CLI::ExistingFile);
  cmd->add_option("--label-epsilon", s.release.label_epsilon,
                  "epsilon of randomized response on labels")
      ->check(CLI::PositiveNumber);
  auto* out =
      cmd->add_option("--out", s.release.output, "output CSV (tables) or file prefix (images)");
  if (output_required) out->required();
  cmd->add_option("--epsilon-d", s.release.mechanism.epsilon_per_unit,
                  "metric-privacy epsilon per unit latent distance")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--clip-radius", s.release.mechanism.clip_radius, "clip radius R of latent codes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--metric", s.metric, "l2 (Gamma radius, clip in L2) or l1 (Laplace, clip in L1)")
      ->check(CLI::IsMember({"l2", "l1"}));
  cmd->add_option("--grid-exponent", s.grid_exponent, "output grid spacing 2^G (default: from R)")
      ->check(CLI::Range(-60, 10));
  cmd->add_option(
         "--decoding", s.decoding,
         "sample from the decoder's distribution (default) or take its most likely value (argmax)")
      ->check(CLI::IsMember({"sample", "argmax"}));
  cmd->add_option("--code-decoding", s.code_decoding,
                  "what the decoder is fed: posterior (a draw of the code's centre given the "
                  "noised code; default), posterior-mean, or noised (the noised code itself)")
      ->check(CLI::IsMember({"posterior", "posterior-mean", "noised"}));
  cmd->add_option("--mode", s.mode,
                  "synthetic: release decoded records (default); codes: release the noised codes "
                  "and the published decoder (DP-trained table models only); model-only: decode "
                  "codes drawn from the prior, as many as the input has rows (no per-record "
                  "epsilon; tables)")
      ->check(CLI::IsMember(
          {fedsyn::privacy::ReleaseModeName(fedsyn::privacy::ReleaseMode::kSynthetic),
           fedsyn::privacy::ReleaseModeName(fedsyn::privacy::ReleaseMode::kCodes),
           fedsyn::privacy::ReleaseModeName(fedsyn::privacy::ReleaseMode::kModelOnly)}));
  cmd->add_flag(
      "--allow-nonprivate-model", s.release.allow_nonprivate_model,
      "release from a VAE trained without DP (the paper's mode; no end-to-end guarantee)");
  cmd->add_flag("--keep-formulas", s.keep_formulas,
                "write text values verbatim even when a spreadsheet would run them as formulas "
                "(by default they get a leading ' ; numbers are never changed)");
}

void ResolveReleaseOptions(CLI::App* cmd, CliState& s) {
  s.release.mechanism.metric =
      s.metric == "l1" ? fedsyn::privacy::NoiseMetric::kL1 : fedsyn::privacy::NoiseMetric::kL2;
  if (cmd->count("--grid-exponent") > 0) s.release.mechanism.grid_exponent = s.grid_exponent;
  s.release.formula_cells =
      s.keep_formulas ? fedsyn::data::FormulaCells::kKeep : fedsyn::data::FormulaCells::kNeutralise;
  s.release.decoding = s.decoding == "argmax" ? fedsyn::data::DecodingMode::kArgmax
                                              : fedsyn::data::DecodingMode::kSample;
  s.release.code_decoding = *fedsyn::privacy::ParseCodeDecoding(s.code_decoding);  // CLI-checked
  // CLI11 has checked the name against the modes' names.
  s.release.mode =
      fedsyn::privacy::ParseReleaseMode(s.mode).value_or(fedsyn::privacy::ReleaseMode::kSynthetic);
}

// The metric mechanism's two parameters are required unless the mode releases no codes.
absl::Status CheckMechanismOptions(CLI::App* cmd, const CliState& s) {
  const bool given = cmd->count("--epsilon-d") > 0 && cmd->count("--clip-radius") > 0;
  if (s.release.mode == fedsyn::site::ReleaseMode::kModelOnly) {
    if (cmd->count("--epsilon-d") + cmd->count("--clip-radius") > 0) {
      return absl::InvalidArgumentError(
          "--mode model-only noises no code: drop --epsilon-d and --clip-radius");
    }
    return absl::OkStatus();
  }
  if (!given) {
    return absl::InvalidArgumentError(
        "the release needs --epsilon-d and --clip-radius (the metric mechanism), or --mode "
        "model-only");
  }
  return absl::OkStatus();
}

int DoTrain(CLI::App* cmd, CliState& s, fedsyn::privacy::RandomSource& secure) {
  if (cmd->count("--seed") > 0) s.train.seed = s.seed;
  if (!s.audit_job.empty()) {
    if (s.site_kit.empty())
      return Fail(absl::InvalidArgumentError("--audit-job needs --site-kit (its ledger)"));
    auto kit = fedsyn::site::LoadSiteKit(s.site_kit);
    if (!kit.ok()) return Fail(kit.status());
    auto job = fedsyn::site::LoadOpenAuditJob(*kit, s.audit_job);
    if (!job.ok()) return Fail(job.status());
    auto schema = fedsyn::data::Schema::LoadFile(s.train.schema_path);
    if (!schema.ok()) return Fail(schema.status());
    auto canaries = fedsyn::site::IncludedCanaries(*job, *schema);
    if (!canaries.ok()) return Fail(canaries.status());
    s.train.extra_rows = std::move(*canaries);
    if (!s.dataset.empty() && s.dataset != job->dataset) {
      return Fail(absl::InvalidArgumentError("audit job " + s.audit_job + " is for dataset " +
                                             job->dataset + ", not " + s.dataset));
    }
    s.dataset = job->dataset;
  }
  s.train.dataset = s.dataset;
  s.train.audit_job = s.audit_job;
  if (cmd->count("--dp-epsilon") > 0 && cmd->count("--marginal-epsilon") > 0) {
    return Fail(
        absl::InvalidArgumentError("--dp-epsilon and --marginal-epsilon exclude each other"));
  }
  if (cmd->count("--marginal-epsilon") > 0 || s.whole_budget_to_model) {
    s.train.marginal_epsilon = s.marginal_epsilon;
    if (cmd->count("--epochs") == 0)
      s.train.train.max_epochs = fedsyn::site::MarginalVaeTrainingDefaults::kEpochs;
    if (cmd->count("--dp-delta") > 0) s.train.dp_delta = s.dp_delta;
    if (cmd->count("--dp-clip") + cmd->count("--dp-batch-size") > 0) {
      return Fail(absl::InvalidArgumentError("--dp-clip and --dp-batch-size belong to DP-SGD"));
    }
  } else if (cmd->count("--dp-epsilon") > 0) {
    s.dp.target_epsilon = s.dp_epsilon;
    // DP-SGD's own defaults (site::DpTrainingDefaults); a flag given wins.
    using Defaults = fedsyn::site::DpTrainingDefaults;
    s.dp.epochs = cmd->count("--epochs") > 0 ? s.train.train.max_epochs : Defaults::kEpochs;
    if (cmd->count("--dp-batch-size") == 0) s.dp.expected_batch_size = 0;  // by the site's n
    if (cmd->count("--learning-rate") == 0) s.train.train.learning_rate = Defaults::kLearningRate;
    if (cmd->count("--beta") == 0) s.train.model.beta = Defaults::kBeta;
    s.train.dp = s.dp;
    if (cmd->count("--dp-delta") > 0) s.train.dp_delta = s.dp_delta;
  } else if (cmd->count("--dp-delta") + cmd->count("--dp-clip") + cmd->count("--dp-batch-size") >
             0) {
    return Fail(
        absl::InvalidArgumentError("--dp-delta, --dp-clip and --dp-batch-size need --dp-epsilon"));
  }
  fedsyn::base::ConsoleProgress progress("epoch", stderr);
  auto summary = fedsyn::site::RunTrain(s.train, progress, secure);
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
        s.train.model_out.c_str(), summary->marginal_fit->epsilon, summary->marginal_fit->delta);
  } else if (summary->dp) {
    std::printf("model: %s (DP-SGD: epsilon %.4f, delta %g, noise multiplier %.4f, %lld steps)\n",
                s.train.model_out.c_str(), summary->dp->epsilon, summary->dp->delta,
                summary->dp->noise_multiplier, static_cast<long long>(summary->dp->steps));
  } else {
    std::printf("model: %s (NOT PRIVATE: trained without differential privacy)\n",
                s.train.model_out.c_str());
  }
  return fedsyn::base::kExitOk;
}

int DoRelease(CliState& s, fedsyn::privacy::RandomSource& secure) {
  auto summary = fedsyn::site::RunRelease(s.release, secure);
  if (!summary.ok()) return Fail(summary.status());
  std::printf(
      "released %lld %s\n", static_cast<long long>(summary->rows),
      s.release.mode == fedsyn::site::ReleaseMode::kCodes ? "noised codes" : "synthetic records");
  for (const std::string& out : summary->outputs) std::printf("output: %s\n", out.c_str());
  std::printf("manifest: %s\n", summary->manifest_path.c_str());
  std::printf("guarantee: %s\n", summary->guarantee.Describe().c_str());
  std::printf("charge: %s epsilon per record\n",
              fedsyn::privacy::FormatMicros(summary->charge.release_micros).c_str());
  if (!summary->guarantee.model_private) {
    std::fprintf(
        stderr,
        "fedsyn-agent: WARNING: released with a NON-PRIVATE model (--allow-nonprivate-model)\n");
  }
  return fedsyn::base::kExitOk;
}

void AddMarginalOptions(CLI::App* cmd, CliState& s) {
  cmd->add_option("--generator", s.generator,
                  "marginals: a private graphical model of noisy marginals (default); vae: a VAE "
                  "and the metric mechanism")
      ->check(CLI::IsMember({"marginals", "vae"}));
  cmd->add_option("--epsilon", s.marginals.epsilon,
                  "the release's whole epsilon (replace-one, per record or person); vae: all "
                  "of it trains the model on a private marginal model's samples, the release is "
                  "model-only")
      ->check(CLI::Range(1e-6, 1e6));
  cmd->add_option("--delta", s.marginal_delta,
                  "with --epsilon: delta (default min(1e-6, 1/(10n)); refused at 1/n or more)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--rows", s.marginals.rows,
                  "marginals: rows to sample (default: as many as the "
                  "input)")
      ->check(CLI::Range(int64_t{0}, fedsyn::site::kMaxSampledRows));
}

// The first of `names` given on `cmd`'s command line (options `cmd` does not have count as not
// given), or nullptr: for refusing options that belong to another way of running a command.
const char* FirstGiven(CLI::App* cmd, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const CLI::Option* option = cmd->get_option_no_throw(name);
    if (option != nullptr && option->count() > 0) return name;
  }
  return nullptr;
}

// The marginal generator's request from `cmd`'s options (synthesize or submit), refusing the
// options that belong to the VAE path.
absl::Status ResolveMarginalOptions(CLI::App* cmd, CliState& s, const std::string& input_csv) {
  fedsyn::site::MarginalSynthesisRequest& request = s.marginals;
  if (cmd->count("--epsilon") == 0) {
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
  if (cmd->count("--delta") > 0) request.delta = s.marginal_delta;
  request.formula_cells =
      s.keep_formulas ? fedsyn::data::FormulaCells::kKeep : fedsyn::data::FormulaCells::kNeutralise;
  return absl::OkStatus();
}

int DoMarginalSynthesis(CLI::App* cmd, CliState& s, fedsyn::privacy::RandomSource& secure) {
  fedsyn::site::MarginalSynthesisRequest& request = s.marginals;
  request.schema_path = s.train.schema_path;
  request.output = s.release.output;
  if (absl::Status st = ResolveMarginalOptions(cmd, s, s.train.input_csv); !st.ok())
    return Fail(st);
  auto summary = fedsyn::site::RunMarginalSynthesis(request, secure);
  if (!summary.ok()) return Fail(summary.status());
  if (!summary->delta_warning.empty())
    std::fprintf(stderr, "fedsyn-agent: WARNING: %s\n", summary->delta_warning.c_str());
  std::printf("sampled %lld synthetic records from a private model of %zu measured tables\n",
              static_cast<long long>(summary->rows), summary->fit.edges.size());
  std::printf("output: %s\n", summary->output.c_str());
  std::printf("manifest: %s\n", summary->manifest_path.c_str());
  std::printf("guarantee: %s\n", summary->guarantee_summary.c_str());
  return fedsyn::base::kExitOk;
}

int DoSubmit(CLI::App* cmd, CliState& s, fedsyn::privacy::RandomSource& secure) {
  // The options first (exit 3 for a wrong combination), then the kit.
  const bool marginals =
      cmd->count("--generator") > 0 ? s.generator == "marginals" : s.release.model_path.empty();
  if (marginals) {
    if (absl::Status st = ResolveMarginalOptions(cmd, s, s.release.input_csv); !st.ok())
      return Fail(st);
  } else {
    if (s.release.model_path.empty()) {
      return Fail(absl::InvalidArgumentError("--generator vae needs --model (a trained VAE)"));
    }
    if (const char* marginal_only =
            FirstGiven(cmd, {"--epsilon", "--delta", "--rows", "--schema"})) {
      return Fail(absl::InvalidArgumentError(std::string(marginal_only) +
                                             " belongs to --generator marginals"));
    }
    ResolveReleaseOptions(cmd, s);
    if (absl::Status st = CheckMechanismOptions(cmd, s); !st.ok()) return Fail(st);
  }
  auto kit = fedsyn::site::LoadSiteKit(s.site_kit);
  if (!kit.ok()) return Fail(kit.status());
  auto summary = marginals ? fedsyn::site::SubmitMarginalSynthesis(s.marginals, s.release.audit_job,
                                                                   *kit, s.dataset, secure, {})
                           : fedsyn::site::SubmitRelease(s.release, *kit, s.dataset, secure, {});
  if (!summary.ok()) return Fail(summary.status());
  std::printf(
      "release %s committed (%s): %lld rows, charged %s epsilon, %s remaining at the "
      "coordinator\n",
      summary->release_id.c_str(), marginals ? "marginals, model-only" : s.mode.c_str(),
      static_cast<long long>(summary->rows),
      fedsyn::privacy::FormatMicros(summary->charged_micros).c_str(),
      fedsyn::privacy::FormatMicros(summary->coordinator_remaining_micros).c_str());
  std::printf("guarantee: %s\n", summary->guarantee.c_str());
  std::printf("spooled output (site only): %s\n", summary->spool_path.c_str());
  return fedsyn::base::kExitOk;
}

void AddEvaluateOptions(CLI::App* cmd, CliState& s) {
  fedsyn::site::EvaluateRequest& e = s.evaluate;
  cmd->add_option("--input", e.input_csvs, "CSV file(s) of records, pooled (tables)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--schema", e.schema_path, "schema of the CSV files (its label is the target)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--images", e.images_idx, "IDX images (28x28)")->check(CLI::ExistingFile);
  cmd->add_option("--labels", e.labels_idx, "IDX labels of the images")->check(CLI::ExistingFile);
  cmd->add_option("--max-images", e.max_images, "use only the first N images (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--name", e.name, "data set name for the report");
  cmd->add_option("--out", s.evaluate_out, "JSON report")->required();
  cmd->add_option("--members", e.members, "members (= non-members; attacker pool: twice)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--test", e.test, "test records")->check(CLI::PositiveNumber);
  cmd->add_option("--seeds", e.seeds, "seeds (splits, initialisation)")->delimiter(',');
  cmd->add_option("--epsilons", e.epsilons, "total epsilons")->delimiter(',');
  cmd->add_option("--methods", e.methods, "real, dpsgd, paper, e2e")->delimiter(',');
  cmd->add_option("--delta", e.delta, "delta (default min(1e-6, 1/(10 members)))")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--target", s.evaluate_target, "target model: logistic, mlp or cnn")
      ->check(CLI::IsMember({"logistic", "mlp", "cnn"}));
  cmd->add_option("--target-hidden", e.target_hidden, "hidden widths of the target")
      ->delimiter(',');
  cmd->add_option("--target-epochs", e.classifier.epochs, "epochs of target and shadow models")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--shadow-models", e.shadow_models, "shadow / reference models")
      ->check(CLI::Range(2, 256));
  cmd->add_option("--dp-clip", e.dp_clip, "DP-SGD clipping norm")->check(CLI::PositiveNumber);
  cmd->add_option("--dp-batch-size", e.dp_batch, "DP-SGD expected batch size")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dp-epochs", e.dp_epochs, "DP-SGD epochs")->check(CLI::PositiveNumber);
  cmd->add_option("--dp-learning-rate", e.dp_learning_rate, "Adam step size under DP-SGD")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--latent-dim", e.vae.latent_dim, "VAE latent dimension")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--hidden", e.vae.hidden, "VAE hidden widths")->delimiter(',');
  cmd->add_option("--vae-epochs", e.vae_epochs, "VAE epochs (in the clear; max)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--clip-radius", e.clip_radius, "clip radius R of latent codes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--bootstrap", e.bootstrap, "bootstrap resamples for confidence intervals")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--threads", e.classifier.threads, "compute threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
}

int DoEvaluate(CliState& s, fedsyn::privacy::RandomSource& secure) {
  s.evaluate.target = s.evaluate_target == "logistic"
                          ? fedsyn::model::ClassifierArchitecture::kLinear
                      : s.evaluate_target == "cnn" ? fedsyn::model::ClassifierArchitecture::kCnn28
                                                   : fedsyn::model::ClassifierArchitecture::kMlp;
  fedsyn::base::ConsoleProgress progress("evaluate", stderr);
  auto report = fedsyn::site::RunEvaluation(s.evaluate, secure, progress);
  if (!report.ok()) return Fail(report.status());
  if (absl::Status st =
          fedsyn::data::WriteFileAtomically(s.evaluate_out, report->ToJson().dump(1) + "\n");
      !st.ok()) {
    return Fail(st);
  }
  std::printf("%-7s %-5s  %-15s  %-22s  %-15s  %s\n", "METHOD", "EPS", "TEST ACCURACY",
              "STRONGEST ATTACK", "ATTACK AUC", "BALANCED ACC");
  for (const fedsyn::site::MethodSummary& m : report->summary) {
    if (m.strongest_attack.empty()) continue;  // no attack ran (none is configured without one)
    const auto& a = m.attacks.at(m.strongest_attack);
    std::printf("%-7s %-5s  %.3f +- %.3f    %-22s  %.3f +- %.3f    %.3f\n", m.method.c_str(),
                m.epsilon ? nlohmann::json(*m.epsilon).dump().c_str() : "-", m.accuracy.mean,
                m.accuracy.sd, m.strongest_attack.c_str(), a.at("auc").mean, a.at("auc").sd,
                a.at("balanced_accuracy").mean);
  }
  std::printf("report: %s\n", s.evaluate_out.c_str());
  return fedsyn::base::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fedsyn site agent: turns a hospital's table or images into metric-private synthetic data"};
  app.require_subcommand(1);
  app.set_config("--config", "",
                 "TOML file with option values ([train], [release], [synthesize] sections)");
  CliState s;
  app.add_option("--log-level", s.log_level, "trace, debug, info, warn, error or off");

  CLI::App* schema = app.add_subcommand("schema", "schema helpers");
  schema->require_subcommand(1);
  CLI::App* infer = schema->add_subcommand(
      "infer", "propose a schema from a CSV file (review it: it leaks the data)");
  infer->add_option("input", s.infer_input, "CSV file")->required()->check(CLI::ExistingFile);
  infer->add_option("--out", s.infer_out, "write the proposal here instead of stdout");
  infer->add_flag("--header", s.infer_header, "the first line holds column names");
  infer->add_option("--delimiter", s.infer_delimiter, "field delimiter");
  infer->add_option("--name", s.infer_name, "dataset name");
  infer->add_option("--missing", s.infer_missing, "missing-value tokens");

  CLI::App* train =
      app.add_subcommand("train", "train a VAE on a CSV table (with a schema) or IDX images");
  AddTrainOptions(train, s, /*model_out_required=*/true);
  train->add_option("--audit-job", s.audit_job,
                    "also train on the canaries this site's audit job includes (docs/audits.md)");
  train->add_option("--site-kit", s.site_kit, "site.toml (its ledger holds the audit job)")
      ->check(CLI::ExistingFile);
  train->add_option("--dataset", s.dataset,
                    "the federation dataset the model is for (a DP model's epsilon is charged "
                    "there; implied by --audit-job)");
  CLI::App* release =
      app.add_subcommand("release", "release metric-private synthetic data from a trained model");
  AddReleaseOptions(release, s, /*needs_model_and_input=*/true);
  CLI::App* synthesize = app.add_subcommand(
      "synthesize",
      "the whole site pipeline: --generator marginals fits a private graphical model to noisy "
      "marginals under --epsilon/--delta and samples from it; --generator vae trains a VAE, "
      "then releases through the metric mechanism (--epsilon-d, --clip-radius)");
  AddTrainOptions(synthesize, s, /*model_out_required=*/false);
  AddReleaseOptions(synthesize, s, /*needs_model_and_input=*/false);
  AddMarginalOptions(synthesize, s);

  CLI::App* submit = app.add_subcommand(
      "submit", "release into the federation: reserve budget, noise, persist, upload, commit");
  AddReleaseOptions(submit, s, /*needs_model_and_input=*/true, /*output_required=*/false);
  submit->add_option("--site-kit", s.site_kit, "site.toml from the site kit")
      ->required()
      ->check(CLI::ExistingFile);
  submit->add_option("--dataset", s.dataset, "the federation's dataset name")->required();
  submit->add_option("--audit-job", s.release.audit_job,
                     "release under this audit job (its canaries join the input; revealed after "
                     "the commit)");
  // Either a trained VAE (--model: the metric mechanism, or --mode model-only) or the marginal
  // generator (--generator marginals --input --schema --epsilon): the default follows --model.
  submit->get_option("--model")->required(false);
  AddMarginalOptions(submit, s);
  submit
      ->add_option("--schema", s.marginals.schema_path,
                   "marginals: the schema of --input (the federation's declaration of it)")
      ->check(CLI::ExistingFile);
  CLI::App* audit_job_cmd = app.add_subcommand(
      "audit-job",
      "open a canary audit for the next release of a dataset: fetch canaries, draw and commit "
      "the inclusion bits (then train and submit with --audit-job)");
  audit_job_cmd->add_option("--site-kit", s.site_kit, "site.toml from the site kit")
      ->required()
      ->check(CLI::ExistingFile);
  audit_job_cmd->add_option("--dataset", s.dataset, "the federation's dataset name")->required();
  CLI::App* presence = app.add_subcommand(
      "heartbeat", "stay connected to the coordinator and send heartbeats until SIGINT/SIGTERM");
  presence->add_option("--site-kit", s.site_kit, "site.toml from the site kit")
      ->required()
      ->check(CLI::ExistingFile);
  int heartbeat_seconds = 30;
  presence->add_option("--interval", heartbeat_seconds, "seconds between heartbeats")
      ->check(CLI::Range(1, 3600));
  CLI::App* evaluate = app.add_subcommand(
      "evaluate",
      "membership-inference and utility experiment on this site's records (aggregates only)");
  AddEvaluateOptions(evaluate, s);
  CLI::App* utility = app.add_subcommand(
      "utility",
      "what a synthetic table is good for: a classifier trained on it, tested on held-out real "
      "rows, beside the same classifier trained on real rows; marginal distances; values at "
      "bounds");
  utility
      ->add_option("--synthetic", s.utility.synthetic_csv,
                   "synthetic CSV as fedsyn writes it (header line; a release or an export)")
      ->required()
      ->check(CLI::ExistingFile);
  utility->add_option("--real", s.utility.real_csvs, "real training rows (CSV as the schema says)")
      ->required()
      ->check(CLI::ExistingFile);
  utility
      ->add_option("--test", s.utility.test_csvs,
                   "held-out real rows no generator saw (CSV as the schema says)")
      ->required()
      ->check(CLI::ExistingFile);
  utility
      ->add_option("--schema", s.utility.schema_path, "schema of the three (its label is probed)")
      ->required()
      ->check(CLI::ExistingFile);
  utility->add_option("--json", s.utility_json, "also write the figures as JSON here");
  CLI::App* resume =
      app.add_subcommand("resume", "finish uploads interrupted by a crash or a lost connection");
  resume->add_option("--site-kit", s.site_kit, "site.toml from the site kit")
      ->required()
      ->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return fedsyn::base::kExitUsage;
  }
  if (absl::Status status = fedsyn::base::SetUpLogging(s.log_level); !status.ok()) {
    std::fprintf(stderr, "fedsyn-agent: %s\n", std::string(status.message()).c_str());
    return fedsyn::base::kExitUsage;
  }
  fedsyn::privacy::SecureRandom secure;

  if (*infer) {
    std::fprintf(stderr, "%s\n", fedsyn::data::kInferWarning);
    if (s.infer_delimiter.size() != 1)
      return Fail(absl::InvalidArgumentError("the delimiter must be one character"));
    fedsyn::data::InferOptions options;
    options.header = s.infer_header;
    options.delimiter = s.infer_delimiter[0];
    options.missing_tokens = s.infer_missing;
    options.dataset_name = s.infer_name;
    auto toml = fedsyn::data::InferSchemaToml(s.infer_input, options);
    if (!toml.ok()) return Fail(toml.status());
    if (s.infer_out.empty()) {
      std::fputs(toml->c_str(), stdout);
    } else if (absl::Status st = fedsyn::data::WriteFileAtomically(s.infer_out, *toml); !st.ok()) {
      return Fail(st);
    }
    return fedsyn::base::kExitOk;
  }
  if (*train) return DoTrain(train, s, secure);
  if (*evaluate) return DoEvaluate(s, secure);
  if (*utility) {
    auto check = fedsyn::site::CheckUtility(s.utility);
    if (!check.ok()) return Fail(check.status());
    if (!s.utility_json.empty()) {
      if (absl::Status st =
              fedsyn::data::WriteFileAtomically(s.utility_json, check->ToJson().dump(1) + "\n");
          !st.ok()) {
        return Fail(st);
      }
    }
    std::printf("%s\n", check->Headline().c_str());
    std::printf(
        "marginals: 1-way TVD mean %.3f (max %.3f), 2-way TVD mean %.3f (max %.3f); values at a "
        "declared bound: worst excess over 2x real + 1%% of rows %.3f\n",
        check->synthetic.mean_tvd_1way, check->synthetic.max_tvd_1way,
        check->synthetic.mean_tvd_2way, check->synthetic.max_tvd_2way,
        check->synthetic.worst_bound_excess);
    return fedsyn::base::kExitOk;
  }
  if (*release) {
    ResolveReleaseOptions(release, s);
    if (absl::Status st = CheckMechanismOptions(release, s); !st.ok()) return Fail(st);
    return DoRelease(s, secure);
  }
  if (*presence) {
    auto kit = fedsyn::site::LoadSiteKit(s.site_kit);
    if (!kit.ok()) return Fail(kit.status());
    std::signal(SIGINT, OnStopSignal);
    std::signal(SIGTERM, OnStopSignal);
    fedsyn::site::KeepPresence(*kit, {}, std::chrono::seconds(heartbeat_seconds), g_stop,
                               [&secure] { return secure.UniformOpen01(); });
    return fedsyn::base::kExitOk;
  }
  if (*audit_job_cmd) {
    auto kit = fedsyn::site::LoadSiteKit(s.site_kit);
    if (!kit.ok()) return Fail(kit.status());
    auto job = fedsyn::site::OpenAuditJob(*kit, s.dataset, secure, {});
    if (!job.ok()) return Fail(job.status());
    if (job->canaries.empty()) {
      std::printf("dataset %s is not audited by the federation: no audit job needed\n",
                  s.dataset.c_str());
      return fedsyn::base::kExitOk;
    }
    std::printf(
        "audit job %s: %zu canaries (%zu pairs, one of each included), inclusion "
        "committed\n",
        job->release_id.c_str(), 2 * job->bits.size(), job->bits.size());
    std::printf(
        "next: fedsyn-agent train ... --audit-job %s --site-kit %s, then submit ... "
        "--audit-job %s\n",
        job->release_id.c_str(), s.site_kit.c_str(), job->release_id.c_str());
    return fedsyn::base::kExitOk;
  }
  if (*resume) {
    auto kit = fedsyn::site::LoadSiteKit(s.site_kit);
    if (!kit.ok()) return Fail(kit.status());
    auto committed =
        fedsyn::site::ResumePending(*kit, {}, [&secure] { return secure.UniformOpen01(); });
    if (!committed.ok()) return Fail(committed.status());
    std::printf("resumed: %d release(s) committed\n", *committed);
    return fedsyn::base::kExitOk;
  }
  if (*submit) return DoSubmit(submit, s, secure);
  if (*synthesize) {
    if (s.generator == "marginals") return DoMarginalSynthesis(synthesize, s, secure);
    if (synthesize->count("--epsilon") > 0) {
      // One total budget: all of it to the model, none to a per-record release. Measured on
      // Adult (docs/results/vae-adult.md): the VAE trained on a private marginal model's
      // samples beats DP-SGD at every epsilon, and giving half to a per-record release buys
      // nothing it keeps (0.836 vs 0.840 accuracy at epsilon 1, within run-to-run spread).
      if (const char* split =
              FirstGiven(synthesize, {"--dp-epsilon", "--marginal-epsilon", "--dp-delta",
                                      "--epsilon-d", "--clip-radius", "--mode", "--rows"})) {
        return Fail(absl::InvalidArgumentError(
            std::string("--epsilon gives the whole budget to the model (the release is "
                        "model-only); ") +
            split +
            " sets a split of your own: give --marginal-epsilon or --dp-epsilon for the model "
            "and --epsilon-d/--clip-radius for the release instead of --epsilon"));
      }
      s.whole_budget_to_model = true;
      s.marginal_epsilon = s.marginals.epsilon;
      if (synthesize->count("--delta") > 0) s.train.dp_delta = s.marginal_delta;
      s.mode = "model-only";
    } else if (synthesize->count("--delta") + synthesize->count("--rows") > 0) {
      return Fail(absl::InvalidArgumentError(
          "--delta and --rows belong to --generator marginals or to a total --epsilon; the vae "
          "generator otherwise takes --dp-epsilon or --marginal-epsilon (model) and "
          "--epsilon-d/--clip-radius (release)"));
    }
    if (s.train.model_out.empty()) s.train.model_out = s.release.output + ".model";
    ResolveReleaseOptions(synthesize, s);
    if (absl::Status st = CheckMechanismOptions(synthesize, s); !st.ok()) return Fail(st);
    const int trained = DoTrain(synthesize, s, secure);
    if (trained != fedsyn::base::kExitOk) return trained;
    s.release.model_path = s.train.model_out;
    s.release.input_csv = s.train.input_csv;
    s.release.images_idx = s.train.images_idx;
    s.release.max_images = s.train.max_images;
    return DoRelease(s, secure);
  }
  return fedsyn::base::kExitUsage;
}
