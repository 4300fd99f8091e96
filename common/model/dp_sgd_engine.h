// Internal to common/model (includes LibTorch): the model-independent parts of DP-SGD, shared by
// the VAE (dp_sgd.cc) and the classifiers (classifier.cc).
//
//  - The fast per-record path for linear layers (Goodfellow 2015): a record's weight gradient in
//    y = x W^T + b is the outer product g_i x_i^T of its output gradient and its input, so
//      |grad_W,i|^2 + |grad_b,i|^2 = |g_i|^2 (|x_i|^2 + 1)
//    and the clipped sum sum_i c_i g_i x_i^T is one matrix product (c * G)^T X. The g_i come
//    from one backward pass of the summed loss, because record i's loss depends on its row only.
//  - The exact fallback for other layers: one backward pass per record (microbatches of one).
//  - The training loop: Poisson sampling with rate q (what the accountant assumes), the clipped
//    sum plus N(0, (sigma C)^2) per coordinate divided by the expected batch size, Adam, and
//    RDP accounting with sigma calibrated so the target (epsilon, delta) is never exceeded.
#ifndef FEDSYN_COMMON_MODEL_DP_SGD_ENGINE_H_
#define FEDSYN_COMMON_MODEL_DP_SGD_ENGINE_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/model/vae.h"
#include "common/privacy/random.h"

namespace fedsyn::model {

// One batch after per-record clipping: the records' gradient norms before clipping and the sum
// of clipped gradients, one tensor per parameter (aligned with the module's parameters()).
struct ClippedBatch {
  double loss_sum = 0;  // summed loss of the batch, for progress reports
  torch::Tensor norms;
  std::vector<torch::Tensor> sums;
};

// Records the linear layers a forward pass goes through, for the fast path.
class LinearTrace {
 public:
  torch::Tensor Apply(torch::nn::LinearImpl* layer, const torch::Tensor& input) {
    layers_.push_back(layer);
    inputs_.push_back(input.detach());
    outputs_.push_back(layer->forward(input));
    return outputs_.back();
  }
  // Runs a Sequential of Linear layers and element-wise activations (anything that is not a
  // Linear layer must have no parameters and act on each record separately).
  torch::Tensor ApplySequential(torch::nn::Sequential& sequential, torch::Tensor h) {
    for (const auto& child : sequential->children()) {
      if (auto* linear = child->as<torch::nn::Linear>()) {
        h = Apply(linear, h);
      } else {
        TORCH_CHECK(child->as<torch::nn::ReLU>() != nullptr,
                    "the fast DP-SGD path supports Linear and ReLU layers only");
        h = torch::relu(h);
      }
    }
    return h;
  }

  // Norms and clipped sums for per-record losses `loss` whose parameters all sit in the traced
  // layers, plus optional extra parameters whose per-record gradients are given in closed form
  // (`extra`: parameter -> records x parameter-size gradients).
  ClippedBatch Clip(const torch::Tensor& loss, const std::vector<torch::Tensor>& parameters,
                    double clip_norm,
                    const std::map<const void*, torch::Tensor>& extra = {}) const {
    const std::vector<torch::Tensor> g = torch::autograd::grad({loss.sum()}, outputs_);
    torch::Tensor norm2 = torch::zeros({loss.size(0)});
    for (size_t l = 0; l < g.size(); ++l) {
      norm2 += g[l].pow(2).sum(1) * (inputs_[l].pow(2).sum(1) + 1);
    }
    for (const auto& [parameter, per_record] : extra) norm2 += per_record.pow(2).sum(1);
    ClippedBatch result;
    result.loss_sum = loss.sum().item<double>();
    result.norms = norm2.sqrt();
    // c_i = min(1, C / |g_i|): records inside the ball keep their gradient.
    const torch::Tensor factor =
        (clip_norm / result.norms.clamp_min(1e-12)).clamp_max(1.0).unsqueeze(1);
    std::map<const void*, torch::Tensor> by_parameter;
    for (size_t l = 0; l < g.size(); ++l) {
      const torch::Tensor scaled = g[l] * factor;
      by_parameter[layers_[l]->weight.unsafeGetTensorImpl()] = scaled.t().mm(inputs_[l]);
      by_parameter[layers_[l]->bias.unsafeGetTensorImpl()] = scaled.sum(0);
    }
    for (const auto& [parameter, per_record] : extra) {
      by_parameter[parameter] = (per_record * factor).sum(0);
    }
    for (const torch::Tensor& p : parameters) {
      const auto it = by_parameter.find(p.unsafeGetTensorImpl());
      result.sums.push_back(it != by_parameter.end() ? it->second.detach() : torch::zeros_like(p));
    }
    return result;
  }

 private:
  std::vector<torch::nn::LinearImpl*> layers_;
  std::vector<torch::Tensor> inputs_;
  std::vector<torch::Tensor> outputs_;
};

// The exact fallback: `record_loss(i)` is record i's scalar loss through the module as it is.
inline ClippedBatch ClipByMicrobatches(torch::nn::Module& module, int64_t records,
                                       const std::function<torch::Tensor(int64_t)>& record_loss,
                                       double clip_norm) {
  auto parameters = module.parameters();
  ClippedBatch result;
  result.norms = torch::zeros({records});
  for (const torch::Tensor& p : parameters) result.sums.push_back(torch::zeros_like(p));
  for (int64_t i = 0; i < records; ++i) {
    module.zero_grad();
    const torch::Tensor loss = record_loss(i);
    loss.backward();
    result.loss_sum += loss.item<double>();
    double norm2 = 0;
    for (const torch::Tensor& p : parameters) {
      if (p.grad().defined()) norm2 += p.grad().pow(2).sum().item<double>();
    }
    const double norm = std::sqrt(norm2);
    result.norms[i] = norm;
    const double factor = std::min(1.0, clip_norm / std::max(norm, 1e-12));
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < parameters.size(); ++k) {
      if (parameters[k].grad().defined()) result.sums[k] += parameters[k].grad() * factor;
    }
  }
  module.zero_grad();
  return result;
}

// Clips each of the records `chosen` (indices into the training data) to `row_clip_norm`;
// draws any per-record randomness it needs (the VAE's reparameterisation noise) from `noise`,
// the run's keyed stream.
using ClipBatchFn = std::function<ClippedBatch(const torch::Tensor& chosen, double row_clip_norm,
                                               privacy::RandomSource& noise)>;

// A float tensor of independent N(0, stddev^2) draws from `rng` (double precision, then cast).
torch::Tensor NormalTensor(privacy::RandomSource& rng, at::IntArrayRef sizes, double stddev);

// The DP-SGD loop over `records` training records. Every variate the guarantee depends on (the
// Poisson masks, the clip function's noise, the Gaussian gradient noise) comes from one
// privacy::KeyedStream keyed from `key_source` (in production SecureRandom); LibTorch's own
// generator, which keeps only 32 bits of its seed, is not used. Fills every DpTrainReport field
// but train.threads; reports one progress update per epoch.
// `unit_of_row`: as in Vae::TrainPrivately (empty: every record its own unit).
absl::StatusOr<DpTrainReport> RunDpSgd(torch::nn::Module& module, int64_t records,
                                       const DpSgdOptions& options, double learning_rate,
                                       privacy::RandomSource& key_source,
                                       const ClipBatchFn& clip_batch, base::ProgressSink& progress,
                                       const std::vector<int64_t>& unit_of_row = {});

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_DP_SGD_ENGINE_H_
