#include "common/model/vae.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <optional>
#include <thread>

#include "common/data/table_io.h"
#include "common/model/mlp_trainer.h"
#include "common/model/model_file.h"
#include "common/model/vae_impl.h"
#include "common/privacy/digest.h"

namespace fedsyn::model {
namespace {

constexpr int64_t kEvalBatch = 4096;

std::vector<torch::Tensor> CloneParameters(const VaeNet& net) {
  std::vector<torch::Tensor> copy;
  for (const torch::Tensor& p : net.parameters()) copy.push_back(p.detach().clone());
  return copy;
}

void RestoreParameters(VaeNet& net, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  auto params = net.parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
}

// Runs `f` over row batches of `x` in evaluation mode without gradients and writes each batch's
// rows (`out_cols` values each; a 1-D result is one value per row) into one matrix. Batches
// bound the intermediates' memory and keep them in cache; reading `x` in place and writing the
// results in place avoids three full copies (input clone, concatenation, conversion) that made
// up much of a release's encode and decode time (docs/performance.md).
template <typename F>
data::Matrix EvaluateInBatches(VaeNet& net, const data::Matrix& x, int64_t out_cols, F f) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::Matrix out(x.rows, out_cols);
  for (int64_t begin = 0; begin < x.rows; begin += kEvalBatch) {
    const int64_t rows = std::min(kEvalBatch, x.rows - begin);
    // The network only reads its input: a view of the caller's rows needs no copy.
    const torch::Tensor batch =
        torch::from_blob(const_cast<float*>(x.Row(begin)), {rows, x.cols}, torch::kFloat32);
    const torch::Tensor result =
        f(batch).contiguous().to(torch::kFloat32).reshape({rows, out_cols});
    std::memcpy(out.Row(begin), result.data_ptr<float>(),
                static_cast<size_t>(rows * out_cols) * sizeof(float));
  }
  return out;
}

}  // namespace

int SetComputeThreads(int threads) {
  const int wanted =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(wanted);
  return at::get_num_threads();
}

double MatrixMultiplyGflops(int threads) {
  SetComputeThreads(threads);
  torch::NoGradGuard no_grad;
  constexpr int64_t kN = 1024;
  const torch::Tensor a = torch::rand({kN, kN});
  const torch::Tensor b = torch::rand({kN, kN});
  torch::Tensor c = torch::mm(a, b);  // warm-up: OpenBLAS's buffers and threads
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return 2.0 * kN * kN * kN / best / 1e9;
}

int TrainingThreads(int requested, Architecture architecture) {
  if (requested > 0) return requested;
  return architecture == Architecture::kMlp ? 1 : 0;  // 0: all cores
}

VaeSpec TableVaeSpec(const data::Transformer& transformer, int latent_dim,
                     std::vector<int> hidden) {
  VaeSpec spec;
  spec.architecture = Architecture::kMlp;
  spec.input_width = transformer.width();
  spec.blocks = transformer.blocks();
  spec.latent_dim = latent_dim;
  spec.hidden = std::move(hidden);
  return spec;
}

VaeSpec ImageVaeSpec(int latent_dim, int dense_width) {
  constexpr int kPixels = 28 * 28;
  VaeSpec spec;
  spec.architecture = Architecture::kConv28;
  spec.input_width = kPixels;
  for (int i = 0; i < kPixels; ++i) spec.blocks.push_back({data::BlockKind::kBernoulli, i, 1});
  spec.latent_dim = latent_dim;
  spec.hidden = {dense_width};
  return spec;
}

Vae::Vae(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Vae::~Vae() = default;

const VaeSpec& Vae::spec() const { return impl_->net->spec_; }

absl::StatusOr<std::unique_ptr<Vae>> Vae::Create(const VaeSpec& spec, uint64_t seed) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  // Training randomness (initialisation, split, shuffling, reparameterisation) is seeded for
  // reproducibility; it is not privacy noise, which only the secure generator supplies.
  torch::manual_seed(seed);
  return std::unique_ptr<Vae>(new Vae(std::make_unique<Impl>(spec)));
}

absl::StatusOr<TrainReport> Vae::Train(const data::Matrix& data, const TrainOptions& options,
                                       base::ProgressSink& progress) {
  VaeNet& net = *impl_->net;
  if (data.cols != net.spec_.input_width)
    return absl::InvalidArgumentError("training data width does not match the model");
  if (data.rows < 2) return absl::InvalidArgumentError("at least two training records are needed");
  if (options.max_epochs < 1 || options.batch_size < 1 || !(options.learning_rate > 0) ||
      !(options.validation_fraction >= 0 && options.validation_fraction < 0.5) ||
      options.patience < 1) {
    return absl::InvalidArgumentError("invalid training options");
  }
  TrainReport report;
  report.threads =
      SetComputeThreads(TrainingThreads(options.threads, impl_->net->spec_.architecture));
  const auto start = std::chrono::steady_clock::now();
  torch::manual_seed(options.seed);

  const torch::Tensor all = ToTensor(data);
  const torch::Tensor order = torch::randperm(data.rows, torch::kLong);
  const int64_t validation_rows =
      static_cast<int64_t>(std::floor(options.validation_fraction * data.rows));
  const torch::Tensor validation = all.index_select(0, order.narrow(0, 0, validation_rows));
  const torch::Tensor train =
      all.index_select(0, order.narrow(0, validation_rows, data.rows - validation_rows));
  report.train_rows = train.size(0);
  report.validation_rows = validation_rows;

  torch::optim::Adam optimizer(net.parameters(), torch::optim::AdamOptions(options.learning_rate));
  std::optional<MlpTrainer> fused;
  if (MlpTrainer::Serves(net.spec_, options.fused_mlp_step)) {
    fused.emplace(net, options.batch_size, options.learning_rate);
  }
  double best = INFINITY;
  std::vector<torch::Tensor> best_parameters = CloneParameters(net);
  int epochs_without_improvement = 0;
  for (int epoch = 1; epoch <= options.max_epochs; ++epoch) {
    net.train();
    const torch::Tensor shuffled = torch::randperm(train.size(0), torch::kLong);
    double total = 0.0;
    for (int64_t begin = 0; begin < train.size(0); begin += options.batch_size) {
      const int64_t size = std::min<int64_t>(options.batch_size, train.size(0) - begin);
      const torch::Tensor x = train.index_select(0, shuffled.narrow(0, begin, size));
      if (fused) {
        ASSIGN_OR_RETURN(const double loss, fused->Step(x));
        total += loss;
        continue;
      }
      optimizer.zero_grad();
      auto [mu, logvar] = net.Encode(x);
      const torch::Tensor z = mu + torch::exp(0.5 * logvar) * torch::randn_like(mu);
      const torch::Tensor loss = net.RecordLoss(x, net.Decode(z), mu, logvar).mean();
      loss.backward();
      optimizer.step();
      total += loss.item<double>() * static_cast<double>(size);
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.train_loss = total / static_cast<double>(train.size(0));
    stats.validation_loss =
        validation_rows > 0 ? EvaluateLoss(ToMatrix(validation)) : stats.train_loss;
    report.epochs.push_back(stats);
    if (!std::isfinite(stats.train_loss))
      return absl::InternalError("training diverged (non-finite loss)");
    if (stats.validation_loss < best) {
      best = stats.validation_loss;
      best_parameters = CloneParameters(net);
      report.best_epoch = epoch;
      epochs_without_improvement = 0;
    } else {
      ++epochs_without_improvement;
    }
    char summary[96];
    std::snprintf(summary, sizeof summary, "loss %.3f val %.3f", stats.train_loss,
                  stats.validation_loss);
    progress.Update({epoch, options.max_epochs, summary});
    if (epochs_without_improvement >= options.patience) {
      report.stopped_early = true;
      break;
    }
  }
  RestoreParameters(net, best_parameters);
  if (fused) net.zero_grad();  // the trainer's gradient buffers are not the model's state
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char summary[128];
  std::snprintf(summary, sizeof summary, "%zu epochs, best %d (val %.3f)%s, %.1f s",
                report.epochs.size(), report.best_epoch, best,
                report.stopped_early ? ", stopped early" : "", report.seconds);
  progress.Finish(summary);
  return report;
}

data::Matrix Vae::EncodeMean(const data::Matrix& data) const {
  VaeNet& net = *impl_->net;
  return EvaluateInBatches(net, data, net.spec_.latent_dim,
                           [&net](const torch::Tensor& x) { return net.Encode(x).first; });
}

data::Matrix Vae::DecodeLogits(const data::Matrix& codes) const {
  VaeNet& net = *impl_->net;
  return EvaluateInBatches(net, codes, net.spec_.input_width,
                           [&net](const torch::Tensor& z) { return net.Decode(z); });
}

std::vector<float> Vae::GaussianScales() const {
  const VaeNet& net = *impl_->net;
  std::vector<float> scales(static_cast<size_t>(net.spec_.input_width), 0.0f);
  const torch::Tensor sigma = net.log_sigma.detach().clamp_min(kMinLogSigma).exp().contiguous();
  const auto index = net.gaussian_index.contiguous();
  for (int64_t i = 0; i < index.numel(); ++i) {
    scales[static_cast<size_t>(index.data_ptr<int64_t>()[i])] = sigma.data_ptr<float>()[i];
  }
  return scales;
}

double Vae::EvaluateLoss(const data::Matrix& data) const {
  VaeNet& net = *impl_->net;
  const data::Matrix losses = EvaluateInBatches(net, data, 1, [&net](const torch::Tensor& x) {
    auto [mu, logvar] = net.Encode(x);
    return net.RecordLoss(x, net.Decode(mu), mu, logvar);
  });
  double total = 0.0;
  for (float loss : losses.values) total += loss;
  return losses.rows > 0 ? total / static_cast<double>(losses.rows) : std::nan("");
}

absl::Status Vae::Save(const std::string& path, const std::string& metadata_json) const {
  ASSIGN_OR_RETURN(const std::string file, Serialize(metadata_json));
  return data::WriteFileAtomically(path, file);
}

absl::StatusOr<std::unique_ptr<Vae>> Vae::Load(const std::string& path,
                                               std::string* metadata_json) {
  ASSIGN_OR_RETURN(const std::string file, data::ReadFileToString(path));
  return Deserialize(file, path, metadata_json);
}

absl::StatusOr<std::string> Vae::Serialize(const std::string& metadata_json) const {
  std::vector<TensorEntry> tensors;
  std::string parameters;
  for (const auto& item : impl_->net->named_parameters()) {
    const torch::Tensor t = item.value().detach().contiguous().to(torch::kFloat32);
    tensors.push_back({item.key(), t.sizes().vec(), static_cast<size_t>(t.numel())});
    parameters.append(reinterpret_cast<const char*>(t.data_ptr<float>()),
                      static_cast<size_t>(t.numel()) * sizeof(float));
  }
  return WriteModelFile(spec(), tensors, parameters, metadata_json);
}

absl::StatusOr<std::unique_ptr<Vae>> Vae::Deserialize(std::string_view file,
                                                      const std::string& path,
                                                      std::string* metadata_json) {
  // Everything the file states is checked (torch-free) before the model is built.
  ASSIGN_OR_RETURN(const ModelFile parsed, ParseModelFile(file, path));
  try {
    ASSIGN_OR_RETURN(std::unique_ptr<Vae> vae, Create(parsed.spec, 0));
    torch::NoGradGuard no_grad;
    auto parameters = vae->impl_->net->named_parameters();
    if (parsed.tensors.size() != parameters.size())
      return absl::DataLossError(path + ": parameter list does not match the architecture");
    size_t offset = 0;
    for (const TensorEntry& entry : parsed.tensors) {
      torch::Tensor* target = parameters.find(entry.name);
      if (target == nullptr || target->sizes().vec() != entry.shape)
        return absl::DataLossError(path + ": unexpected parameter '" + entry.name + "'");
      const size_t bytes = entry.floats * sizeof(float);
      // An empty tensor has no storage (a null data pointer), and memcpy from or to null is
      // undefined even for zero bytes (found by UBSan, deploy/sanitize.sh).
      if (bytes > 0)
        std::memcpy(target->data_ptr<float>(), parsed.parameters.data() + offset, bytes);
      offset += bytes;
    }
    if (metadata_json != nullptr) *metadata_json = parsed.metadata_json;
    return vae;
  } catch (const std::exception& e) {
    return absl::DataLossError(path + ": malformed model file: " + e.what());
  }
}

}  // namespace fedsyn::model
