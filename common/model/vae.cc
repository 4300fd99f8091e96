#include "common/model/vae.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <thread>

#include "common/data/table_io.h"
#include "common/model/vae_net.h"
#include "common/privacy/digest.h"
#include "nlohmann/json.hpp"

namespace fedsyn::model {
namespace {

using Json = nlohmann::json;

// File layout: magic, u32 version, u64 header length, JSON header, float32 tensors in header
// order, then the hex SHA-256 of everything before it. Bump kFormatVersion on any change.
constexpr char kMagic[8] = {'F', 'S', 'Y', 'N', 'V', 'A', 'E', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kChecksumChars = 64;
constexpr int64_t kEvalBatch = 4096;

const char* ArchitectureName(Architecture a) { return a == Architecture::kMlp ? "mlp" : "conv28"; }

const char* BlockKindName(data::BlockKind k) {
  switch (k) {
    case data::BlockKind::kGaussian:
      return "gaussian";
    case data::BlockKind::kCategorical:
      return "categorical";
    case data::BlockKind::kBernoulli:
      return "bernoulli";
  }
  return "?";
}

Json SpecToJson(const VaeSpec& spec) {
  Json blocks = Json::array();
  for (const data::Block& b : spec.blocks)
    blocks.push_back({BlockKindName(b.kind), b.offset, b.width});
  return {{"architecture", ArchitectureName(spec.architecture)},
          {"input_width", spec.input_width},
          {"latent_dim", spec.latent_dim},
          {"hidden", spec.hidden},
          {"beta", spec.beta},
          {"blocks", blocks}};
}

absl::StatusOr<VaeSpec> SpecFromJson(const Json& j) {
  VaeSpec spec;
  try {
    const std::string architecture = j.at("architecture").get<std::string>();
    if (architecture == "mlp") {
      spec.architecture = Architecture::kMlp;
    } else if (architecture == "conv28") {
      spec.architecture = Architecture::kConv28;
    } else {
      return absl::DataLossError("unknown architecture '" + architecture + "'");
    }
    spec.input_width = j.at("input_width").get<int>();
    spec.latent_dim = j.at("latent_dim").get<int>();
    spec.hidden = j.at("hidden").get<std::vector<int>>();
    spec.beta = j.at("beta").get<double>();
    for (const Json& b : j.at("blocks")) {
      const std::string kind = b.at(0).get<std::string>();
      data::BlockKind k = data::BlockKind::kGaussian;
      if (kind == "categorical") {
        k = data::BlockKind::kCategorical;
      } else if (kind == "bernoulli") {
        k = data::BlockKind::kBernoulli;
      } else if (kind != "gaussian") {
        return absl::DataLossError("unknown block kind '" + kind + "'");
      }
      spec.blocks.push_back({k, b.at(1).get<int>(), b.at(2).get<int>()});
    }
  } catch (const Json::exception& e) {
    return absl::DataLossError(std::string("model header: ") + e.what());
  }
  return spec;
}

// Bounds on what a model file may ask us to build. A published decoder comes from a peer, and
// Vae::Create allocates what the spec says before any tensor is read: without these, a 200 KB
// upload could ask for terabytes (issue #12, F4). Real models are far below them (Adult: width
// 110, hidden 128x128; images: 784, one dense layer of 256).
constexpr int kMaxInputWidth = 1 << 16;
constexpr size_t kMaxHiddenLayers = 16;
constexpr int64_t kMaxParameters = int64_t{64} << 20;  // 64 Mi floats = 256 MB

// An upper estimate of the MLP's parameter count (encoder, both heads, mirrored decoder).
int64_t EstimatedParameters(const VaeSpec& spec) {
  std::vector<int64_t> widths = {spec.input_width};
  for (int h : spec.hidden) widths.push_back(h);
  int64_t total = 0;
  for (size_t i = 0; i + 1 < widths.size(); ++i) total += (widths[i] + 1) * widths[i + 1];
  total += 2 * (widths.back() + 1) * spec.latent_dim;  // mean and log-variance heads
  return 2 * total + 2 * (spec.latent_dim + 1) * widths.back() + 2 * spec.input_width;
}

absl::Status ValidateSpec(const VaeSpec& spec) {
  if (spec.input_width < 1 || spec.input_width > kMaxInputWidth)
    return absl::InvalidArgumentError("input width must be in 1.." +
                                      std::to_string(kMaxInputWidth));
  if (spec.hidden.size() > kMaxHiddenLayers)
    return absl::InvalidArgumentError("at most " + std::to_string(kMaxHiddenLayers) +
                                      " hidden layers");
  if (spec.latent_dim < 1 || spec.latent_dim > 1024)
    return absl::InvalidArgumentError("latent dimension must be in 1..1024");
  if (!(spec.beta > 0) || !std::isfinite(spec.beta))
    return absl::InvalidArgumentError("beta must be positive");
  if (spec.hidden.empty())
    return absl::InvalidArgumentError("at least one hidden layer is required");
  for (int h : spec.hidden) {
    if (h < 1 || h > 8192) return absl::InvalidArgumentError("hidden widths must be in 1..8192");
  }
  if (spec.architecture == Architecture::kConv28 && spec.input_width != 28 * 28) {
    return absl::InvalidArgumentError("the convolutional VAE takes 28x28 images (width 784)");
  }
  int covered = 0;
  for (const data::Block& b : spec.blocks) {
    if (b.offset != covered || b.width < 1)
      return absl::InvalidArgumentError("blocks must tile the input in order");
    covered += b.width;
  }
  if (covered != spec.input_width)
    return absl::InvalidArgumentError("blocks must cover the input width exactly");
  if (EstimatedParameters(spec) > kMaxParameters)
    return absl::InvalidArgumentError("the model would exceed " + std::to_string(kMaxParameters) +
                                      " parameters");
  return absl::OkStatus();
}

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

// Runs `f` over row batches of `x` in evaluation mode without gradients and concatenates the
// results: bounds peak memory for large inputs.
template <typename F>
torch::Tensor EvaluateInBatches(VaeNet& net, const torch::Tensor& x, F f) {
  torch::NoGradGuard no_grad;
  net.eval();
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < x.size(0); begin += kEvalBatch) {
    parts.push_back(f(x.narrow(0, begin, std::min(kEvalBatch, x.size(0) - begin))));
  }
  return torch::cat(parts, 0);
}

void AppendU32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void AppendU64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

int SetComputeThreads(int threads) {
  const int wanted =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(wanted);
  return at::get_num_threads();
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
  report.threads = SetComputeThreads(options.threads);
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
  return ToMatrix(EvaluateInBatches(
      net, ToTensor(data), [&net](const torch::Tensor& x) { return net.Encode(x).first; }));
}

data::Matrix Vae::DecodeLogits(const data::Matrix& codes) const {
  VaeNet& net = *impl_->net;
  return ToMatrix(EvaluateInBatches(net, ToTensor(codes),
                                    [&net](const torch::Tensor& z) { return net.Decode(z); }));
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
  const torch::Tensor losses =
      EvaluateInBatches(net, ToTensor(data), [&net](const torch::Tensor& x) {
        auto [mu, logvar] = net.Encode(x);
        return net.RecordLoss(x, net.Decode(mu), mu, logvar);
      });
  return losses.mean().item<double>();
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
  Json header;
  header["spec"] = SpecToJson(spec());
  try {
    header["metadata"] = Json::parse(metadata_json);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(std::string("model metadata is not JSON: ") + e.what());
  }
  Json tensors = Json::array();
  std::string payload;
  for (const auto& item : impl_->net->named_parameters()) {
    const torch::Tensor t = item.value().detach().contiguous().to(torch::kFloat32);
    tensors.push_back({{"name", item.key()}, {"shape", t.sizes().vec()}});
    payload.append(reinterpret_cast<const char*>(t.data_ptr<float>()),
                   static_cast<size_t>(t.numel()) * sizeof(float));
  }
  header["tensors"] = tensors;
  const std::string header_text = header.dump();
  std::string file(kMagic, sizeof kMagic);
  AppendU32(file, kFormatVersion);
  AppendU64(file, header_text.size());
  file += header_text;
  file += payload;
  file += privacy::Sha256Hex(file);
  return file;
}

absl::StatusOr<std::unique_ptr<Vae>> Vae::Deserialize(std::string_view file,
                                                      const std::string& path,
                                                      std::string* metadata_json) {
  const size_t fixed = sizeof kMagic + sizeof(uint32_t) + sizeof(uint64_t);
  if (file.size() < fixed + kChecksumChars ||
      std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    return absl::DataLossError(path + ": not a fedsyn model file");
  }
  uint32_t version = 0;
  std::memcpy(&version, file.data() + sizeof kMagic, sizeof version);
  if (version != kFormatVersion) {
    return absl::FailedPreconditionError(
        path + ": model format version " + std::to_string(version) +
        " is not supported (this build reads version " + std::to_string(kFormatVersion) + ")");
  }
  const std::string_view body(file.data(), file.size() - kChecksumChars);
  if (privacy::Sha256Hex(body) != file.substr(file.size() - kChecksumChars)) {
    return absl::DataLossError(path + ": model file checksum mismatch (damaged or truncated)");
  }
  uint64_t header_size = 0;
  std::memcpy(&header_size, file.data() + sizeof kMagic + sizeof version, sizeof header_size);
  if (header_size > body.size() - fixed)
    return absl::DataLossError(path + ": model header length out of range");
  // Everything below reads bytes a peer may have written (a published decoder): any exception
  // from the JSON or tensor libraries is a malformed file, never a crash (issue #12, F1).
  try {
    return DeserializeChecked(body, fixed, header_size, path, metadata_json);
  } catch (const std::exception& e) {
    return absl::DataLossError(path + ": malformed model file: " + e.what());
  }
}

absl::StatusOr<std::unique_ptr<Vae>> Vae::DeserializeChecked(std::string_view body, size_t fixed,
                                                             uint64_t header_size,
                                                             const std::string& path,
                                                             std::string* metadata_json) {
  Json header;
  try {
    header = Json::parse(body.substr(fixed, header_size));
  } catch (const Json::exception& e) {
    return absl::DataLossError(path + ": model header is not JSON");
  }
  if (!header.is_object() || !header.contains("spec") || !header.contains("tensors") ||
      !header["tensors"].is_array()) {
    return absl::DataLossError(path + ": model header lacks its spec or tensor list");
  }
  ASSIGN_OR_RETURN(VaeSpec spec, SpecFromJson(header["spec"]));
  // Checked before anything is allocated; a file's invalid spec is a damaged file.
  if (const absl::Status valid = ValidateSpec(spec); !valid.ok())
    return absl::DataLossError(path + ": " + std::string(valid.message()));
  ASSIGN_OR_RETURN(std::unique_ptr<Vae> vae, Create(spec, 0));
  size_t offset = fixed + header_size;
  torch::NoGradGuard no_grad;
  auto parameters = vae->impl_->net->named_parameters();
  if (!header.contains("tensors") || header["tensors"].size() != parameters.size()) {
    return absl::DataLossError(path + ": parameter list does not match the architecture");
  }
  for (const Json& entry : header["tensors"]) {
    const std::string name = entry.value("name", "");
    torch::Tensor* target = parameters.find(name);
    if (target == nullptr ||
        target->sizes().vec() != entry.value("shape", std::vector<int64_t>{})) {
      return absl::DataLossError(path + ": unexpected parameter '" + name + "'");
    }
    const size_t bytes = static_cast<size_t>(target->numel()) * sizeof(float);
    if (offset + bytes > body.size())
      return absl::DataLossError(path + ": parameter data truncated");
    std::memcpy(target->data_ptr<float>(), body.data() + offset, bytes);
    offset += bytes;
    if (!torch::isfinite(*target).all().item<bool>())
      return absl::DataLossError(path + ": parameter '" + name + "' is not finite");
  }
  if (offset != body.size())
    return absl::DataLossError(path + ": trailing bytes after the parameters");
  if (metadata_json != nullptr) *metadata_json = header.value("metadata", Json::object()).dump();
  return vae;
}

}  // namespace fedsyn::model
