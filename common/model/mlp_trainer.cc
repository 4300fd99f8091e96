#include "common/model/mlp_trainer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/model/float_loops.h"

namespace fedsyn::model {
namespace {

// The Linear modules of `sequence` in order (the ReLUs between them carry no parameters).
std::vector<std::shared_ptr<nn::LinearImpl>> Linears(const nn::Sequential& sequence) {
  std::vector<std::shared_ptr<nn::LinearImpl>> linears;
  for (const auto& child : sequence->children()) {
    if (auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(child)) linears.push_back(linear);
  }
  return linears;
}

float* Data(const torch::Tensor& t) { return t.data_ptr<float>(); }

// The parameter's gradient tensor, created if an optimizer's zero_grad() dropped it: the trainer
// writes gradients in place.
torch::Tensor& GradOf(const torch::Tensor& parameter) {
  torch::Tensor& grad = parameter.mutable_grad();
  if (!grad.defined()) grad = torch::zeros_like(parameter);
  return grad;
}

// Zeroes the gradient entries whose activation did not pass its ReLU (activation <= 0), as
// LibTorch's threshold_backward does.
void MaskByRelu(const torch::Tensor& grad, const torch::Tensor& activation) {
  float* g = Data(grad);
  const float* a = Data(activation);
  const int64_t n = grad.numel();
  for (int64_t i = 0; i < n; ++i) g[i] = a[i] > 0.0f ? g[i] : 0.0f;  // a select: vectorises
}

}  // namespace

MlpTrainer::MlpTrainer(VaeNet& net, int64_t max_batch, double learning_rate)
    : net_(net), parameters_(net.parameters()), optimizer_(FloatSpans(parameters_), learning_rate) {
  torch::NoGradGuard no_grad;
  for (const auto& linear : Linears(net.encoder))
    encoder_.push_back({linear->weight, linear->bias});
  for (const auto& linear : Linears(net.decoder))
    decoder_.push_back({linear->weight, linear->bias});
  heads_.push_back({net.mu_head->weight, net.mu_head->bias});
  heads_.push_back({net.logvar_head->weight, net.logvar_head->bias});
  for (const torch::Tensor& p : parameters_) GradOf(p);
  gaussian_.assign(net.gaussian_index.data_ptr<int64_t>(),
                   net.gaussian_index.data_ptr<int64_t>() + net.gaussian_index.numel());
  bernoulli_.assign(net.bernoulli_index.data_ptr<int64_t>(),
                    net.bernoulli_index.data_ptr<int64_t>() + net.bernoulli_index.numel());
  Allocate(max_batch);
}

void MlpTrainer::Allocate(int64_t max_batch) {
  max_batch_ = std::max<int64_t>(max_batch, 1);
  const auto buffer = [this](int64_t cols) { return torch::zeros({max_batch_, cols}); };
  for (auto* layers : {&encoder_, &decoder_, &heads_}) {
    for (Layer& layer : *layers) {
      layer.output = buffer(layer.weight.size(0));
      layer.grad = buffer(layer.weight.size(0));
    }
  }
  const int64_t latent = net_.spec_.latent_dim;
  eps_ = buffer(latent);
  std_ = buffer(latent);
  z_ = buffer(latent);
  grad_z_ = buffer(latent);
  log_sigma_rows_.assign(static_cast<size_t>(max_batch_) * gaussian_.size(), 0.0f);
}

void MlpTrainer::Forward(std::vector<Layer>& layers, const torch::Tensor& input, int64_t rows,
                         bool relu_last) {
  torch::Tensor in = input;
  for (size_t i = 0; i < layers.size(); ++i) {
    torch::Tensor out = layers[i].output.narrow(0, 0, rows);
    at::addmm_out(out, layers[i].bias, in, layers[i].weight.t());
    if (relu_last || i + 1 < layers.size()) out.relu_();
    in = out;
  }
}

void MlpTrainer::ParameterGradients(Layer& layer, const torch::Tensor& input, int64_t rows) {
  const torch::Tensor grad = layer.grad.narrow(0, 0, rows);
  at::mm_out(GradOf(layer.weight), grad.t(), input);
  at::sum_out(GradOf(layer.bias), grad, {0});
}

void MlpTrainer::Backward(std::vector<Layer>& layers, const torch::Tensor& input,
                          const torch::Tensor& grad_in, int64_t rows, bool parameter_gradients) {
  for (size_t i = layers.size(); i-- > 0;) {
    const torch::Tensor grad = layers[i].grad.narrow(0, 0, rows);
    const torch::Tensor in = i == 0 ? input : layers[i - 1].output.narrow(0, 0, rows);
    if (parameter_gradients) ParameterGradients(layers[i], in, rows);
    if (i > 0) {
      torch::Tensor below = layers[i - 1].grad.narrow(0, 0, rows);
      at::mm_out(below, grad, layers[i].weight);
      MaskByRelu(below, layers[i - 1].output.narrow(0, 0, rows));
    } else if (grad_in.defined()) {
      torch::Tensor grad_in_rows = grad_in;
      at::mm_out(grad_in_rows, grad, layers[i].weight);
    }
  }
}

double MlpTrainer::OutputLoss(const float* x, int64_t rows, double scale) {
  const int64_t width = net_.spec_.input_width;
  const float* out = Data(decoder_.back().output);
  float* grad = Data(decoder_.back().grad);
  std::fill(grad, grad + rows * width, 0.0f);
  const float* log_sigma = Data(net_.log_sigma);
  float* grad_log_sigma = Data(GradOf(net_.log_sigma));
  std::fill(grad_log_sigma, grad_log_sigma + net_.log_sigma.numel(), 0.0f);
  const float s = static_cast<float>(scale);
  const double half_log_two_pi = 0.5 * std::log(2.0 * std::numbers::pi);
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    const float* o = out + r * width;
    float* g = grad + r * width;
    for (size_t j = 0; j < gaussian_.size(); ++j) {
      const int64_t k = gaussian_[j];
      const float ls = std::max(log_sigma[j], static_cast<float>(kMinLogSigma));
      const float sigma = std::exp(ls);
      const float d = (xr[k] - o[k]) / sigma;
      total += 0.5 * d * d + ls + half_log_two_pi;
      g[k] = -s * d / sigma;
      // clamp_min passes the gradient where the input is at or above the bound.
      const float own = log_sigma[j] >= static_cast<float>(kMinLogSigma) ? 1 - d * d : 0.0f;
      log_sigma_rows_[static_cast<size_t>(r) * gaussian_.size() + j] = own;
      grad_log_sigma[j] += s * own;
    }
    for (const int64_t k : bernoulli_) {
      const float logit = o[k];
      total += std::max(logit, 0.0f) - logit * xr[k] + std::log1p(std::exp(-std::fabs(logit)));
      g[k] = s * (1.0f / (1.0f + std::exp(-logit)) - xr[k]);
    }
    for (const data::Block& b : net_.categorical) {
      const float* ob = o + b.offset;
      const float* xb = xr + b.offset;
      const float top = *std::max_element(ob, ob + b.width);
      double sum = 0.0, mass = 0.0, dot = 0.0;
      for (int c = 0; c < b.width; ++c) {
        sum += std::exp(ob[c] - top);
        mass += xb[c];
        dot += xb[c] * ob[c];
      }
      const double log_normaliser = top + std::log(sum);
      total -= dot - mass * log_normaliser;
      for (int c = 0; c < b.width; ++c) {
        const double p = std::exp(ob[c] - log_normaliser);
        g[b.offset + c] = s * static_cast<float>(p * mass - xb[c]);
      }
    }
  }
  return total;
}

double MlpTrainer::ComputeGradients(const torch::Tensor& x, const torch::Tensor& eps,
                                    double scale) {
  return Propagate(x, eps, scale, /*parameter_gradients=*/true);
}

double MlpTrainer::Propagate(const torch::Tensor& x, const torch::Tensor& eps, double scale,
                             bool parameter_gradients) {
  torch::NoGradGuard no_grad;
  const int64_t rows = x.size(0);
  if (rows > max_batch_) Allocate(rows);
  const int64_t latent = net_.spec_.latent_dim;
  Forward(encoder_, x, rows, /*relu_last=*/true);
  const torch::Tensor hidden = encoder_.back().output.narrow(0, 0, rows);
  for (Layer& head : heads_) {
    torch::Tensor out = head.output.narrow(0, 0, rows);
    at::addmm_out(out, head.bias, hidden, head.weight.t());
  }
  const float* mu = Data(heads_[0].output);
  const float* logvar = Data(heads_[1].output);
  const float* noise = Data(eps);
  float* sd = Data(std_);
  float* z = Data(z_);
  double kl = 0.0;
  for (int64_t i = 0; i < rows * latent; ++i) {
    sd[i] = std::exp(0.5f * logvar[i]);
    z[i] = mu[i] + sd[i] * noise[i];
    kl += -0.5 * (1.0 + logvar[i] - mu[i] * mu[i] - std::exp(logvar[i]));
  }
  const torch::Tensor z_rows = z_.narrow(0, 0, rows);
  Forward(decoder_, z_rows, rows, /*relu_last=*/false);
  const double beta = net_.spec_.beta;
  const double loss = OutputLoss(Data(x), rows, scale) + beta * kl;

  Backward(decoder_, z_rows, grad_z_.narrow(0, 0, rows), rows, parameter_gradients);
  // z = mu + exp(logvar / 2) * eps, and the KL term's own gradients.
  const float* grad_z = Data(grad_z_);
  float* grad_mu = Data(heads_[0].grad);
  float* grad_logvar = Data(heads_[1].grad);
  const float kl_scale = static_cast<float>(scale * beta);
  for (int64_t i = 0; i < rows * latent; ++i) {
    grad_mu[i] = grad_z[i] + kl_scale * mu[i];
    grad_logvar[i] =
        grad_z[i] * noise[i] * 0.5f * sd[i] + kl_scale * 0.5f * (std::exp(logvar[i]) - 1.0f);
  }
  torch::Tensor grad_hidden = encoder_.back().grad.narrow(0, 0, rows);
  for (size_t h = 0; h < heads_.size(); ++h) {
    const torch::Tensor grad = heads_[h].grad.narrow(0, 0, rows);
    if (parameter_gradients) ParameterGradients(heads_[h], hidden, rows);
    if (h == 0) {
      at::mm_out(grad_hidden, grad, heads_[h].weight);
    } else {
      grad_hidden.addmm_(grad, heads_[h].weight);
    }
  }
  MaskByRelu(grad_hidden, hidden);
  Backward(encoder_, x, torch::Tensor(), rows, parameter_gradients);
  return loss;
}

ClippedBatch MlpTrainer::ClipPerRecord(const torch::Tensor& x, const torch::Tensor& eps,
                                       double clip_norm) {
  const int64_t rows = x.size(0);
  ClippedBatch result;
  // Scale 1: each layer's output gradient row is that record's own (a record's loss depends on
  // its row only), and log_sigma_rows_ holds each record's log_sigma gradient.
  result.loss_sum = Propagate(x, eps, 1.0, /*parameter_gradients=*/false);
  torch::NoGradGuard no_grad;
  // Squared norms in double: a sum of many squares, compared with the clip norm.
  std::vector<double> norm2(static_cast<size_t>(rows), 0.0);
  const size_t gaussians = gaussian_.size();
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < gaussians; ++j) {
      const double own = log_sigma_rows_[static_cast<size_t>(r) * gaussians + j];
      norm2[r] += own * own;
    }
  }
  // (layer, its input) for every linear layer: |grad_W,i|^2 + |grad_b,i|^2 = |g_i|^2 (|x_i|^2+1).
  const torch::Tensor hidden = encoder_.back().output.narrow(0, 0, rows);
  std::vector<std::pair<Layer*, torch::Tensor>> traced;
  for (size_t i = 0; i < encoder_.size(); ++i) {
    traced.emplace_back(&encoder_[i], i == 0 ? x : encoder_[i - 1].output.narrow(0, 0, rows));
  }
  for (Layer& head : heads_) traced.emplace_back(&head, hidden);
  for (size_t i = 0; i < decoder_.size(); ++i) {
    traced.emplace_back(&decoder_[i],
                        i == 0 ? z_.narrow(0, 0, rows) : decoder_[i - 1].output.narrow(0, 0, rows));
  }
  for (const auto& [layer, input] : traced) {
    const int64_t outs = layer->weight.size(0), ins = layer->weight.size(1);
    const float* g = Data(layer->grad);
    const float* in = Data(input);
    for (int64_t r = 0; r < rows; ++r)
      norm2[r] += SquaredNorm(g + r * outs, outs) * (SquaredNorm(in + r * ins, ins) + 1.0);
  }
  result.norms = torch::empty({rows});
  std::vector<float> factor(static_cast<size_t>(rows));
  ClipFactors(norm2, clip_norm, {result.norms.data_ptr<float>(), factor.size()}, factor);
  // The clipped sum is the plain gradient of the records' output gradients scaled by c_i.
  for (const auto& [layer, input] : traced) {
    const int64_t outs = layer->weight.size(0);
    float* g = Data(layer->grad);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < outs; ++k) g[r * outs + k] *= factor[r];
    }
    ParameterGradients(*layer, input, rows);
  }
  float* log_sigma_sum = Data(GradOf(net_.log_sigma));
  for (size_t j = 0; j < gaussians; ++j) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      sum += factor[r] * log_sigma_rows_[static_cast<size_t>(r) * gaussians + j];
    }
    log_sigma_sum[j] = static_cast<float>(sum);
  }
  for (const torch::Tensor& p : parameters_) result.sums.push_back(p.grad().clone());
  return result;
}

absl::StatusOr<double> MlpTrainer::Step(const torch::Tensor& x) {
  const int64_t rows = x.size(0);
  torch::Tensor eps = eps_.narrow(0, 0, rows);
  {
    torch::NoGradGuard no_grad;
    eps.normal_();  // what torch::randn_like draws, from the same generator
  }
  const double loss = ComputeGradients(x, eps, 1.0 / static_cast<double>(rows));
  std::vector<torch::Tensor> gradients;
  for (const torch::Tensor& p : parameters_) gradients.push_back(GradOf(p));
  RETURN_IF_ERROR(optimizer_.Step(FloatSpans(parameters_), FloatSpans<const float>(gradients)));
  return loss;
}

}  // namespace fedsyn::model
