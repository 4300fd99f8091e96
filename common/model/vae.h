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
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/data/table.h"
#include "common/data/transformer.h"

namespace fedsyn::model {

enum class Architecture {
  kMlp,     // tables: width -> hidden... -> (mu, log var) -> hidden... -> width
  kConv28,  // 1x28x28 images, Bernoulli pixels
};

struct VaeSpec {
  Architecture architecture = Architecture::kMlp;
  int input_width = 0;              // model-space width; 784 for kConv28
  std::vector<data::Block> blocks;  // loss layout; kConv28 uses one Bernoulli block per pixel
  int latent_dim = 8;
  std::vector<int> hidden = {128, 128};
  double beta = 1.0;
};

struct TrainOptions {
  int max_epochs = 200;
  int batch_size = 64;
  double learning_rate = 1e-3;
  double validation_fraction = 0.1;  // held out for early stopping
  int patience = 15;                 // epochs without validation improvement before stopping
  uint64_t seed = 0;                 // initialisation, split and shuffling (not privacy noise)
  int threads = 0;                   // 0 = all cores (LibTorch defaults to one here)
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

// Sets LibTorch's intra-op thread count; 0 means all cores. Returns the count in effect.
int SetComputeThreads(int threads);

class Vae {
 public:
  // Validates the spec and initialises parameters from `seed`.
  static absl::StatusOr<std::unique_ptr<Vae>> Create(const VaeSpec& spec, uint64_t seed);
  // Reads a model file written by Save. Checks magic, format version and checksum; returns
  // DataLoss for a damaged file and FailedPrecondition for an unsupported version. The
  // caller's metadata (a JSON text) is returned through `metadata_json`.
  static absl::StatusOr<std::unique_ptr<Vae>> Load(const std::string& path,
                                                   std::string* metadata_json);

  ~Vae();
  Vae(const Vae&) = delete;
  Vae& operator=(const Vae&) = delete;

  // Trains with Adam on `data` (rows x input_width), holding out a validation split for early
  // stopping and restoring the best epoch's parameters. Deterministic for a given seed and
  // data. Reports progress per epoch.
  absl::StatusOr<TrainReport> Train(const data::Matrix& data, const TrainOptions& options,
                                    base::ProgressSink& progress);

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

  const VaeSpec& spec() const;

 private:
  struct Impl;
  explicit Vae(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Loss layout for 28x28 images: 784 Bernoulli pixels.
std::vector<data::Block> ImageBlocks(int pixels);

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_VAE_H_
