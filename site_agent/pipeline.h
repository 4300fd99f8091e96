// File-level site commands: train a model on a CSV table or IDX images, release synthetic
// data from it. The CLI (main.cc) is a thin layer over these; tests call them directly.
#ifndef FEDSYN_SITE_AGENT_PIPELINE_H_
#define FEDSYN_SITE_AGENT_PIPELINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/data/idx.h"
#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "common/model/vae.h"
#include "common/privacy/budget.h"
#include "common/privacy/random.h"
#include "common/synth/marginal_model.h"
#include "site_agent/release.h"

namespace fedsyn::site {

struct ModelOptions {
  int latent_dim = 8;
  std::vector<int> hidden = {128,
                             128};  // MLP widths; the conv VAE uses the first as its dense width
  double beta = 1.0;
};

// Defaults for DP-SGD training of the VAE, chosen on UCI Adult as the public stand-in (the
// first 24,420 rows of adult.data for training, the other 8,141 for scoring; adult.test never
// read): model-only releases scored by logistic regression. The old defaults (beta 1, expected
// batch 256, 20 epochs, learning rate 1e-3) gave the majority rate (0.756, AUC 0.41) at epsilon
// 3; these give 0.819 / 0.861 at epsilon 1 and 0.823 / 0.868 at epsilon 3. Large expected
// batches raise the signal-to-noise ratio of each noisy step; a small beta keeps the decoder
// from collapsing onto the marginals under the noise. docs/results/vae-tuning.md has the grid
// (bench/experiments/vae_modes.sh measures the result). A flag the user gives wins.
struct DpTrainingDefaults {
  static constexpr double kBeta = 0.2;
  static constexpr double kLearningRate = 5e-3;
  static constexpr int kEpochs = 100;
  // Expected batch size as a share of the privacy units (about 4,096 of Adult's 24,420).
  static constexpr double kBatchShare = 1.0 / 6.0;
};
// Training on a private marginal model's samples (TrainRequest::marginal_epsilon): the epochs
// measured on Adult (docs/results/vae-adult.md; samples are free, so more epochs cost no epsilon,
// but 20 already reach the marginal model's fit).
struct MarginalVaeTrainingDefaults {
  static constexpr int kEpochs = 20;
};

// The expected batch size DpTrainingDefaults gives `units` privacy units: at least 1.
int DefaultDpBatchSize(int64_t units);

// Exactly one of (input_csv + schema_path) or images_idx is set.
struct TrainRequest {
  std::string input_csv;
  std::string schema_path;
  std::string images_idx;
  int64_t max_images = 0;  // 0: all
  std::string model_out;
  ModelOptions model;
  model::TrainOptions train;
  // Training seed; drawn from the secure generator (and recorded in the model) when unset.
  // It seeds initialisation and, for non-private training, shuffling; DP-SGD's sampling and
  // noise come from a keystream keyed by the secure generator, never recorded.
  std::optional<uint64_t> seed;
  // Set: train with DP-SGD (epochs come from here, not from `train.max_epochs`). Its delta is
  // replaced by the resolved `dp_delta`; an expected batch size of 0 means DefaultDpBatchSize.
  std::optional<model::DpSgdOptions> dp;
  // DP-SGD's delta as the steward asked for it; unset: privacy::ResolveDelta's default
  // min(1e-6, 1/(10n)). A delta >= 1/n is refused (n: the site's records, canaries excluded).
  std::optional<double> dp_delta;
  // Set (tables; excludes `dp`): the VAE never sees a record. A private marginal model
  // (common/synth) is fitted to the records at this epsilon (delta by dp_delta's rules), as many
  // rows are sampled from it, and the VAE is trained on those in the clear: post-processing, so
  // the model's (epsilon, delta) is the fit's.
  std::optional<double> marginal_epsilon;
  // Tables: more records to train on, in the schema — the included canaries of an audit job
  // (IncludedCanaries, audit_job.h). Their count is kept out of the model's published
  // parameters (it would hint at the secret inclusion bits).
  data::Table extra_rows;
  // The federation dataset the model is for (recorded in its published parameters). A DP
  // model's epsilon is charged to this dataset's budget, so submit refuses to release it to
  // another one. Empty: not named (such a model cannot be submitted).
  std::string dataset;
  // The audit job whose canaries `extra_rows` holds, recorded in the published parameters
  // so that the job's release can show its model was trained after the job was opened.
  std::string audit_job;
};

struct TrainSummary {
  model::TrainReport report;
  std::optional<model::DpTrainReport> dp;
  int64_t rows = 0;
  int64_t extra_rows = 0;        // of `rows`: from TrainRequest::extra_rows
  int64_t persons = 0;           // with a person identifier: the persons trained on
  int64_t rows_dropped = 0;      // rows beyond a person's max_rows_per_person (site-only)
  data::ReadReport read_report;  // tables only
  // TrainRequest::marginal_epsilon: the fit the VAE learnt from.
  std::optional<synth::MarginalFitReport> marginal_fit;
  synth::MarginalOptions marginal_options;
};

// The privacy units of rows read under a schema with a person identifier
// (Schema::person_index): every person ends with exactly L = max_rows_per_person rows — a
// uniformly random L of more (the rest dropped), or their rows repeated at random to fill fewer,
// chosen with `rng` — so the row count L x persons says nothing about any one person. Rows are
// grouped by person and numbered by unit (0..count-1); the identifiers are cleared.
// InvalidArgument for a row without an identifier. Without a person identifier nothing changes
// and every row is its own unit.
struct PrivacyUnits {
  int64_t count = 0;
  int64_t rows_dropped = 0;
  std::vector<int64_t> unit_of_row;
};
absl::StatusOr<PrivacyUnits> BoundContributions(data::ReadResult& read, const data::Schema& schema,
                                                privacy::RandomSource& rng);

absl::StatusOr<TrainSummary> RunTrain(const TrainRequest& request, base::ProgressSink& progress,
                                      privacy::RandomSource& secure);

struct ReleaseRequest {
  std::string model_path;
  std::string input_csv;               // tables
  std::string images_idx, labels_idx;  // images (labels optional)
  int64_t max_images = 0;
  // Tables: the CSV path (codes mode also writes OUTPUT.decoder, the published decoder).
  // Images: a prefix; writes PREFIX-images.idx and PREFIX-labels.idx.
  std::string output;
  ReleaseMode mode = ReleaseMode::kSynthetic;
  privacy::MetricMechanismParams mechanism;  // dimension is taken from the model
  data::DecodingMode decoding = data::DecodingMode::kSample;
  // What the decoder is fed for each noised code (synthetic mode; codes mode releases the codes).
  privacy::CodeDecoding code_decoding = privacy::CodeDecoding::kPosteriorSample;
  std::optional<double> label_epsilon;  // images with labels
  bool allow_nonprivate_model = false;
  // The synthetic CSV's text values that a spreadsheet would run as formulas (data/csv.h).
  data::FormulaCells formula_cells = data::FormulaCells::kNeutralise;
  // Federated submits only: the id of an open audit job (audit_job.h). The release takes the
  // job's id and carries its included canaries at random positions.
  std::string audit_job;
};

struct ReleaseSummary {
  std::vector<std::string> outputs;
  std::string manifest_path;
  Guarantee guarantee;
  int64_t rows = 0;
  privacy::Charge charge;        // the guarantee in micro-epsilon, rounded up (manifest, ledgers)
  data::ReadReport read_report;  // tables only
};

// Everything a release needs before any noise is drawn: the model, the mechanism, the records
// read and validated, and the exact charge. Preparing draws no randomness, so a release can
// be refused (by a ledger) after preparation with nothing disclosed.
struct PreparedRelease {
  model::ModelBundle bundle;
  std::optional<privacy::MetricMechanism> mechanism;
  std::optional<privacy::RandomizedResponse> label_rr;
  Guarantee guarantee;
  privacy::Charge charge;  // the guarantee in micro-epsilon, rounded up; made once, here
  int64_t rows = 0;
  int64_t rows_dropped = 0;               // beyond a person's max_rows_per_person (site-only)
  std::optional<data::ReadResult> table;  // table models
  std::optional<data::ImageSet> images;   // image models
  std::vector<uint8_t> labels;
};

// Refuses (FailedPrecondition) a release from a non-private model unless
// allow_nonprivate_model is set; validates parameters and reads the input, then puts the
// records in an order drawn from `rng` (the input's order is data: DESIGN §2). Audit canaries
// are placed after this, at their own secret positions.
absl::StatusOr<PreparedRelease> PrepareRelease(const ReleaseRequest& request,
                                               privacy::RandomSource& rng);

// Draws the noise and writes the outputs, then the manifest (OUTPUT.manifest.json), each
// atomically and durably.
absl::StatusOr<ReleaseSummary> GenerateRelease(const ReleaseRequest& request,
                                               const PreparedRelease& prepared,
                                               privacy::RandomSource& rng);

// Where a codes-mode release writes its published decoder: OUTPUT.decoder.
std::string PublishedModelPath(const std::string& output);

// PrepareRelease then GenerateRelease: the offline release.
absl::StatusOr<ReleaseSummary> RunRelease(const ReleaseRequest& request,
                                          privacy::RandomSource& rng);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_PIPELINE_H_
