// Internal to common/model (includes LibTorch): the VAE's networks and loss, shared by the
// translation units that train them (vae.cc: Adam; dp_sgd.cc: DP-SGD). Not for other layers.
#ifndef FEDSYN_COMMON_MODEL_VAE_NET_H_
#define FEDSYN_COMMON_MODEL_VAE_NET_H_

#include <torch/torch.h>

#include <cstring>
#include <numbers>
#include <span>
#include <vector>

#include "common/model/vae_spec.h"

namespace fedsyn::model {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

// Lower bound on the learned log standard deviation of Gaussian columns: without it the
// likelihood of a perfectly reconstructed column grows without bound and training diverges.
inline constexpr double kMinLogSigma = -5.0;

inline torch::Tensor ToTensor(const data::Matrix& m) {
  return torch::from_blob(const_cast<float*>(m.values.data()), {m.rows, m.cols}, torch::kFloat32)
      .clone();
}

inline data::Matrix ToMatrix(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous().to(torch::kFloat32);
  data::Matrix m(c.size(0), c.size(1));
  std::memcpy(m.values.data(), c.data_ptr<float>(), m.values.size() * sizeof(float));
  return m;
}

// Each tensor's values in place, for the loops that work on plain floats (AdamOptimizer, the
// hand-written step): contiguous float32 tensors only, as every module parameter and its
// gradient are. FloatSpans<const float> for values only read.
template <typename Float = float>
std::vector<std::span<Float>> FloatSpans(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::span<Float>> spans;
  for (const torch::Tensor& t : tensors) {
    TORCH_CHECK(t.is_contiguous() && t.scalar_type() == torch::kFloat32,
                "a contiguous float tensor is needed");
    spans.emplace_back(t.data_ptr<float>(), static_cast<size_t>(t.numel()));
  }
  return spans;
}

// Encoder and decoder networks for both architectures.
struct VaeNet : nn::Module {
  explicit VaeNet(const VaeSpec& spec) : spec_(spec) {
    int encoder_out = 0;
    if (spec.architecture == Architecture::kMlp) {
      int width = spec.input_width;
      for (int h : spec.hidden) {
        encoder->push_back(nn::Linear(width, h));
        encoder->push_back(nn::ReLU());
        width = h;
      }
      encoder_out = width;
      width = spec.latent_dim;
      for (auto it = spec.hidden.rbegin(); it != spec.hidden.rend(); ++it) {
        decoder->push_back(nn::Linear(width, *it));
        decoder->push_back(nn::ReLU());
        width = *it;
      }
      decoder->push_back(nn::Linear(width, spec.input_width));
    } else {
      const int h = spec.hidden.front();
      encoder->push_back(nn::Unflatten(nn::UnflattenOptions(1, {1, 28, 28})));
      encoder->push_back(nn::Conv2d(nn::Conv2dOptions(1, 32, 4).stride(2).padding(1)));  // 14x14
      encoder->push_back(nn::ReLU());
      encoder->push_back(nn::Conv2d(nn::Conv2dOptions(32, 64, 4).stride(2).padding(1)));  // 7x7
      encoder->push_back(nn::ReLU());
      encoder->push_back(nn::Flatten());
      encoder->push_back(nn::Linear(64 * 7 * 7, h));
      encoder->push_back(nn::ReLU());
      encoder_out = h;
      decoder->push_back(nn::Linear(spec.latent_dim, h));
      decoder->push_back(nn::ReLU());
      decoder->push_back(nn::Linear(h, 64 * 7 * 7));
      decoder->push_back(nn::ReLU());
      decoder->push_back(nn::Unflatten(nn::UnflattenOptions(1, {64, 7, 7})));
      decoder->push_back(
          nn::ConvTranspose2d(nn::ConvTranspose2dOptions(64, 32, 4).stride(2).padding(1)));
      decoder->push_back(nn::ReLU());
      decoder->push_back(
          nn::ConvTranspose2d(nn::ConvTranspose2dOptions(32, 1, 4).stride(2).padding(1)));
      decoder->push_back(nn::Flatten());
    }
    register_module("encoder", encoder);
    register_module("decoder", decoder);
    mu_head = register_module("mu_head", nn::Linear(encoder_out, spec.latent_dim));
    logvar_head = register_module("logvar_head", nn::Linear(encoder_out, spec.latent_dim));

    std::vector<int64_t> gaussian, bernoulli;
    for (const data::Block& b : spec.blocks) {
      if (b.kind == data::BlockKind::kGaussian) gaussian.push_back(b.offset);
      if (b.kind == data::BlockKind::kBernoulli) bernoulli.push_back(b.offset);
      if (b.kind == data::BlockKind::kCategorical) categorical.push_back(b);
    }
    gaussian_index = torch::tensor(gaussian, torch::kLong);
    bernoulli_index = torch::tensor(bernoulli, torch::kLong);
    log_sigma =
        register_parameter("log_sigma", torch::zeros({static_cast<int64_t>(gaussian.size())}));
  }

  std::pair<torch::Tensor, torch::Tensor> Encode(const torch::Tensor& x) {
    const torch::Tensor h = encoder->forward(x);
    return {mu_head->forward(h), logvar_head->forward(h)};
  }
  torch::Tensor Decode(const torch::Tensor& z) { return decoder->forward(z); }

  // Per-record negative ELBO: reconstruction + beta * KL.
  torch::Tensor RecordLoss(const torch::Tensor& x, const torch::Tensor& out,
                           const torch::Tensor& mu, const torch::Tensor& logvar) const {
    torch::Tensor loss = torch::zeros({x.size(0)});
    if (gaussian_index.numel() > 0) {
      const torch::Tensor ls = log_sigma.clamp_min(kMinLogSigma);
      const torch::Tensor diff =
          (x.index_select(1, gaussian_index) - out.index_select(1, gaussian_index)) / ls.exp();
      loss = loss + (0.5 * diff.pow(2) + ls + 0.5 * std::log(2.0 * std::numbers::pi)).sum(1);
    }
    if (bernoulli_index.numel() > 0) {
      loss = loss + F::binary_cross_entropy_with_logits(
                        out.index_select(1, bernoulli_index), x.index_select(1, bernoulli_index),
                        F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
                        .sum(1);
    }
    for (const data::Block& b : categorical) {
      loss = loss - (x.narrow(1, b.offset, b.width) *
                     torch::log_softmax(out.narrow(1, b.offset, b.width), 1))
                        .sum(1);
    }
    const torch::Tensor kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1);
    return loss + spec_.beta * kl;
  }

  VaeSpec spec_;
  nn::Sequential encoder, decoder;
  nn::Linear mu_head{nullptr}, logvar_head{nullptr};
  torch::Tensor log_sigma, gaussian_index, bernoulli_index;
  std::vector<data::Block> categorical;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_VAE_NET_H_
