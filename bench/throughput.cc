// Training and release throughput of the site pipeline on UCI Adult (32,561 rows).
//
//   build/bench/fedsyn_bench_throughput [--data DIR] [--epochs N] [--threads T]
//                                       [--release-repeats R] [--training-step fused|autograd]
//
// Prints rows/s for: training (rows x epochs / wall time), and release, split into its
// stages (encode, clip + noise, decode + sampling) so that a regression is easy to place.
// The noise comes from the real secure generator, as in production.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "bench/adult_workload.h"
#include "common/base/compute_environment.h"
#include "common/model/model_bundle.h"
#include "common/model/vae.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/random.h"
#include "site_agent/release.h"

namespace {
double Median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}
// Floating-point operations of one training step per record of the MLP VAE: every linear
// layer's product forward (2 in out), its weight gradient and its input gradient backward
// (2 in out each) — except the first layer's input gradient, which autograd skips.
double TrainingFlopsPerRow(const fedsyn::model::VaeSpec& spec) {
  std::vector<std::pair<int, int>> layers;
  int width = spec.input_width;
  for (int h : spec.hidden) layers.emplace_back(std::exchange(width, h), h);
  layers.emplace_back(width, spec.latent_dim);  // mean head
  layers.emplace_back(width, spec.latent_dim);  // log-variance head
  width = spec.latent_dim;
  for (auto h = spec.hidden.rbegin(); h != spec.hidden.rend(); ++h)
    layers.emplace_back(std::exchange(width, *h), *h);
  layers.emplace_back(width, spec.input_width);
  double flops = 0;
  for (const auto& [in, out] : layers) flops += 6.0 * in * out;
  return flops - 2.0 * layers.front().first * layers.front().second;
}

}  // namespace

int main(int argc, char** argv) {
  fedsyn::base::PrepareComputeProcess(argv);  // as the agent runs
  using namespace fedsyn;
  const int epochs = std::atoi(bench::FlagValue(argc, argv, "--epochs", "5").c_str());
  const int threads = std::atoi(bench::FlagValue(argc, argv, "--threads", "0").c_str());
  const int release_repeats =
      std::max(1, std::atoi(bench::FlagValue(argc, argv, "--release-repeats", "1").c_str()));
  auto adult = bench::LoadAdult(bench::FlagValue(argc, argv, "--data", FEDSYN_BENCH_DEMO_DIR));
  if (!adult) return 1;
  const data::Matrix& encoded = adult->encoded;
  const data::Table& table = adult->table;
  const data::Transformer* transformer = &adult->transformer;
  const model::VaeSpec& spec = adult->spec;
  auto vae = model::Vae::Create(spec, 1);
  model::TrainOptions options;
  options.max_epochs = epochs;
  options.patience = epochs;
  options.batch_size = 256;
  options.validation_fraction = 0.0;
  options.threads = threads;
  // autograd: LibTorch's loop, the reference the hand-written step (mlp_trainer.h) replaced.
  options.fused_mlp_step =
      bench::FlagValue(argc, argv, "--training-step", "fused") != std::string("autograd");
  base::NullProgress progress;
  auto start = std::chrono::steady_clock::now();
  auto report = (*vae)->Train(encoded, options, progress);
  const double train_seconds = bench::Seconds(start);
  if (!report.ok()) return 1;

  std::printf("adult: %lld rows, model width %d, latent 8, hidden 128x128, batch 256, threads %d\n",
              static_cast<long long>(encoded.rows), transformer->width(), report->threads);
  const double train_rows_per_second = encoded.rows * static_cast<double>(epochs) / train_seconds;
  std::printf("train:   %d epochs in %.2f s = %.0f rows/s (%s step)\n", epochs, train_seconds,
              train_rows_per_second, options.fused_mlp_step ? "fused" : "autograd");
  // The training's arithmetic against this machine's matrix-multiply rate on the same threads.
  const double gflops = TrainingFlopsPerRow(spec) * train_rows_per_second / 1e9;
  const double ceiling = model::MatrixMultiplyGflops(report->threads);
  std::printf(
      "arithmetic: training %.1f GFLOP/s = %.0f%% of SGEMM (%.1f GFLOP/s, 1024^3, %d "
      "thread(s))\n",
      gflops, 100.0 * gflops / ceiling, ceiling, report->threads);

  // The release runs as the agent's does: the model in a bundle, decoded by model::DecodeTable.
  model::ModelBundle bundle;
  bundle.vae = std::move(*vae);
  bundle.transformer = *transformer;
  privacy::SecureRandom rng;
  auto mechanism =
      privacy::MetricMechanism::Create({privacy::NoiseMetric::kL2, 1.0, 3.0, 8, std::nullopt});
  // Each stage's time is the median over the repeats (1 by default, as the peer runs it once);
  // more repeats make the release dominate a profile of this program.
  std::vector<double> encode_seconds, noise_seconds, decode_seconds;
  data::Table synthetic;
  for (int repeat = 0; repeat < release_repeats; ++repeat) {
    start = std::chrono::steady_clock::now();
    auto codes = model::EncodeTable(bundle, table);
    if (!codes.ok()) return 1;
    encode_seconds.push_back(bench::Seconds(start));
    start = std::chrono::steady_clock::now();
    site::ReleaseCounts counts;
    auto noised = site::PrivatizeCodes(*codes, *mechanism, rng, counts);
    noise_seconds.push_back(bench::Seconds(start));
    start = std::chrono::steady_clock::now();
    auto decoded = model::DecodeTable(bundle, *noised, data::DecodingMode::kSample,
                                      [&rng] { return rng.UniformOpen01(); });
    if (!decoded.ok()) return 1;
    synthetic = std::move(*decoded);
    decode_seconds.push_back(bench::Seconds(start));
  }
  const double encode = Median(encode_seconds), noise = Median(noise_seconds),
               decode = Median(decode_seconds);
  const double n = static_cast<double>(encoded.rows);
  std::printf(
      "release: %.0f rows/s end to end (encode %.0f rows/s, clip+noise %.0f rows/s, decode+sample "
      "%.0f rows/s)\n",
      n / (encode + noise + decode), n / encode, n / noise, n / decode);
  return synthetic.num_rows() == encoded.rows ? 0 : 1;
}
