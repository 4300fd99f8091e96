// Internal to common/model (includes LibTorch): the model-independent parts of DP-SGD, shared by
// the VAE (dp_sgd.cc) and the classifiers (classifier.cc).
//
//  - The fast per-record path (LayerTrace) for linear layers (Goodfellow 2015): a record's weight
//  gradient in
//    y = x W^T + b is the outer product g_i x_i^T of its output gradient and its input, so
//      |grad_W,i|^2 + |grad_b,i|^2 = |g_i|^2 (|x_i|^2 + 1)
//    and the clipped sum sum_i c_i g_i x_i^T is one matrix product (c * G)^T X. The g_i come
//    from one backward pass of the summed loss, because record i's loss depends on its row only.
//    and, by unfolding, for convolutions (below). Other layers are refused, not approximated.
//  - The training loop: Poisson sampling with rate q (what the accountant assumes), the clipped
//    sum plus N(0, (sigma C)^2) per coordinate divided by the expected batch size, Adam, and
//    RDP accounting with sigma calibrated so the target (epsilon, delta) is never exceeded.
#ifndef FEDSYN_COMMON_MODEL_DP_SGD_ENGINE_H_
#define FEDSYN_COMMON_MODEL_DP_SGD_ENGINE_H_

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/model/clipped_batch.h"
#include "common/model/float_loops.h"
#include "common/model/vae.h"
#include "common/privacy/random.h"

namespace fedsyn::model {

// What torch::nn::functional::unfold computes for a float tensor `x` (records x channels x H x
// W): records x (channels * kh * kw) x L, row (c, i, j) holding, for every output position (y, x)
// of the convolution in row-major order, x[c][y*sh - ph + i*dh][x*sw - pw + j*dw] (0 outside).
// LibTorch's im2col computes each entry's index with branches and was a third of a DP-SGD step
// of the CNN classifier (docs/performance.md, "What else a DP-SGD run paid"); this
// copies each (c, i, j) row of positions as strided runs from a zero-padded copy of the plane.
// tests/model/unfold_test.cc checks it against LibTorch's over strides, paddings, dilations and
// non-square kernels.
inline torch::Tensor UnfoldPatches(const torch::Tensor& input,
                                   const torch::nn::functional::UnfoldFuncOptions& o) {
  TORCH_CHECK(input.dim() == 4 && input.scalar_type() == torch::kFloat32,
              "unfolding takes a float tensor of records x channels x height x width");
  const torch::Tensor x = input.contiguous();
  const int64_t records = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t kh = (*o.kernel_size())[0], kw = (*o.kernel_size())[1];
  const int64_t sh = (*o.stride())[0], sw = (*o.stride())[1];
  const int64_t ph = (*o.padding())[0], pw = (*o.padding())[1];
  const int64_t dh = (*o.dilation())[0], dw = (*o.dilation())[1];
  const int64_t out_h = (height + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  const int64_t out_w = (width + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  TORCH_CHECK(out_h > 0 && out_w > 0, "the kernel does not fit the padded input");
  const int64_t positions = out_h * out_w, rows = channels * kh * kw;
  torch::Tensor patches = torch::empty({records, rows, positions}, torch::kFloat32);
  const float* source = x.data_ptr<float>();
  float* target = patches.data_ptr<float>();
  // Each plane is copied into the middle of a zeroed, padded plane first, so that every row of
  // positions is a plain strided gather without bounds checks (the border is never written).
  const int64_t padded_h = height + 2 * ph, padded_w = width + 2 * pw;
  std::vector<float> padded(static_cast<size_t>(padded_h * padded_w), 0.0f);
  for (int64_t plane = 0; plane < records * channels; ++plane) {
    const float* image = source + plane * height * width;
    for (int64_t y = 0; y < height; ++y) {
      std::copy(image + y * width, image + (y + 1) * width,
                padded.data() + (y + ph) * padded_w + pw);
    }
    for (int64_t i = 0; i < kh; ++i) {
      for (int64_t j = 0; j < kw; ++j) {
        // Row (c, i, j) of record r sits at (r * channels + c) * kh * kw + i * kw + j.
        float* row = target + ((plane * kh + i) * kw + j) * positions;
        const float* corner = padded.data() + i * dh * padded_w + j * dw;
        for (int64_t y = 0; y < out_h; ++y) {
          const float* line = corner + y * sh * padded_w;
          float* out = row + y * out_w;
          for (int64_t col = 0; col < out_w; ++col) out[col] = line[col * sw];
        }
      }
    }
  }
  return patches;
}

// Records the layers with parameters a forward pass goes through, for the fast path: linear
// layers, 2-D convolutions and transposed convolutions (groups 1, zero padding).
//  - Linear: the outer-product identity above, never materialising a record's gradient.
//  - Conv2d: record i's weight gradient is G_i U_i^T, with G_i its output gradient (out x L
//    positions) and U_i = unfold(x_i) (in*k*k x L): the same patches the convolution multiplied
//    (the "unfold" trick, as in Opacus), one batched matrix product for all records.
//  - ConvTranspose2d, the adjoint of a convolution with the same weight: record i's weight
//    gradient is X_i unfold(G_i)^T (in x out*k*k), the output gradient unfolded with the
//    layer's kernel, stride and padding lining up with the input's L positions.
// Biases: the output gradient summed over positions. tests/model/dp_sgd_test.cc checks every
// kind against one backward pass per record.
class LayerTrace {
 public:
  torch::Tensor Apply(torch::nn::LinearImpl* layer, const torch::Tensor& input) {
    return Record(Kind::kLinear, std::nullopt, layer->weight, layer->bias, input,
                  layer->forward(input));
  }
  torch::Tensor Apply(torch::nn::Conv2dImpl* layer, const torch::Tensor& input) {
    return Record(Kind::kConv, UnfoldOptions(layer->options), layer->weight, layer->bias, input,
                  layer->forward(input));
  }
  torch::Tensor Apply(torch::nn::ConvTranspose2dImpl* layer, const torch::Tensor& input) {
    TORCH_CHECK(
        layer->options.output_padding()->at(0) == 0 && layer->options.output_padding()->at(1) == 0,
        "the fast DP-SGD path supports transposed convolutions without output padding");
    return Record(Kind::kConvTranspose, UnfoldOptions(layer->options), layer->weight, layer->bias,
                  input, layer->forward(input));
  }
  // Runs a Sequential of the layers above and parameter-free layers that act on each record
  // separately (ReLU, Flatten, Unflatten).
  torch::Tensor ApplySequential(torch::nn::Sequential& sequential, torch::Tensor h) {
    for (const auto& child : sequential->children()) {
      if (auto* linear = child->as<torch::nn::Linear>()) {
        h = Apply(linear, h);
      } else if (auto* conv = child->as<torch::nn::Conv2d>()) {
        h = Apply(conv, h);
      } else if (auto* transposed = child->as<torch::nn::ConvTranspose2d>()) {
        h = Apply(transposed, h);
      } else {
        TORCH_CHECK(child->as<torch::nn::ReLU>() != nullptr ||
                        child->as<torch::nn::Flatten>() != nullptr ||
                        child->as<torch::nn::Unflatten>() != nullptr,
                    "the fast DP-SGD path supports Linear, Conv2d, ConvTranspose2d, ReLU, "
                    "Flatten and Unflatten layers only");
        h = child->as<torch::nn::ReLU>() != nullptr ? torch::relu(h)
            : child->as<torch::nn::Flatten>() != nullptr
                ? child->as<torch::nn::Flatten>()->forward(h)
                : child->as<torch::nn::Unflatten>()->forward(h);
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
    std::vector<torch::Tensor> outputs;
    for (const Traced& layer : layers_) outputs.push_back(layer.output);
    const std::vector<torch::Tensor> g = torch::autograd::grad({loss.sum()}, outputs);
    const int64_t records = loss.size(0);
    // Per record: the weight gradient of each convolution (records x weight size; a
    // convolution's in the transposed layout of ConvWeightGradientsTransposed) and the bias
    // gradient of every layer (records x out). Squared norms in double.
    std::vector<torch::Tensor> weight_grads(layers_.size()), bias_grads(layers_.size());
    std::vector<double> norm2(static_cast<size_t>(records), 0.0);
    auto add_norms = [&](const std::vector<double>& row_norms) {
      for (int64_t r = 0; r < records; ++r) norm2[r] += row_norms[r];
    };
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Traced& layer = layers_[l];
      switch (layer.kind) {
        case Kind::kLinear: {
          const std::vector<double> g2 = RowSquaredNorms(g[l]), x2 = RowSquaredNorms(layer.input);
          for (int64_t r = 0; r < records; ++r) norm2[r] += g2[r] * (x2[r] + 1);
          bias_grads[l] = g[l];
          continue;
        }
        case Kind::kConv:
          weight_grads[l] = ConvWeightGradientsTransposed(layer, g[l]);
          break;
        case Kind::kConvTranspose:
          weight_grads[l] = ConvTransposeWeightGradients(layer, g[l]);
          break;
      }
      bias_grads[l] = g[l].flatten(2).sum(2);
      add_norms(RowSquaredNorms(weight_grads[l]));
      add_norms(RowSquaredNorms(bias_grads[l]));
    }
    for (const auto& [parameter, per_record] : extra) add_norms(RowSquaredNorms(per_record));
    ClippedBatch result;
    result.loss_sum = loss.sum().item<double>();
    result.norms = torch::empty({records});
    std::vector<float> factor(static_cast<size_t>(records));
    ClipFactors(norm2, clip_norm, {result.norms.data_ptr<float>(), factor.size()}, factor);
    const torch::Tensor factor_column =
        torch::from_blob(factor.data(), {records, 1}, torch::kFloat32);
    std::map<const void*, torch::Tensor> by_parameter;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Traced& layer = layers_[l];
      torch::Tensor weight_sum;
      switch (layer.kind) {
        case Kind::kLinear:
          weight_sum = (g[l] * factor_column).t().mm(layer.input);
          break;
        case Kind::kConv:  // summed in [in, k, k, out]: back to [out, in, k, k]
          weight_sum = WeightedRowSum(weight_grads[l], factor)
                           .view({-1, layer.weight.size(0)})
                           .t()
                           .contiguous()
                           .view(layer.weight.sizes());
          break;
        case Kind::kConvTranspose:
          weight_sum = WeightedRowSum(weight_grads[l], factor).view(layer.weight.sizes());
          break;
      }
      by_parameter[layer.weight.unsafeGetTensorImpl()] = weight_sum;
      if (layer.bias.defined())
        by_parameter[layer.bias.unsafeGetTensorImpl()] = WeightedRowSum(bias_grads[l], factor);
    }
    for (const auto& [parameter, per_record] : extra) {
      by_parameter[parameter] = WeightedRowSum(per_record, factor);
    }
    for (const torch::Tensor& p : parameters) {
      const auto it = by_parameter.find(p.unsafeGetTensorImpl());
      result.sums.push_back(it != by_parameter.end() ? it->second.detach() : torch::zeros_like(p));
    }
    return result;
  }

 private:
  enum class Kind { kLinear, kConv, kConvTranspose };
  struct Traced {
    Kind kind;
    // Convolutions: the unfolding that lines their patches up with their positions.
    std::optional<torch::nn::functional::UnfoldFuncOptions> unfold;
    torch::Tensor weight, bias, input, output;
  };

  torch::Tensor Record(Kind kind, std::optional<torch::nn::functional::UnfoldFuncOptions> unfold,
                       const torch::Tensor& weight, const torch::Tensor& bias,
                       const torch::Tensor& input, torch::Tensor output) {
    layers_.push_back({kind, std::move(unfold), weight, bias, input.detach(), output});
    return output;
  }
  // The unfolding that lines a layer's patches up with its positions; refuses grouped,
  // non-zero-padded and "same"/"valid"-padded layers (none of fedsyn's networks has them).
  static torch::nn::functional::UnfoldFuncOptions UnfoldOptions(
      const torch::nn::detail::ConvNdOptions<2>& o) {
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    TORCH_CHECK(o.groups() == 1 && c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) &&
                    padding != nullptr,
                "the fast DP-SGD path supports ungrouped convolutions with explicit zero padding");
    return torch::nn::functional::UnfoldFuncOptions(o.kernel_size())
        .dilation(o.dilation())
        .padding(*padding)
        .stride(o.stride());
  }
  // Each row's squared norm of `m` (records x ..., float), in double.
  static std::vector<double> RowSquaredNorms(const torch::Tensor& m) {
    const torch::Tensor rows = m.detach().contiguous().flatten(1);
    TORCH_CHECK(rows.scalar_type() == torch::kFloat32, "per-record gradients are float");
    const int64_t records = rows.size(0), width = rows.size(1);
    std::vector<double> norms(static_cast<size_t>(records));
    const float* data = rows.data_ptr<float>();
    for (int64_t r = 0; r < records; ++r) norms[r] = SquaredNorm(data + r * width, width);
    return norms;
  }
  // sum_i factor[i] m_i over the rows of `m` (records x ..., float): a tensor of one row's size.
  static torch::Tensor WeightedRowSum(const torch::Tensor& m, const std::vector<float>& factor) {
    const torch::Tensor rows = m.detach().contiguous().flatten(1);
    const int64_t records = rows.size(0), width = rows.size(1);
    torch::Tensor sum = torch::zeros({width}, torch::kFloat32);
    const float* data = rows.data_ptr<float>();
    for (int64_t r = 0; r < records; ++r)
      AddScaled(sum.data_ptr<float>(), data + r * width, factor[r], width);
    return sum;
  }
  // records x (in * k * k * out): each record's weight gradient transposed, [in, k, k, out] —
  // the weight's layout [out, in, k, k] with its first index moved last. Computed as U_i G_i^T,
  // which OpenBLAS does in about three quarters of the time of G_i U_i^T on the CNN's layers
  // (docs/performance.md); norms do not care, and the clipped sum is transposed once.
  static torch::Tensor ConvWeightGradientsTransposed(const Traced& layer,
                                                     const torch::Tensor& grad) {
    const torch::Tensor patches =
        UnfoldPatches(layer.input, *layer.unfold);  // records x in*k*k x L
    const torch::Tensor g = grad.flatten(2);        // records x out x L
    TORCH_CHECK(patches.size(2) == g.size(2), "convolution positions do not line up");
    return torch::bmm(patches, g.transpose(1, 2)).flatten(1);
  }
  // records x (in * out * k * k), in the weight's layout [in, out, k, k].
  static torch::Tensor ConvTransposeWeightGradients(const Traced& layer,
                                                    const torch::Tensor& grad) {
    const torch::Tensor unfolded = UnfoldPatches(grad, *layer.unfold);  // records x out*k*k x L
    const torch::Tensor x = layer.input.flatten(2);                     // records x in x L
    TORCH_CHECK(unfolded.size(2) == x.size(2), "transposed convolution positions do not line up");
    return torch::bmm(x, unfolded.transpose(1, 2)).flatten(1);
  }

  std::vector<Traced> layers_;
};

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
