// DP-SGD epoch time against non-private training of the same VAE on UCI Adult, and against
// the naive per-record loop (one backward pass per record), in one run.
//
//   build/bench/fedsyn_bench_dp_sgd [--data DIR] [--threads T]
//
// The naive loop is timed on 5 batches and scaled to an epoch (it is ~2 orders of magnitude
// slower; a full epoch would take minutes). Target (issue #4): DP-SGD at most 1.5x the
// non-private epoch.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "common/data/table_io.h"
#include "common/data/transformer.h"
#include "common/model/vae.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fedsyn;
  std::string dir = FEDSYN_BENCH_DEMO_DIR;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data") dir = argv[i + 1];
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
  }
  auto schema = data::Schema::LoadFile(dir + "/adult/adult.schema.toml");
  auto read = schema.ok() ? data::ReadCsvTable(dir + "/adult/adult.data", *schema) : schema.status();
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", std::string(read.status().message()).c_str());
    return 1;
  }
  auto transformer = data::Transformer::FromSchema(*schema);
  const data::Matrix encoded = transformer->Encode(read->table);
  model::VaeSpec spec;
  spec.input_width = transformer->width();
  spec.blocks = transformer->blocks();
  spec.latent_dim = 8;
  spec.hidden = {128, 128};
  base::NullProgress progress;
  constexpr int kBatch = 256;

  auto plain = model::Vae::Create(spec, 1);
  model::TrainOptions options;
  options.max_epochs = 1;
  options.batch_size = kBatch;
  options.validation_fraction = 0.0;
  options.threads = threads;
  auto start = std::chrono::steady_clock::now();
  auto report = (*plain)->Train(encoded, options, progress);
  const double plain_seconds = Seconds(start);
  if (!report.ok()) return 1;

  auto dp_vae = model::Vae::Create(spec, 1);
  model::DpSgdOptions dp;
  dp.target_epsilon = 8.0;
  dp.delta = 1e-5;
  dp.expected_batch_size = kBatch;
  dp.epochs = 1;
  start = std::chrono::steady_clock::now();
  auto dp_report = (*dp_vae)->TrainPrivately(encoded, dp, options, 7, progress);
  const double dp_seconds = Seconds(start);
  if (!dp_report.ok()) {
    std::fprintf(stderr, "%s\n", std::string(dp_report.status().message()).c_str());
    return 1;
  }

  // The naive reference: per-record gradients by one backward pass per record.
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  constexpr int kNaiveBatches = 5;
  start = std::chrono::steady_clock::now();
  for (int b = 0; b < kNaiveBatches; ++b) {
    for (int r = 0; r < kBatch; ++r) {
      data::Matrix row(1, encoded.cols), eps(1, spec.latent_dim);
      const int64_t index = static_cast<int64_t>(rng() % static_cast<uint64_t>(encoded.rows));
      std::copy(encoded.Row(index), encoded.Row(index) + encoded.cols, row.values.begin());
      for (float& e : eps.values) e = normal(rng);
      volatile float sink = (*dp_vae)->SummedGradient(row, eps)[0];
      (void)sink;
    }
  }
  const double naive_per_batch = Seconds(start) / kNaiveBatches;
  const double naive_epoch = naive_per_batch * static_cast<double>(dp_report->steps);

  std::printf("adult: %lld rows, width %d, VAE 128x128 latent 8, batch %d, threads %d\n",
              static_cast<long long>(encoded.rows), transformer->width(), kBatch, report->threads);
  std::printf("non-private epoch:        %7.2f s\n", plain_seconds);
  std::printf("DP-SGD epoch (fast path): %7.2f s  = %.2fx non-private  (%lld steps, sigma %.3f)\n", dp_seconds,
              dp_seconds / plain_seconds, static_cast<long long>(dp_report->steps), dp_report->noise_multiplier);
  std::printf("naive per-record loop:    %7.2f s  = %.1fx non-private  (measured on %d batches, scaled)\n",
              naive_epoch, naive_epoch / plain_seconds, kNaiveBatches);
  return 0;
}
