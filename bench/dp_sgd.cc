// DP-SGD epoch time against non-private training of the same VAE on UCI Adult, and against
// the naive per-record loop (one backward pass per record), in one run; then the same for the
// convolutional VAE and the CNN classifier on 1,024 Fashion-MNIST images.
//
//   build/bench/fedsyn_bench_dp_sgd [--data DIR] [--threads T] [--training-step fused|autograd]
//
// --training-step autograd: the tabular VAE trains (both ways) through LibTorch's autograd, as
// before the hand-written step of common/model/mlp_trainer.h.
// The naive loop is timed on 5 batches and scaled to an epoch (it is ~2 orders of magnitude
// slower; a full epoch would take minutes). Target (issue #4): DP-SGD at most 1.5x the
// non-private epoch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "bench/adult_workload.h"
#include "common/base/compute_environment.h"
#include "common/data/idx.h"
#include "common/model/classifier.h"
#include "common/model/vae.h"
#include "common/privacy/distributions.h"
#include "common/privacy/random.h"
#include "tests/support/reference_normal.h"

namespace {

// Seconds per batch of `batch` random records of `data` with per-record gradients taken the
// naive way, one backward pass per record (mean over `batches` batches).
double NaiveSeconds(fedsyn::model::Vae& vae, const fedsyn::data::Matrix& data, int latent_dim,
                    int batch, int batches) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  const auto start = std::chrono::steady_clock::now();
  for (int b = 0; b < batches; ++b) {
    for (int r = 0; r < batch; ++r) {
      fedsyn::data::Matrix row(1, data.cols), eps(1, latent_dim);
      const int64_t index = static_cast<int64_t>(rng() % static_cast<uint64_t>(data.rows));
      std::copy(data.Row(index), data.Row(index) + data.cols, row.values.begin());
      for (float& e : eps.values) e = normal(rng);
      volatile float sink = vae.SummedGradient(row, eps)[0];
      (void)sink;
    }
  }
  return fedsyn::bench::Seconds(start) / batches;
}

// The Gaussian noise of `steps` DP-SGD steps of `coordinates` each, from a fresh keystream per
// step as Vae::NoisyClippedGradient draws it: seconds through privacy::FillNormal (the
// ziggurat), and through the one-pair-at-a-time polar method it replaced (the reference).
// Alternated three times; medians.
std::pair<double, double> NoiseSeconds(fedsyn::privacy::RandomSource& key_source, int steps,
                                       size_t coordinates) {
  std::vector<float> noise(coordinates);
  std::vector<double> fill_times, reference_times;
  volatile double sink = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < steps; ++step) {
      fedsyn::privacy::KeyedStream stream(key_source);
      fedsyn::privacy::FillNormal(stream, 1.0, noise);
      sink = sink + noise[0];
    }
    fill_times.push_back(fedsyn::bench::Seconds(start));
    start = std::chrono::steady_clock::now();
    for (int step = 0; step < steps; ++step) {
      fedsyn::privacy::KeyedStream stream(key_source);
      sink = sink + fedsyn::testing::PolarNormalsOnePairAtATime(stream, 1.0, coordinates)[0];
    }
    reference_times.push_back(fedsyn::bench::Seconds(start));
  }
  std::sort(fill_times.begin(), fill_times.end());
  std::sort(reference_times.begin(), reference_times.end());
  return {fill_times[1], reference_times[1]};
}

}  // namespace

int main(int argc, char** argv) {
  fedsyn::base::PrepareComputeProcess(argv);  // as the agent runs
  // The product's key source: the benchmark measures what a site pays for DP-SGD's keystream.
  fedsyn::privacy::SecureRandom key_source;
  using namespace fedsyn;
  const int threads = std::atoi(bench::FlagValue(argc, argv, "--threads", "0").c_str());
  auto adult = bench::LoadAdult(bench::FlagValue(argc, argv, "--data", FEDSYN_BENCH_DEMO_DIR));
  if (!adult) return 1;
  const data::Matrix& encoded = adult->encoded;
  const data::Transformer* transformer = &adult->transformer;
  const model::VaeSpec& spec = adult->spec;
  base::NullProgress progress;
  constexpr int kBatch = 256;

  model::TrainOptions options;
  options.max_epochs = 1;
  options.batch_size = kBatch;
  options.validation_fraction = 0.0;
  options.threads = threads;
  options.fused_mlp_step =
      bench::FlagValue(argc, argv, "--training-step", "fused") != std::string("autograd");
  model::DpSgdOptions dp;
  dp.target_epsilon = 8.0;
  dp.delta = 1e-5;
  dp.expected_batch_size = kBatch;
  dp.epochs = 1;
  // Three alternating repetitions, medians reported: the machine is shared and noisy.
  std::vector<double> plain_times, dp_times, plain_cpu, dp_cpu;
  absl::StatusOr<model::TrainReport> report;
  absl::StatusOr<model::DpTrainReport> dp_report;
  std::unique_ptr<model::Vae> dp_vae;
  for (int repeat = 0; repeat < 3; ++repeat) {
    auto plain = model::Vae::Create(spec, 1);
    const bench::Stopwatch plain_watch;
    report = (*plain)->Train(encoded, options, progress);
    plain_times.push_back(plain_watch.Wall());
    plain_cpu.push_back(plain_watch.Cpu());
    if (!report.ok()) return 1;
    dp_vae = std::move(*model::Vae::Create(spec, 1));
    const bench::Stopwatch dp_watch;
    dp_report = dp_vae->TrainPrivately(encoded, dp, options, key_source, progress);
    dp_times.push_back(dp_watch.Wall());
    dp_cpu.push_back(dp_watch.Cpu());
    if (!dp_report.ok()) {
      std::fprintf(stderr, "%s\n", std::string(dp_report.status().message()).c_str());
      return 1;
    }
  }
  const double plain_seconds = bench::Quantile(plain_times, 0.5);
  const double dp_seconds = bench::Quantile(dp_times, 0.5);
  const double plain_cpu_seconds = bench::Quantile(plain_cpu, 0.5);
  const double dp_cpu_seconds = bench::Quantile(dp_cpu, 0.5);

  // The naive reference: per-record gradients by one backward pass per record.
  constexpr int kNaiveBatches = 5;
  const double naive_epoch =
      NaiveSeconds(*dp_vae, encoded, spec.latent_dim, kBatch, kNaiveBatches) *
      static_cast<double>(dp_report->steps);

  std::printf("adult: %lld rows, width %d, VAE 128x128 latent 8, batch %d, threads %d, %s step\n",
              static_cast<long long>(encoded.rows), transformer->width(), kBatch, report->threads,
              options.fused_mlp_step ? "fused" : "autograd");
  std::printf("non-private epoch:        %7.2f s  (median of 3)\n", plain_seconds);
  std::printf(
      "DP-SGD epoch (fast path): %7.2f s  = %.2fx non-private  (median of 3; %lld steps, sigma "
      "%.3f)\n",
      dp_seconds, dp_seconds / plain_seconds, static_cast<long long>(dp_report->steps),
      dp_report->noise_multiplier);
  std::printf(
      "the same in process CPU time: %.2f s and %.2f s = %.2fx  (medians; on one thread the "
      "figure a shared machine distorts least)\n",
      plain_cpu_seconds, dp_cpu_seconds, dp_cpu_seconds / plain_cpu_seconds);
  std::printf(
      "naive per-record loop:    %7.2f s  = %.1fx non-private  (measured on %d batches, scaled)\n",
      naive_epoch, naive_epoch / plain_seconds, kNaiveBatches);
  // One noise coordinate per parameter: the length of any one record's gradient.
  data::Matrix one_record(1, encoded.cols), one_eps(1, spec.latent_dim);
  std::copy(encoded.Row(0), encoded.Row(0) + encoded.cols, one_record.values.begin());
  const size_t coordinates = dp_vae->SummedGradient(one_record, one_eps).size();
  const auto [fill_seconds, reference_seconds] =
      NoiseSeconds(key_source, static_cast<int>(dp_report->steps), coordinates);
  std::printf(
      "its Gaussian noise (%lld steps x %zu coordinates): %.3f s ziggurat, %.3f s polar method "
      "(reference) = %.2fx faster\n",
      static_cast<long long>(dp_report->steps), coordinates, fill_seconds, reference_seconds,
      reference_seconds / fill_seconds);

  // The convolutional VAE and the CNN classifier unfold their convolutions: measure them on a
  // Fashion-MNIST subset (Debian's dataset-fashion-mnist) against non-private training and
  // against the naive per-record loop (the VAE's; the classifier has no per-record API).
  constexpr int kImages = 1024, kImageBatch = 64;
  const std::string fashion = "/usr/share/datasets/fashion-mnist/";
  auto images = data::ReadIdxImages(fashion + "train-images-idx3-ubyte.gz", kImages);
  auto image_labels = data::ReadIdxLabels(fashion + "train-labels-idx1-ubyte.gz", kImages);
  if (!images.ok() || !image_labels.ok()) {
    const absl::Status missing = images.ok() ? image_labels.status() : images.status();
    std::printf("convolutions: skipped (%s)\n", std::string(missing.message()).c_str());
    return 0;
  }
  const data::Matrix pixels = data::ImagesToMatrix(*images);
  const model::VaeSpec conv = model::ImageVaeSpec(16, 256);
  model::TrainOptions conv_options = options;
  conv_options.batch_size = kImageBatch;
  model::DpSgdOptions conv_dp_options = dp;
  conv_dp_options.expected_batch_size = kImageBatch;
  auto conv_plain = model::Vae::Create(conv, 1);
  auto start = std::chrono::steady_clock::now();
  if (!(*conv_plain)->Train(pixels, conv_options, progress).ok()) return 1;
  const double conv_plain_seconds = bench::Seconds(start);
  auto conv_dp = model::Vae::Create(conv, 1);
  start = std::chrono::steady_clock::now();
  auto conv_report =
      (*conv_dp)->TrainPrivately(pixels, conv_dp_options, conv_options, key_source, progress);
  const double conv_dp_seconds = bench::Seconds(start);
  if (!conv_report.ok()) return 1;
  const double conv_naive_seconds =
      NaiveSeconds(**conv_dp, pixels, conv.latent_dim, kImageBatch, 2) *
      static_cast<double>(conv_report->steps);
  std::printf(
      "conv VAE, %d Fashion-MNIST images, batch %d: non-private epoch %.2f s, DP-SGD epoch "
      "(unfolded convolutions) %.2f s = %.2fx, naive per-record loop %.2f s = %.1fx (2 batches, "
      "scaled)\n",
      kImages, kImageBatch, conv_plain_seconds, conv_dp_seconds,
      conv_dp_seconds / conv_plain_seconds, conv_naive_seconds,
      conv_naive_seconds / conv_plain_seconds);

  const std::vector<int> labels(image_labels->begin(), image_labels->end());
  model::ClassifierSpec cnn;
  cnn.architecture = model::ClassifierArchitecture::kCnn28;
  cnn.input_width = 784;
  cnn.num_classes = 10;
  model::ClassifierTrainOptions cnn_options;
  cnn_options.epochs = 1;
  cnn_options.batch_size = kImageBatch;
  cnn_options.threads = threads;
  auto cnn_plain = model::Classifier::Create(cnn, 1);
  start = std::chrono::steady_clock::now();
  if (!cnn_plain.ok() || !(*cnn_plain)->Train(pixels, labels, cnn_options).ok()) return 1;
  const double cnn_plain_seconds = bench::Seconds(start);
  auto cnn_dp = model::Classifier::Create(cnn, 1);
  start = std::chrono::steady_clock::now();
  if (!(*cnn_dp)->TrainPrivately(pixels, labels, conv_dp_options, cnn_options, key_source).ok())
    return 1;
  const double cnn_dp_seconds = bench::Seconds(start);
  std::printf(
      "CNN classifier, same images, batch %d: non-private epoch %.2f s, DP-SGD epoch (unfolded "
      "convolutions) %.2f s = %.2fx\n",
      kImageBatch, cnn_plain_seconds, cnn_dp_seconds, cnn_dp_seconds / cnn_plain_seconds);
  return 0;
}
