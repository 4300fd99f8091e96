// DP-SGD for the VAE (Abadi et al. 2016, "Deep Learning with Differential Privacy"), on the
// engine in dp_sgd_engine.h. Every parameter of the MLP VAE sits in a linear layer except the
// per-column log standard deviations of the Gaussian likelihood, whose per-record gradient is
// analytic: d/ds [ (x-mu)^2 e^{-2s} / 2 + s ] = 1 - (x-mu)^2 e^{-2s} (0 where s is clamped).
// tests/model/dp_sgd_test.cc checks the fast path against a reference computed one record at a
// time, for the MLP and the convolutional VAE (whose convolutions are unfolded, LayerTrace).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "common/model/adam_optimizer.h"
#include "common/model/dp_sgd_engine.h"
#include "common/model/mlp_trainer.h"
#include "common/model/vae_impl.h"
#include "common/privacy/distributions.h"
#include "common/privacy/rdp_accountant.h"

namespace fedsyn::model {
namespace {

ClippedBatch ClipPerRecord(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps,
                           double clip_norm) {
  LayerTrace trace;
  const torch::Tensor h = trace.ApplySequential(net.encoder, x);
  const torch::Tensor mu = trace.Apply(net.mu_head.get(), h);
  const torch::Tensor logvar = trace.Apply(net.logvar_head.get(), h);
  const torch::Tensor z = mu + torch::exp(0.5 * logvar) * eps;
  const torch::Tensor out = trace.ApplySequential(net.decoder, z);
  const torch::Tensor loss = net.RecordLoss(x, out, mu, logvar);
  std::map<const void*, torch::Tensor> analytic;
  if (net.gaussian_index.numel() > 0) {
    const torch::Tensor s = net.log_sigma.detach();
    const torch::Tensor diff =
        (x.index_select(1, net.gaussian_index) - out.index_select(1, net.gaussian_index)).detach();
    const torch::Tensor active = (s >= kMinLogSigma).to(torch::kFloat32);
    analytic[net.log_sigma.unsafeGetTensorImpl()] = (1 - diff.pow(2) * torch::exp(-2 * s)) * active;
  }
  return trace.Clip(loss, net.parameters(), clip_norm, analytic);
}

// The per-record loss through the networks as they are (any architecture): the reference
// SummedGradient computes by plain autograd.
torch::Tensor RecordLosses(VaeNet& net, const torch::Tensor& x, const torch::Tensor& eps) {
  auto [mu, logvar] = net.Encode(x);
  const torch::Tensor z = mu + torch::exp(0.5 * logvar) * eps;
  return net.RecordLoss(x, net.Decode(z), mu, logvar);
}

// A batch of model-space rows and its reparameterisation noise, as the model expects them: the
// hand-written pass reads them by pointer, so a mismatch must be refused before it starts.
absl::Status CheckBatchShape(const VaeSpec& spec, const data::Matrix& batch,
                             const data::Matrix& eps) {
  if (batch.cols != spec.input_width || eps.rows != batch.rows || eps.cols != spec.latent_dim ||
      batch.rows < 1) {
    return absl::InvalidArgumentError("batch or noise shape does not match the model");
  }
  return absl::OkStatus();
}

// DP-SGD's noisy gradient for one parameter: out = (sum + N(0, noise_std^2) per coordinate) /
// divisor, the noise drawn into `out` in coordinate order. `sum` empty: no record was chosen.
// The one place both the training loop and NoisyClippedGradient (whose noise
// tests/model/dp_sgd_test.cc checks statistically) add the noise the guarantee rests on.
void NoisyGradient(std::span<const float> sum, privacy::RandomSource& rng, double noise_std,
                   float divisor, std::span<float> out) {
  privacy::FillNormal(rng, noise_std, out);
  if (!sum.empty()) {
    for (size_t i = 0; i < out.size(); ++i) out[i] += sum[i];
  }
  for (float& value : out) value /= divisor;
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
                                                             double clip_norm,
                                                             bool fused_mlp_step) {
  VaeNet& net = *impl_->net;
  if (!(clip_norm > 0)) return absl::InvalidArgumentError("the clipping norm must be positive");
  RETURN_IF_ERROR(CheckBatchShape(net.spec_, batch, eps));
  ClippedBatch clipped;
  if (MlpTrainer::Serves(net.spec_, fused_mlp_step)) {
    MlpTrainer trainer(net, batch.rows, /*learning_rate=*/0.0);
    clipped = trainer.ClipPerRecord(ToTensor(batch), ToTensor(eps), clip_norm);
    net.zero_grad();
  } else {
    clipped = ClipPerRecord(net, ToTensor(batch), ToTensor(eps), clip_norm);
  }
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

absl::StatusOr<std::vector<float>> Vae::FusedSummedGradient(const data::Matrix& batch,
                                                            const data::Matrix& eps) {
  VaeNet& net = *impl_->net;
  if (!MlpTrainer::Serves(net.spec_, /*requested=*/true))
    return absl::FailedPreconditionError("the hand-written training step is for MLP models only");
  RETURN_IF_ERROR(CheckBatchShape(net.spec_, batch, eps));
  MlpTrainer trainer(net, batch.rows, /*learning_rate=*/0.0);
  trainer.ComputeGradients(ToTensor(batch), ToTensor(eps), /*scale=*/1.0);
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : net.parameters()) grads.push_back(p.grad());
  std::vector<float> flat = Flatten(grads);
  net.zero_grad();
  return flat;
}

absl::StatusOr<std::vector<float>> Vae::NoisyClippedGradient(const data::Matrix& batch,
                                                             const data::Matrix& eps,
                                                             double clip_norm,
                                                             double noise_multiplier,
                                                             privacy::RandomSource& key_source) {
  ASSIGN_OR_RETURN(const ClippedGradients clipped, ClipPerRecordGradients(batch, eps, clip_norm));
  privacy::KeyedStream stream(key_source);
  std::vector<float> noisy(clipped.clipped_sum.size());
  NoisyGradient(clipped.clipped_sum, stream, noise_multiplier * clip_norm, 1.0f, noisy);
  return noisy;
}

absl::StatusOr<DpTrainReport> Vae::TrainPrivately(const data::Matrix& data,
                                                  const DpSgdOptions& options,
                                                  const TrainOptions& train_options,
                                                  privacy::RandomSource& key_source,
                                                  base::ProgressSink& progress,
                                                  const std::vector<int64_t>& unit_of_row) {
  VaeNet& net = *impl_->net;
  if (data.cols != net.spec_.input_width)
    return absl::InvalidArgumentError("training data width does not match the model");
  const int threads =
      SetComputeThreads(TrainingThreads(train_options.threads, net.spec_.architecture));
  // The parameters were initialised by Create; nothing below draws from LibTorch's generator.
  const torch::Tensor all = ToTensor(data);
  const int64_t latent_dim = net.spec_.latent_dim;
  // The MLP's hand-written pass (mlp_trainer.h) computes the same norms and clipped sums as the
  // traced autograd pass, faster; the convolutional VAE has only the latter.
  std::optional<MlpTrainer> fused;
  if (MlpTrainer::Serves(net.spec_, train_options.fused_mlp_step)) {
    fused.emplace(net, 2 * options.expected_batch_size, /*learning_rate=*/0.0);
  }
  ASSIGN_OR_RETURN(
      DpTrainReport report,
      RunDpSgd(
          net, data.rows, options, train_options.learning_rate, key_source,
          [&](const torch::Tensor& chosen, double row_clip_norm, privacy::RandomSource& noise) {
            const torch::Tensor x = all.index_select(0, chosen);
            const torch::Tensor eps = NormalTensor(noise, {x.size(0), latent_dim}, 1.0);
            return fused ? fused->ClipPerRecord(x, eps, row_clip_norm)
                         : ClipPerRecord(net, x, eps, row_clip_norm);
          },
          progress, unit_of_row));
  if (fused) net.zero_grad();
  report.train.threads = threads;
  return report;
}

torch::Tensor NormalTensor(privacy::RandomSource& rng, at::IntArrayRef sizes, double stddev) {
  torch::Tensor out = torch::empty(sizes, torch::kFloat32);
  privacy::FillNormal(rng, stddev,
                      std::span<float>(out.data_ptr<float>(), static_cast<size_t>(out.numel())));
  return out;
}

absl::StatusOr<DpTrainReport> RunDpSgd(torch::nn::Module& module, int64_t records,
                                       const DpSgdOptions& options, double learning_rate,
                                       privacy::RandomSource& key_source,
                                       const ClipBatchFn& clip_batch, base::ProgressSink& progress,
                                       const std::vector<int64_t>& unit_of_row) {
  if (records < 2) return absl::InvalidArgumentError("at least two training records are needed");
  if (!(options.target_epsilon > 0) || !(options.delta > 0 && options.delta < 1) ||
      !(options.clip_norm > 0) || options.expected_batch_size < 1 || options.epochs < 1 ||
      !(learning_rate > 0) || options.max_rows_per_unit < 1) {
    return absl::InvalidArgumentError("invalid DP-SGD options");
  }
  // The rows of each privacy unit; every row its own unit unless told otherwise.
  std::vector<std::vector<int64_t>> unit_rows;
  if (unit_of_row.empty()) {
    unit_rows.resize(static_cast<size_t>(records));
    for (int64_t i = 0; i < records; ++i) unit_rows[static_cast<size_t>(i)] = {i};
  } else {
    if (static_cast<int64_t>(unit_of_row.size()) != records)
      return absl::InvalidArgumentError("one privacy unit per training row is needed");
    for (int64_t i = 0; i < records; ++i) {
      const int64_t unit = unit_of_row[static_cast<size_t>(i)];
      if (unit < 0 || unit >= records) return absl::InvalidArgumentError("invalid privacy unit");
      if (static_cast<size_t>(unit) >= unit_rows.size())
        unit_rows.resize(static_cast<size_t>(unit) + 1);
      unit_rows[static_cast<size_t>(unit)].push_back(i);
    }
  }
  for (const std::vector<int64_t>& rows : unit_rows) {
    if (static_cast<int64_t>(rows.size()) > options.max_rows_per_unit)
      return absl::InvalidArgumentError("a privacy unit holds more rows than max_rows_per_unit");
  }
  // A unit's clipped rows sum to at most clip_norm: the sensitivity the noise is scaled to.
  const double row_clip_norm = options.clip_norm / options.max_rows_per_unit;
  DpTrainReport report;
  report.delta = options.delta;
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = static_cast<int64_t>(unit_rows.size());
  if (n < 2) return absl::InvalidArgumentError("at least two privacy units are needed");
  report.units = n;
  report.sampling_rate =
      std::min(1.0, static_cast<double>(options.expected_batch_size) / static_cast<double>(n));
  const int64_t steps_per_epoch = static_cast<int64_t>(std::llround(1.0 / report.sampling_rate));
  report.steps = steps_per_epoch * options.epochs;
  ASSIGN_OR_RETURN(
      report.noise_multiplier,
      privacy::CalibrateNoiseMultiplier(options.target_epsilon, options.delta, report.sampling_rate,
                                        report.steps, privacy::kReleaseRelation));
  privacy::KeyedStream noise(key_source);
  const double expected_batch = report.sampling_rate * static_cast<double>(n);
  const double noise_std = report.noise_multiplier * options.clip_norm;
  // Adam on plain floats (adam_optimizer.h); the noisy gradients in buffers reused every step.
  // The parameters are updated in place, so their spans stay valid through the loop.
  const std::vector<std::span<float>> parameters = FloatSpans(module.parameters());
  AdamOptimizer optimizer(parameters, learning_rate);
  std::vector<std::vector<float>> noisy(parameters.size());
  std::vector<std::span<const float>> gradients;
  for (size_t i = 0; i < parameters.size(); ++i) {
    noisy[i].resize(parameters[i].size());
    gradients.emplace_back(noisy[i]);
  }
  module.train();
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    double loss_total = 0;
    int64_t loss_rows = 0;
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      // Poisson sampling: each unit independently with probability q, with all its rows.
      std::vector<int64_t> kept;
      for (const int64_t unit : privacy::PoissonSample(noise, n, report.sampling_rate)) {
        const std::vector<int64_t>& rows = unit_rows[static_cast<size_t>(unit)];
        kept.insert(kept.end(), rows.begin(), rows.end());
      }
      const torch::Tensor chosen =
          torch::from_blob(kept.data(), {static_cast<int64_t>(kept.size())}, torch::kInt64);
      std::vector<torch::Tensor> sums;
      if (chosen.numel() > 0) {
        ClippedBatch clipped = clip_batch(chosen, row_clip_norm, noise);
        for (torch::Tensor& sum : clipped.sums) sums.push_back(sum.contiguous());
        loss_total += clipped.loss_sum;
        loss_rows += chosen.numel();
      }
      const std::vector<std::span<const float>> sum_values = FloatSpans<const float>(sums);
      if (!sums.empty() &&
          !std::equal(sum_values.begin(), sum_values.end(), parameters.begin(), parameters.end(),
                      [](auto sum, auto parameter) { return sum.size() == parameter.size(); })) {
        return absl::InternalError("the clipped sums do not match the model's parameters");
      }
      for (size_t i = 0; i < parameters.size(); ++i) {
        NoisyGradient(sums.empty() ? std::span<const float>() : sum_values[i], noise, noise_std,
                      static_cast<float>(expected_batch), noisy[i]);
      }
      RETURN_IF_ERROR(optimizer.Step(parameters, gradients));
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
  privacy::RdpAccountant accountant(privacy::kReleaseRelation);
  RETURN_IF_ERROR(accountant.Compose(report.sampling_rate, report.noise_multiplier, report.steps));
  ASSIGN_OR_RETURN(const privacy::PrivacySpent spent, accountant.Spent(options.delta));
  report.epsilon = spent.epsilon;
  report.accountant_state = accountant.Serialize();
  report.train.best_epoch = options.epochs;
  report.train.train_rows = records;
  report.train.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char summary[128];
  std::snprintf(summary, sizeof summary, "%d epochs, DP-SGD epsilon %.4f (delta %g), %.1f s",
                options.epochs, report.epsilon, options.delta, report.train.seconds);
  progress.Finish(summary);
  return report;
}

}  // namespace fedsyn::model
