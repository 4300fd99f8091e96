// Variational autoencoders for tables (MLP) and 28x28 images (convolutional), behind a
// torch-free interface so that only vae.cc pays LibTorch's compile cost.
//
// Loss per record = reconstruction + beta * KL(q(z|x) || N(0, I)), where reconstruction sums,
// over the transformer's blocks, a Gaussian negative log-likelihood (continuous coordinates,
// one learned variance per coordinate), a cross-entropy (each categorical block) and a binary
// cross-entropy (missing indicators, image pixels).
#ifndef FEDSYN_COMMON_MODEL_VAE_H_
#define FEDSYN_COMMON_MODEL_VAE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/data/table.h"
#include "common/data/transformer.h"
#include "common/model/vae_spec.h"
#include "common/privacy/random.h"

namespace fedsyn::model {

struct TrainOptions {
  int max_epochs = 200;
  int batch_size = 64;
  double learning_rate = 1e-3;
  double validation_fraction = 0.1;  // held out for early stopping
  int patience = 15;                 // epochs without validation improvement before stopping
  uint64_t seed = 0;                 // initialisation, split and shuffling (not privacy noise)
  int threads = 0;                   // 0 = TrainingThreads' choice for the architecture
  // MLP models: the hand-written training step of mlp_trainer.h (about twice as fast; the
  // same arithmetic). false: LibTorch's autograd, the reference it is tested against.
  bool fused_mlp_step = true;
};

struct EpochStats {
  int epoch = 0;
  double train_loss = 0;       // mean per record
  double validation_loss = 0;  // mean per record
};

struct TrainReport {
  std::vector<EpochStats> epochs;
  int best_epoch = 0;
  bool stopped_early = false;
  int64_t train_rows = 0;
  int64_t validation_rows = 0;
  int threads = 0;
  double seconds = 0;
};

// DP-SGD (Abadi et al. 2016) with Poisson sampling, as the RDP accountant assumes: each step
// includes every record independently with probability q = expected_batch_size / n, clips each
// record's gradient to L2 norm clip_norm, adds N(0, (sigma * clip_norm)^2) to the sum and
// divides by the expected batch size. sigma is calibrated so that `epochs` epochs stay within
// (target_epsilon, delta). No validation split and no early stopping: choosing an epoch by a
// held-out loss would consult private records outside the accounting.
//
// Privacy units: by default every record is its own unit. With units (a person with several
// rows), each step samples units with probability q = expected_batch_size / units, clips each of
// a sampled unit's rows to clip_norm / max_rows_per_unit, so a unit's whole contribution has norm
// at most clip_norm, and the accountant counts units: the guarantee is per unit.
struct DpSgdOptions {
  double target_epsilon = 8.0;
  double delta = 1e-5;
  double clip_norm = 1.0;
  int expected_batch_size = 256;
  int epochs = 20;
  int max_rows_per_unit = 1;
};

struct DpTrainReport {
  TrainReport train;
  double noise_multiplier = 0;  // sigma
  double sampling_rate = 0;     // q
  int64_t steps = 0;
  int64_t units = 0;   // privacy units (records, or persons) the accountant counted
  double epsilon = 0;  // spent, <= target, replace-one (n public): DESIGN §2.9
  double delta = 0;
  std::string accountant_state;  // RdpAccountant::Serialize()
};

// Per-record gradients at fixed reparameterisation noise, for DP-SGD and for checking it.
struct ClippedGradients {
  std::vector<float> norms;        // per record, before clipping
  std::vector<float> clipped_sum;  // sum of clipped per-record gradients, flattened
};

// Sets LibTorch's intra-op thread count; 0 means all cores. Returns the count in effect.
int SetComputeThreads(int threads);

// This machine's single-precision matrix-multiply rate through LibTorch (OpenBLAS) on `threads`
// threads, in GFLOP/s: the best of 5 products of two 1024 x 1024 matrices. The arithmetic
// ceiling that training throughput is compared against (bench/throughput.cc). Sets the thread
// count like SetComputeThreads.
double MatrixMultiplyGflops(int threads);

// The threads a VAE trains on when the caller asks for none in particular (`requested` 0): one
// for the MLP (layers of width <= a few hundred are too small for intra-op parallelism: on 2
// cores one thread trained Adult at 85k rows/s against 54-59k on two, and kept 35% of that
// under four competing CPU-bound processes against 9% on two; DP-SGD 0.56 s an epoch against
// 0.86 s; docs/performance.md), all cores for the convolutional VAE. `requested` > 0 wins.
int TrainingThreads(int requested, Architecture architecture);

class Vae {
 public:
  // Validates the spec and initialises parameters from `seed`.
  static absl::StatusOr<std::unique_ptr<Vae>> Create(const VaeSpec& spec, uint64_t seed);
  // Reads a model file written by Save. Checks magic, format version and checksum; returns
  // DataLoss for a damaged file and FailedPrecondition for an unsupported version. The
  // caller's metadata (a JSON text) is returned through `metadata_json`.
  static absl::StatusOr<std::unique_ptr<Vae>> Load(const std::string& path,
                                                   std::string* metadata_json);

  // The same, from the bytes of a model file; `origin` names them in errors.
  static absl::StatusOr<std::unique_ptr<Vae>> Deserialize(std::string_view file,
                                                          const std::string& origin,
                                                          std::string* metadata_json);

  ~Vae();
  Vae(const Vae&) = delete;
  Vae& operator=(const Vae&) = delete;

  // Trains with Adam on `data` (rows x input_width), holding out a validation split for early
  // stopping and restoring the best epoch's parameters. Deterministic for a given seed and
  // data. Reports progress per epoch.
  absl::StatusOr<TrainReport> Train(const data::Matrix& data, const TrainOptions& options,
                                    base::ProgressSink& progress);

  // DP-SGD training, by the fast per-record path (dp_sgd_engine.h: per-record gradients of
  // linear layers by outer products, of convolutions by unfolding). The sampling masks, the
  // reparameterisation noise and the Gaussian gradient noise all come from a keystream keyed
  // with 256 bits from `key_source` (SecureRandom in production, DESIGN §2.7); LibTorch's
  // generator is not used (initialisation happened in Create).
  // `unit_of_row` (empty: every row its own unit) numbers each row's privacy unit 0..U-1; no
  // unit may hold more than options.max_rows_per_unit rows.
  absl::StatusOr<DpTrainReport> TrainPrivately(const data::Matrix& data,
                                               const DpSgdOptions& options,
                                               const TrainOptions& train_options,
                                               privacy::RandomSource& key_source,
                                               base::ProgressSink& progress,
                                               const std::vector<int64_t>& unit_of_row = {});

  // The fast per-record path DP-SGD uses: for each linear layer the per-record weight gradient
  // is the outer product of the layer's output gradient and input, so its norm is
  // |g| * |x| without materialising it, and the clipped sum is one matrix product.
  // `eps` (rows x latent_dim) is the reparameterisation noise, fixed so results are comparable.
  // `fused_mlp_step` false: the traced autograd pass even for an MLP (the reference).
  absl::StatusOr<ClippedGradients> ClipPerRecordGradients(const data::Matrix& batch,
                                                          const data::Matrix& eps, double clip_norm,
                                                          bool fused_mlp_step = true);
  // The plain gradient of the summed loss at noise `eps`, flattened in the same order (the
  // reference: called on one record at a time it gives that record's gradient).
  std::vector<float> SummedGradient(const data::Matrix& batch, const data::Matrix& eps);
  // The same gradient from the MLP's hand-written backward pass (mlp_trainer.h) instead of
  // autograd; FailedPrecondition for the convolutional VAE.
  absl::StatusOr<std::vector<float>> FusedSummedGradient(const data::Matrix& batch,
                                                         const data::Matrix& eps);
  // ClipPerRecordGradients' clipped sum plus N(0, (noise_multiplier * clip_norm)^2) per
  // coordinate from a keystream keyed from `key_source`: exactly what a DP-SGD step applies.
  absl::StatusOr<std::vector<float>> NoisyClippedGradient(const data::Matrix& batch,
                                                          const data::Matrix& eps, double clip_norm,
                                                          double noise_multiplier,
                                                          privacy::RandomSource& key_source);

  // Encoder means mu(x), rows x latent_dim.
  data::Matrix EncodeMean(const data::Matrix& data) const;
  // Decoder outputs for codes (rows x latent_dim): Gaussian means, categorical and Bernoulli
  // logits, in the transformer's layout.
  data::Matrix DecodeLogits(const data::Matrix& codes) const;
  // The learned standard deviation of each Gaussian coordinate (0 for other coordinates),
  // one entry per model coordinate: what Transformer::DecodeLogits samples continuous values with.
  std::vector<float> GaussianScales() const;
  // Mean per-record loss (reconstruction + beta*KL) evaluated at the encoder mean.
  double EvaluateLoss(const data::Matrix& data) const;

  // Writes the versioned model file atomically: spec, parameters and `metadata_json`.
  absl::Status Save(const std::string& path, const std::string& metadata_json) const;
  // The bytes Save writes. Deterministic: the same parameters and metadata give the same bytes.
  absl::StatusOr<std::string> Serialize(const std::string& metadata_json) const;

  const VaeSpec& spec() const;

 private:
  struct Impl;
  explicit Vae(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The MLP VAE for a table: input width and loss layout from the transformer.
VaeSpec TableVaeSpec(const data::Transformer& transformer, int latent_dim, std::vector<int> hidden);
// The convolutional VAE for 28x28 images (784 Bernoulli pixels) with one dense layer.
VaeSpec ImageVaeSpec(int latent_dim, int dense_width);

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_VAE_H_
