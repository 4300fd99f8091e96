// The benchmarks' shared pieces: wall-clock and CPU-time helpers, flag parsing, and the workload:
// UCI Adult from the shipped demo data, encoded under its schema, and the VAE shape the figures in
// docs/performance.md refer to.
#ifndef FEDSYN_BENCH_ADULT_WORKLOAD_H_
#define FEDSYN_BENCH_ADULT_WORKLOAD_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/data/table_io.h"
#include "common/data/transformer.h"
#include "common/model/vae.h"

namespace fedsyn::bench {

struct AdultWorkload {
  data::Schema schema;
  data::Transformer transformer;
  data::Table table;
  data::Matrix encoded;
  model::VaeSpec spec;  // 128 x 128 hidden, latent 8
};

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The process's CPU time so far, all threads. On one thread it is the work's own time, which
// other processes on a shared machine inflate far less than they inflate wall time (they still
// take cache and memory bandwidth).
inline double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Wall and CPU seconds since construction.
struct Stopwatch {
  std::chrono::steady_clock::time_point wall_start = std::chrono::steady_clock::now();
  double cpu_start = ProcessCpuSeconds();
  double Wall() const { return Seconds(wall_start); }
  double Cpu() const { return ProcessCpuSeconds() - cpu_start; }
};

// The q-quantile of `values` (the nearest rank at or below; q = 1: the largest); 0 when empty.
inline double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1,
                         static_cast<size_t>(q * static_cast<double>(values.size())))];
}

// Reads `--flag value` pairs; returns the value of `flag` or `fallback`.
inline std::string FlagValue(int argc, char** argv, const std::string& flag,
                             const std::string& fallback) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (flag == argv[i]) return argv[i + 1];
  }
  return fallback;
}

// The integer value of `flag` (or `fallback`), at least `least`.
inline int IntFlag(int argc, char** argv, const std::string& flag, int fallback, int least) {
  return std::max(least, std::atoi(FlagValue(argc, argv, flag, std::to_string(fallback)).c_str()));
}

// Loads DIR/adult/adult.data; prints the error and returns nullopt on failure.
inline std::optional<AdultWorkload> LoadAdult(const std::string& dir) {
  auto schema = data::Schema::LoadFile(dir + "/adult/adult.schema.toml");
  auto read =
      schema.ok() ? data::ReadCsvTable(dir + "/adult/adult.data", *schema) : schema.status();
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", std::string(read.status().message()).c_str());
    return std::nullopt;
  }
  auto transformer = data::Transformer::FromSchema(*schema);
  AdultWorkload w{*schema, *transformer, std::move(read->table), {}, {}};
  w.encoded = w.transformer.Encode(w.table);
  w.spec = model::TableVaeSpec(w.transformer, 8, {128, 128});
  return w;
}

}  // namespace fedsyn::bench

#endif  // FEDSYN_BENCH_ADULT_WORKLOAD_H_
