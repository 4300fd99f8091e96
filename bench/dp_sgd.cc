// DP-SGD epoch time against non-private training of the same VAE on UCI Adult, and against
// the naive per-record loop (one backward pass per record), in one run; then the same for the
// convolutional VAE and the CNN classifier on 1,024 Fashion-MNIST images.
//
//   build/bench/fedsyn_bench_dp_sgd [--data DIR] [--threads T] [--repeats R]
//                                   [--training-step fused|autograd]
//
// Each pair (non-private, private) runs R times alternately (default 3); medians of wall and of
// process CPU time are printed. --training-step autograd: the tabular VAE trains (both ways)
// through LibTorch's autograd, as before the hand-written step of common/model/mlp_trainer.h.
// The naive loop is timed on 5 batches and scaled to an epoch (it is ~2 orders of magnitude
// slower; a full epoch would take minutes). Target (issue #4): DP-SGD at most 1.5x the
// non-private epoch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
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

// Medians of `repeats` alternating runs of a non-private and a private training (each returns
// false on failure), in wall and in process CPU seconds: the machine is shared and noisy, and
// on one thread CPU time is the figure it distorts least.
struct PairedSeconds {
  double plain_wall = 0, private_wall = 0, plain_cpu = 0, private_cpu = 0;
  double WallRatio() const { return private_wall / plain_wall; }
  double CpuRatio() const { return private_cpu / plain_cpu; }
};

std::optional<PairedSeconds> AlternateRuns(int repeats, const std::function<bool()>& plain,
                                           const std::function<bool()>& private_run) {
  std::vector<double> plain_wall, private_wall, plain_cpu, private_cpu;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const fedsyn::bench::Stopwatch plain_watch;
    if (!plain()) return std::nullopt;
    plain_wall.push_back(plain_watch.Wall());
    plain_cpu.push_back(plain_watch.Cpu());
    const fedsyn::bench::Stopwatch private_watch;
    if (!private_run()) return std::nullopt;
    private_wall.push_back(private_watch.Wall());
    private_cpu.push_back(private_watch.Cpu());
  }
  using fedsyn::bench::Quantile;
  return PairedSeconds{Quantile(plain_wall, 0.5), Quantile(private_wall, 0.5),
                       Quantile(plain_cpu, 0.5), Quantile(private_cpu, 0.5)};
}

}  // namespace

int main(int argc, char** argv) {
  fedsyn::base::PrepareComputeProcess(argv);  // as the agent runs
  // The product's key source: the benchmark measures what a site pays for DP-SGD's keystream.
  fedsyn::privacy::SecureRandom key_source;
  using namespace fedsyn;
  const int threads = std::atoi(bench::FlagValue(argc, argv, "--threads", "0").c_str());
  // Alternating runs of each pair, medians reported (more on a busy machine).
  const int repeats = bench::IntFlag(argc, argv, "--repeats", 3, 1);
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
  absl::StatusOr<model::TrainReport> report;
  absl::StatusOr<model::DpTrainReport> dp_report;
  std::unique_ptr<model::Vae> dp_vae;
  const std::optional<PairedSeconds> tabular = AlternateRuns(
      repeats,
      [&] {
        auto plain = model::Vae::Create(spec, 1);
        report = (*plain)->Train(encoded, options, progress);
        return report.ok();
      },
      [&] {
        dp_vae = std::move(*model::Vae::Create(spec, 1));
        dp_report = dp_vae->TrainPrivately(encoded, dp, options, key_source, progress);
        if (!dp_report.ok())
          std::fprintf(stderr, "%s\n", std::string(dp_report.status().message()).c_str());
        return dp_report.ok();
      });
  if (!tabular) return 1;
  const double plain_seconds = tabular->plain_wall;

  // The naive reference: per-record gradients by one backward pass per record.
  constexpr int kNaiveBatches = 5;
  const double naive_epoch =
      NaiveSeconds(*dp_vae, encoded, spec.latent_dim, kBatch, kNaiveBatches) *
      static_cast<double>(dp_report->steps);

  std::printf("adult: %lld rows, width %d, VAE 128x128 latent 8, batch %d, threads %d, %s step\n",
              static_cast<long long>(encoded.rows), transformer->width(), kBatch, report->threads,
              options.fused_mlp_step ? "fused" : "autograd");
  std::printf("non-private epoch:        %7.2f s  (median of %d)\n", plain_seconds, repeats);
  std::printf(
      "DP-SGD epoch (fast path): %7.2f s  = %.2fx non-private  (median of %d; %lld steps, sigma "
      "%.3f)\n",
      tabular->private_wall, tabular->WallRatio(), repeats,
      static_cast<long long>(dp_report->steps), dp_report->noise_multiplier);
  std::printf("the same in process CPU time: %.2f s and %.2f s = %.2fx  (medians)\n",
              tabular->plain_cpu, tabular->private_cpu, tabular->CpuRatio());
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
  std::unique_ptr<model::Vae> conv_dp;
  absl::StatusOr<model::DpTrainReport> conv_report;
  const std::optional<PairedSeconds> conv_times = AlternateRuns(
      repeats,
      [&] { return (*model::Vae::Create(conv, 1))->Train(pixels, conv_options, progress).ok(); },
      [&] {
        conv_dp = std::move(*model::Vae::Create(conv, 1));
        conv_report =
            conv_dp->TrainPrivately(pixels, conv_dp_options, conv_options, key_source, progress);
        return conv_report.ok();
      });
  if (!conv_times) return 1;
  const double conv_naive_seconds =
      NaiveSeconds(*conv_dp, pixels, conv.latent_dim, kImageBatch, 2) *
      static_cast<double>(conv_report->steps);
  std::printf(
      "conv VAE, %d Fashion-MNIST images, batch %d: non-private epoch %.2f s, DP-SGD epoch "
      "(unfolded convolutions) %.2f s = %.2fx (CPU %.2f / %.2f s = %.2fx; medians of %d), naive "
      "per-record loop %.2f s = %.1fx (2 batches, scaled)\n",
      kImages, kImageBatch, conv_times->plain_wall, conv_times->private_wall,
      conv_times->WallRatio(), conv_times->plain_cpu, conv_times->private_cpu,
      conv_times->CpuRatio(), repeats, conv_naive_seconds,
      conv_naive_seconds / conv_times->plain_wall);

  const std::vector<int> labels(image_labels->begin(), image_labels->end());
  model::ClassifierSpec cnn;
  cnn.architecture = model::ClassifierArchitecture::kCnn28;
  cnn.input_width = 784;
  cnn.num_classes = 10;
  model::ClassifierTrainOptions cnn_options;
  cnn_options.epochs = 1;
  cnn_options.batch_size = kImageBatch;
  cnn_options.threads = threads;
  const std::optional<PairedSeconds> cnn_times = AlternateRuns(
      repeats,
      [&] {
        auto plain = model::Classifier::Create(cnn, 1);
        return plain.ok() && (*plain)->Train(pixels, labels, cnn_options).ok();
      },
      [&] {
        auto private_cnn = model::Classifier::Create(cnn, 1);
        return private_cnn.ok() &&
               (*private_cnn)
                   ->TrainPrivately(pixels, labels, conv_dp_options, cnn_options, key_source)
                   .ok();
      });
  if (!cnn_times) return 1;
  std::printf(
      "CNN classifier, same images, batch %d: non-private epoch %.2f s, DP-SGD epoch (unfolded "
      "convolutions) %.2f s = %.2fx (CPU %.2f / %.2f s = %.2fx; medians of %d)\n",
      kImageBatch, cnn_times->plain_wall, cnn_times->private_wall, cnn_times->WallRatio(),
      cnn_times->plain_cpu, cnn_times->private_cpu, cnn_times->CpuRatio(), repeats);
  return 0;
}
