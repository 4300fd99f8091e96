// DP-SGD for the tabular VAE (Abadi et al. 2016, "Deep Learning with Differential Privacy").
//
// Per-record gradients without a loop over records: every parameter of the MLP VAE sits in a
// linear layer y = x W^T + b, except the per-column log standard deviations of the Gaussian
// likelihood. For a linear layer the record's weight gradient is the outer product g_i x_i^T of
// the gradient g_i with respect to the layer's output and the layer's input x_i, so
//   |grad_W,i|^2 + |grad_b,i|^2 = |g_i|^2 (|x_i|^2 + 1)
// (Goodfellow 2015, "Efficient Per-Example Gradient Computations"), and the clipped sum
// sum_i c_i g_i x_i^T is one matrix product (c_i * G)^T X. The outputs' gradients g_i come from
// one backward pass of the summed loss, because record i's loss depends on record i's row only.
// The log-sigma gradient of record i is analytic: d/ds [ (x-mu)^2 e^{-2s} / 2 + s ] =
// 1 - (x-mu)^2 e^{-2s} (0 where s is clamped). tests/model/dp_sgd_test.cc checks all of this
// against a reference computed one record at a time. The convolutional VAE has no such closed
// form here and uses an exact fallback, one backward pass per record (ClipByMicrobatches).
#include <chrono>
#include <cmath>
#include <map>

#include "common/model/vae_net.h"
#include "common/privacy/rdp_accountant.h"

namespace fedsyn::model {
namespace {

struct Traced {
  std::vector<nn::LinearImpl*> layers;
  std::vector<torch::Tensor> inputs;   // each layer's input, detached
  std::vector<torch::Tensor> outputs;  // each layer's output, in the graph
  torch::Tensor loss;                  // per record
  torch::Tensor log_sigma_grad;        // per record x Gaussian columns (undefined if none)
};

torch::Tensor TraceLinear(nn::LinearImpl* layer, const torch::Tensor& input, Traced& t) {
  t.layers.push_back(layer);
  t.inputs.push_back(input.detach());
  t.outputs.push_back(layer->forward(input));
  return t.outputs.back();
}

torch::Tensor TraceSequential(nn::Sequential& sequential, torch::Tensor h, Traced& t) {
  for (const auto& child : sequential->children()) {
    if (auto* linear = child->as<nn::Linear>()) {
      h = TraceLinear(linear, h, t);
    } else {
      h = torch::relu(h);  // the MLP VAE has only linear layers and ReLUs
    }
  }
  return h;
}

Traced Forward(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps) {
  Traced t;
  const torch::Tensor h = TraceSequential(net.encoder, x, t);
  const torch::Tensor mu = TraceLinear(net.mu_head.get(), h, t);
  const torch::Tensor logvar = TraceLinear(net.logvar_head.get(), h, t);
  const torch::Tensor z = mu + torch::exp(0.5 * logvar) * eps;
  const torch::Tensor out = TraceSequential(net.decoder, z, t);
  t.loss = net.RecordLoss(x, out, mu, logvar);
  if (net.gaussian_index.numel() > 0) {
    const torch::Tensor s = net.log_sigma.detach();
    const torch::Tensor diff =
        (x.index_select(1, net.gaussian_index) - out.index_select(1, net.gaussian_index)).detach();
    const torch::Tensor active = (s >= kMinLogSigma).to(torch::kFloat32);
    t.log_sigma_grad = (1 - diff.pow(2) * torch::exp(-2 * s)) * active;
  }
  return t;
}

// Per-record norms and the clipped per-parameter sums, aligned with net.parameters().
struct Clipped {
  double loss_sum = 0;  // the batch's summed loss, for progress reports
  torch::Tensor norms;
  std::vector<torch::Tensor> sums;
};

Clipped ClipInternal(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps,
                     double clip_norm) {
  Traced t = Forward(net, x, eps);
  const std::vector<torch::Tensor> g = torch::autograd::grad({t.loss.sum()}, t.outputs);
  torch::Tensor norm2 = torch::zeros({x.size(0)});
  for (size_t l = 0; l < g.size(); ++l) {
    norm2 += g[l].pow(2).sum(1) * (t.inputs[l].pow(2).sum(1) + 1);
  }
  if (t.log_sigma_grad.defined()) norm2 += t.log_sigma_grad.pow(2).sum(1);
  Clipped result;
  result.loss_sum = t.loss.sum().item<double>();
  result.norms = norm2.sqrt();
  // c_i = min(1, C / |g_i|): records inside the ball keep their gradient.
  const torch::Tensor factor =
      (clip_norm / result.norms.clamp_min(1e-12)).clamp_max(1.0).unsqueeze(1);
  std::map<const void*, torch::Tensor> by_parameter;
  for (size_t l = 0; l < g.size(); ++l) {
    const torch::Tensor scaled = g[l] * factor;
    by_parameter[t.layers[l]->weight.unsafeGetTensorImpl()] = scaled.t().mm(t.inputs[l]);
    by_parameter[t.layers[l]->bias.unsafeGetTensorImpl()] = scaled.sum(0);
  }
  if (t.log_sigma_grad.defined()) {
    by_parameter[net.log_sigma.unsafeGetTensorImpl()] = (t.log_sigma_grad * factor).sum(0);
  }
  for (const torch::Tensor& p : net.parameters()) {
    const auto it = by_parameter.find(p.unsafeGetTensorImpl());
    result.sums.push_back(it != by_parameter.end() ? it->second.detach() : torch::zeros_like(p));
  }
  return result;
}

// The per-record loss through the networks as they are (any architecture).
torch::Tensor RecordLosses(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps) {
  auto [mu, logvar] = net.Encode(x);
  const torch::Tensor z = mu + torch::exp(0.5 * logvar) * eps;
  return net.RecordLoss(x, net.Decode(z), mu, logvar);
}

// The documented fallback for the convolutional VAE, whose per-record convolution gradients
// have no closed form here: one backward pass per record (microbatches of one). Exact, and
// measured in bench/dp_sgd.cc (docs/performance.md); slow, so DP image models are for modest
// data sizes until an unfold-based fast path exists.
Clipped ClipByMicrobatches(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps,
                           double clip_norm) {
  auto parameters = net.parameters();
  Clipped result;
  result.norms = torch::zeros({x.size(0)});
  for (const torch::Tensor& p : parameters) result.sums.push_back(torch::zeros_like(p));
  for (int64_t i = 0; i < x.size(0); ++i) {
    net.zero_grad();
    const torch::Tensor loss = RecordLosses(net, x.narrow(0, i, 1), eps.narrow(0, i, 1)).sum();
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
  net.zero_grad();
  return result;
}

Clipped ClipPerRecord(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps,
                      double clip_norm) {
  return net.spec_.architecture == Architecture::kMlp ? ClipInternal(net, x, eps, clip_norm)
                                                      : ClipByMicrobatches(net, x, eps, clip_norm);
}

std::vector<float> Flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<float> flat;
  for (const torch::Tensor& t : tensors) {
    const torch::Tensor c = t.contiguous().to(torch::kFloat32);
    flat.insert(flat.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return flat;
}

}  // namespace

absl::StatusOr<ClippedGradients> Vae::ClipPerRecordGradients(const data::Matrix& batch,
                                                             const data::Matrix& eps,
                                                             double clip_norm) {
  VaeNet& net = *impl_->net;
  if (!(clip_norm > 0)) return absl::InvalidArgumentError("the clipping norm must be positive");
  const Clipped clipped = ClipPerRecord(net, ToTensor(batch), ToTensor(eps), clip_norm);
  ClippedGradients out;
  out.norms.assign(clipped.norms.data_ptr<float>(),
                   clipped.norms.data_ptr<float>() + clipped.norms.numel());
  out.clipped_sum = Flatten(clipped.sums);
  return out;
}

std::vector<float> Vae::SummedGradient(const data::Matrix& batch, const data::Matrix& eps) {
  VaeNet& net = *impl_->net;
  net.zero_grad();
  RecordLosses(net, ToTensor(batch), ToTensor(eps)).sum().backward();
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : net.parameters())
    grads.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
  std::vector<float> flat = Flatten(grads);
  net.zero_grad();
  return flat;
}

absl::StatusOr<std::vector<float>> Vae::NoisyClippedGradient(const data::Matrix& batch,
                                                             const data::Matrix& eps,
                                                             double clip_norm,
                                                             double noise_multiplier,
                                                             uint64_t noise_seed) {
  ASSIGN_OR_RETURN(ClippedGradients clipped, ClipPerRecordGradients(batch, eps, clip_norm));
  at::Generator generator = at::detail::createCPUGenerator(noise_seed);
  const torch::Tensor noise =
      torch::randn({static_cast<int64_t>(clipped.clipped_sum.size())}, generator) *
      (noise_multiplier * clip_norm);
  for (size_t i = 0; i < clipped.clipped_sum.size(); ++i)
    clipped.clipped_sum[i] += noise[static_cast<int64_t>(i)].item<float>();
  return clipped.clipped_sum;
}

absl::StatusOr<DpTrainReport> Vae::TrainPrivately(const data::Matrix& data,
                                                  const DpSgdOptions& options,
                                                  const TrainOptions& train_options,
                                                  uint64_t noise_seed,
                                                  base::ProgressSink& progress) {
  VaeNet& net = *impl_->net;
  if (data.cols != net.spec_.input_width)
    return absl::InvalidArgumentError("training data width does not match the model");
  if (data.rows < 2) return absl::InvalidArgumentError("at least two training records are needed");
  if (!(options.target_epsilon > 0) || !(options.delta > 0 && options.delta < 1) ||
      !(options.clip_norm > 0) || options.expected_batch_size < 1 || options.epochs < 1 ||
      !(train_options.learning_rate > 0)) {
    return absl::InvalidArgumentError("invalid DP-SGD options");
  }
  DpTrainReport report;
  report.delta = options.delta;
  report.train.threads = SetComputeThreads(train_options.threads);
  const auto start = std::chrono::steady_clock::now();
  torch::manual_seed(
      train_options.seed);  // initialisation only; sampling and noise use `generator`
  const int64_t n = data.rows;
  report.sampling_rate =
      std::min(1.0, static_cast<double>(options.expected_batch_size) / static_cast<double>(n));
  const int64_t steps_per_epoch = static_cast<int64_t>(std::llround(1.0 / report.sampling_rate));
  report.steps = steps_per_epoch * options.epochs;
  ASSIGN_OR_RETURN(report.noise_multiplier,
                   privacy::CalibrateNoiseMultiplier(options.target_epsilon, options.delta,
                                                     report.sampling_rate, report.steps));
  at::Generator generator = at::detail::createCPUGenerator(noise_seed);
  const torch::Tensor all = ToTensor(data);
  const double expected_batch = report.sampling_rate * static_cast<double>(n);
  const double noise_std = report.noise_multiplier * options.clip_norm;
  torch::optim::Adam optimizer(net.parameters(),
                               torch::optim::AdamOptions(train_options.learning_rate));
  net.train();
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    double loss_total = 0;
    int64_t loss_rows = 0;
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      // Poisson sampling: each record independently with probability q (what the accountant
      // assumes).
      const torch::Tensor chosen =
          (torch::rand({n}, generator) < report.sampling_rate).nonzero().squeeze(1);
      std::vector<torch::Tensor> sums;
      if (chosen.numel() > 0) {
        const torch::Tensor x = all.index_select(0, chosen);
        const torch::Tensor eps = torch::randn({x.size(0), net.spec_.latent_dim}, generator);
        Clipped clipped = ClipPerRecord(net, x, eps, options.clip_norm);
        sums = std::move(clipped.sums);
        loss_total += clipped.loss_sum;
        loss_rows += x.size(0);
      }
      optimizer.zero_grad();
      auto parameters = net.parameters();
      for (size_t i = 0; i < parameters.size(); ++i) {
        torch::Tensor sum = sums.empty() ? torch::zeros_like(parameters[i]) : sums[i];
        parameters[i].mutable_grad() =
            (sum + torch::randn(parameters[i].sizes(), generator) * noise_std) / expected_batch;
      }
      optimizer.step();
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.train_loss = loss_rows > 0 ? loss_total / static_cast<double>(loss_rows) : 0.0;
    stats.validation_loss = stats.train_loss;
    report.train.epochs.push_back(stats);
    if (!std::isfinite(stats.train_loss))
      return absl::InternalError("training diverged (non-finite loss)");
    char summary[96];
    std::snprintf(summary, sizeof summary, "loss %.3f (DP-SGD, sigma %.3f)", stats.train_loss,
                  report.noise_multiplier);
    progress.Update({epoch, options.epochs, summary});
  }
  privacy::RdpAccountant accountant;
  RETURN_IF_ERROR(accountant.Compose(report.sampling_rate, report.noise_multiplier, report.steps));
  ASSIGN_OR_RETURN(const privacy::PrivacySpent spent, accountant.Spent(options.delta));
  report.epsilon = spent.epsilon;
  report.accountant_state = accountant.Serialize();
  report.train.best_epoch = options.epochs;
  report.train.train_rows = n;
  report.train.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char summary[128];
  std::snprintf(summary, sizeof summary, "%d epochs, DP-SGD epsilon %.4f (delta %g), %.1f s",
                options.epochs, report.epsilon, options.delta, report.train.seconds);
  progress.Finish(summary);
  return report;
}

}  // namespace fedsyn::model
