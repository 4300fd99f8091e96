// Load on the coordinator (issue #16): N sites at once, each on its own mutual-TLS connection
// from one of several loopback addresses (8 per address: the coordinator caps 16 per address,
// and many sites are many hosts), releasing back to back for a fixed time against the real
// coordinator binary (a child process, so its memory and descriptors are its own); then every
// release the coordinator acknowledged is checked end to end against its database.
//
//   build/bench/fedsyn_bench_load [--sites 256] [--seconds 120] [--rows 100] [--per-address 8]
//                                 [--database postgresql://...|scratch-postgres] [--pki DIR]
//                                 [--data DIR]
//
// The database is SQLite in a scratch folder unless given; `scratch-postgres` starts a
// throwaway PostgreSQL cluster for the run (tests/support/postgres_cluster.h, fsync off: the
// figure is then the coordinator's and the protocol's, not this machine's disk).
// Each release is --rows Adult records (the agent's CSV form, a window that moves with the site
// and the release, so no two releases need be equal): reserve, upload, commit. Prints one line
// each for throughput, reservation and commit latency (p50/p99/max), the coordinator's peak
// memory and descriptors, and the end-to-end check: acknowledged releases whose stored rows
// hash to what the site sent (lost = acknowledged but missing or different; duplicated = rows
// stored beyond those acknowledged). Exit 1 if anything was lost or duplicated.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench/adult_workload.h"
#include "bench/reliability/coordinator_process.h"
#include "common/privacy/digest.h"
#include "common/privacy/random.h"
#include "coordinator/storage.h"
#include "tests/support/postgres_cluster.h"

namespace fedsyn {
namespace {

using Clock = std::chrono::steady_clock;

struct Acknowledged {
  std::string release_id;
  std::string sha256;
  int64_t rows = 0;
};

struct SiteResult {
  std::vector<Acknowledged> releases;
  std::vector<double> reserve_ms, commit_ms;
  int failures = 0;
  std::string last_failure;
};

// One site for `seconds`: connect from its loopback address, then release until time is up.
SiteResult RunSite(const bench::CoordinatorProcess& coordinator, int site, int per_address,
                   const std::vector<std::string>& lines, int rows, Clock::time_point end) {
  SiteResult result;
  privacy::SecureRandom rng;
  site::ClientOptions options;
  options.source_address = bench::LoopbackSource(site, per_address);
  options.connect_attempts = 10;
  options.backoff_base = std::chrono::milliseconds(100);
  std::unique_ptr<site::CoordinatorClient> client;
  for (int k = 0; Clock::now() < end; ++k) {
    if (!client) {
      auto connected =
          site::CoordinatorClient::Connect(coordinator.Kit(site), options, [] { return 0.5; });
      if (!connected.ok()) {
        ++result.failures;
        result.last_failure = std::string(connected.status().message());
        continue;
      }
      client = std::move(*connected);
    }
    const size_t span = lines.size() - static_cast<size_t>(rows);
    const size_t offset = (static_cast<size_t>(site) * 131 + static_cast<size_t>(k) * 17) % span;
    std::string content;
    for (size_t i = offset; i < offset + static_cast<size_t>(rows); ++i) content += lines[i];
    const protocol::Reserve reserve = bench::StandardReservation(rng, "adult", rows);
    const auto reserve_start = Clock::now();
    absl::Status status = client->Reserve(reserve).status();
    if (status.ok()) {
      result.reserve_ms.push_back(bench::Seconds(reserve_start) * 1e3);
      auto uploaded = client->Upload(reserve.release_id, content, 1 << 20);
      status = uploaded.ok() ? absl::OkStatus() : uploaded.status();
    }
    const std::string sha = privacy::Sha256Hex(content);
    if (status.ok()) {
      const auto commit_start = Clock::now();
      status = client->Commit(reserve.release_id, rows, sha);
      if (status.ok()) result.commit_ms.push_back(bench::Seconds(commit_start) * 1e3);
    }
    if (status.ok()) {
      result.releases.push_back({reserve.release_id, sha, rows});
    } else {
      ++result.failures;
      result.last_failure = std::string(status.message());
      client.reset();  // reconnect: the connection may be what failed
    }
  }
  return result;
}

}  // namespace
}  // namespace fedsyn

int main(int argc, char** argv) {
  using namespace fedsyn;
  const int sites = bench::IntFlag(argc, argv, "--sites", 256, 1);
  const double seconds = std::atof(bench::FlagValue(argc, argv, "--seconds", "120").c_str());
  const int rows = bench::IntFlag(argc, argv, "--rows", 100, 1);
  const int per_address = bench::IntFlag(argc, argv, "--per-address", 8, 1);
  std::string database = bench::FlagValue(argc, argv, "--database", "");
  if (database == "scratch-postgres") {
    std::string why;
    testing::PostgresCluster* cluster = testing::PostgresCluster::Shared(&why);
    if (cluster == nullptr) {
      std::fprintf(stderr, "no PostgreSQL: %s\n", why.c_str());
      return 1;
    }
    database = cluster->Uri(cluster->NewDatabase("load"));
  }
  const std::string demo = bench::FlagValue(argc, argv, "--data", FEDSYN_BENCH_DEMO_DIR);
  auto adult = bench::LoadAdult(demo);
  if (!adult) return 1;
  std::vector<std::string> lines;
  {
    const std::string csv =
        data::FormatCsvTable(adult->table, adult->schema, data::FormulaCells::kKeep);
    size_t begin = csv.find('\n') + 1;  // without the header, as the agent uploads
    while (begin < csv.size()) {
      const size_t end = csv.find('\n', begin);
      lines.push_back(csv.substr(begin, end - begin + 1));
      begin = end + 1;
    }
  }
  if (static_cast<int>(lines.size()) <= rows) return 1;

  auto run = bench::ScratchRun(argc, argv, "load", demo);
  if (!run) return 1;
  bench::CoordinatorProcess::Settings& settings = run->coordinator;
  settings.database = database;
  settings.sites = sites;
  // Room for every site plus reconnections still being torn down: an operator sizes this.
  settings.max_connections = std::max<int64_t>(256, 2 * sites);
  if (!bench::EnsurePki(settings.pki, sites)) return 1;
  bench::CoordinatorProcess coordinator;
  if (!coordinator.Start(settings)) return 1;
  const int idle_fds = bench::CountDescriptors(coordinator.pid());

  std::vector<SiteResult> results(static_cast<size_t>(sites));
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  int peak_fds = 0;
  {
    bench::ResourceSampler sampler(coordinator.pid(), std::chrono::milliseconds(100));
    {
      std::vector<std::jthread> threads;
      for (int i = 0; i < sites; ++i) {
        threads.emplace_back([&, i] {
          results[static_cast<size_t>(i)] = RunSite(coordinator, i, per_address, lines, rows, end);
        });
      }
    }
    peak_fds = sampler.peak_fds();
  }
  const double elapsed = bench::Seconds(start);
  const bench::ProcessStatus memory = bench::ReadStatus(coordinator.pid());
  const bool clean_exit = coordinator.Stop();

  std::vector<double> reserve_ms, commit_ms;
  std::map<std::string, const Acknowledged*> acknowledged;
  int failures = 0;
  int64_t acknowledged_rows = 0;
  std::string a_failure;
  for (const SiteResult& r : results) {
    reserve_ms.insert(reserve_ms.end(), r.reserve_ms.begin(), r.reserve_ms.end());
    commit_ms.insert(commit_ms.end(), r.commit_ms.begin(), r.commit_ms.end());
    for (const Acknowledged& a : r.releases) {
      acknowledged[a.release_id] = &a;
      acknowledged_rows += a.rows;
    }
    failures += r.failures;
    if (!r.last_failure.empty()) a_failure = r.last_failure;
  }

  // End to end: what the coordinator stored against what it acknowledged.
  auto storage = coordinator::OpenStorage(coordinator.database(), /*read_only=*/true);
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
    return 1;
  }
  auto stored = (*storage)->ListReleases();
  if (!stored.ok()) return 1;
  int64_t lost = 0, duplicated_rows = 0, unacknowledged_committed = 0, verified = 0;
  std::map<std::string, const coordinator::ReleaseRecord*> by_id;
  for (const coordinator::ReleaseRecord& r : *stored) by_id[r.release_id] = &r;
  for (const auto& [id, a] : acknowledged) {
    const auto found = by_id.find(id);
    auto content = found == by_id.end() ? absl::NotFoundError(id) : (*storage)->ReleaseContent(id);
    if (found == by_id.end() || found->second->status != coordinator::ReleaseStatus::kCommitted ||
        found->second->sha256 != a->sha256 || !content.ok() ||
        privacy::Sha256Hex(*content) != a->sha256) {
      ++lost;
      continue;
    }
    ++verified;
    duplicated_rows += std::max<int64_t>(0, found->second->rows_received - a->rows);
  }
  for (const coordinator::ReleaseRecord& r : *stored) {
    if (!acknowledged.contains(r.release_id) && r.status == coordinator::ReleaseStatus::kCommitted)
      ++unacknowledged_committed;
  }

  std::printf(
      "load: %d sites (%d per loopback address), %s, %.0f s: %zu releases of %d rows = "
      "%.0f rows/s, %.1f releases/s; %d failed attempt(s)%s%s\n",
      sites, per_address, database.empty() ? "SQLite" : "PostgreSQL", elapsed, acknowledged.size(),
      rows, static_cast<double>(acknowledged_rows) / elapsed,
      static_cast<double>(acknowledged.size()) / elapsed, failures,
      a_failure.empty() ? "" : ", e.g. ", a_failure.c_str());
  std::printf(
      "latency: reserve p50 %.2f ms, p99 %.2f ms, max %.2f ms; commit p50 %.2f ms, "
      "p99 %.2f ms, max %.2f ms\n",
      bench::Quantile(reserve_ms, 0.5), bench::Quantile(reserve_ms, 0.99),
      bench::Quantile(reserve_ms, 1.0), bench::Quantile(commit_ms, 0.5),
      bench::Quantile(commit_ms, 0.99), bench::Quantile(commit_ms, 1.0));
  std::printf(
      "coordinator: peak RSS %.0f MiB (%.0f MiB at the end), descriptors %d idle, "
      "peak %d; exit on SIGTERM %s\n",
      memory.peak_mib, memory.rss_mib, idle_fds, peak_fds, clean_exit ? "0" : "FAILED");
  std::printf(
      "end to end: %lld of %zu acknowledged releases verified by hash, %lld lost, "
      "%lld duplicated rows, %lld committed without an acknowledgement\n",
      static_cast<long long>(verified), acknowledged.size(), static_cast<long long>(lost),
      static_cast<long long>(duplicated_rows), static_cast<long long>(unacknowledged_committed));
  std::filesystem::remove_all(run->scratch);
  return lost == 0 && duplicated_rows == 0 && clean_exit && !acknowledged.empty() ? 0 : 1;
}
