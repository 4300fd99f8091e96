// Coordinator ingest and budget-reservation latency over mutual TLS on loopback (issue #15).
//
//   build/bench/fedsyn_bench_ingest [--sites 1,16] [--rows N] [--reservers 64]
//                                   [--reservations K] [--data DIR] [--pki DIR]
//
// A real coordinator (CoordinatorServer on SQLite in a scratch folder, durable as in
// production) and real site clients (CoordinatorClient over mutual TLS, one certificate per
// site from deploy/pki/pki.sh), all in this process on loopback:
//  - ingest: for each count S in --sites, S sites at once each reserve, upload N Adult records
//    (the agent's CSV form, in the agent's 1 MiB chunks) and commit; rows/s and MB/s are all
//    committed rows and bytes over the wall time from the first reservation to the last commit.
//  - reservation latency: --reservers sites at once, each on its own connection, reserve K
//    times back to back; p50, p99 and max of the round trips.
// Prints one line per figure. The site records are Adult's, as the demo ships them.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/adult_workload.h"
#include "bench/federation_kit.h"
#include "common/audit/canary_protocol.h"
#include "common/base/compute_environment.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/random.h"
#include "common/privacy/rdp_accountant.h"
#include "coordinator/server.h"
#include "coordinator/storage.h"
#include "site_agent/coordinator_client.h"

namespace fedsyn {
namespace {

using Clock = std::chrono::steady_clock;

using bench::SiteName;

struct Federation {
  std::string pki;
  data::Schema schema;
  // A fresh coordinator on a new SQLite database under `dir` (the server keeps references to
  // its config and storage, so both live here).
  coordinator::CoordinatorConfig config;
  std::unique_ptr<coordinator::Storage> storage;
  std::unique_ptr<coordinator::CoordinatorServer> server;

  bool Start(const std::string& dir, int sites) {
    std::filesystem::create_directories(dir);
    config = {};
    config.listen = "127.0.0.1:0";
    config.admin_listen = "127.0.0.1:0";
    config.database = dir + "/coordinator.db";
    config.ca_file = pki + "/ca.pem";
    config.cert_file = pki + "/coordinator.pem";
    config.key_file = pki + "/coordinator.key";
    config.datasets.push_back({"adult", schema});
    // Every site dials from 127.0.0.1 here; in a federation each has its own address.
    config.max_connections_per_address = config.max_connections;
    for (int i = 0; i < sites; ++i) config.limits[SiteName(i)]["adult"] = 1'000'000'000;
    auto opened = coordinator::OpenSqliteStorage(config.database);
    if (!opened.ok()) return Fail(opened.status());
    storage = std::move(*opened);
    auto started = coordinator::CoordinatorServer::Start(config, *storage);
    if (!started.ok()) return Fail(started.status());
    server = std::move(*started);
    return true;
  }
  void Stop() {
    server->Stop();
    server.reset();
    storage.reset();
  }
  static bool Fail(const absl::Status& status) {
    std::fprintf(stderr, "coordinator: %s\n", status.ToString().c_str());
    return false;
  }

  site::SiteKit Kit(int i) const { return bench::SiteKitAt(pki, server->site_port(), i); }
};

protocol::Reserve Reservation(privacy::RandomSource& rng, int64_t rows) {
  return bench::StandardReservation(rng, "adult", rows);
}

absl::StatusOr<std::unique_ptr<site::CoordinatorClient>> Connect(const Federation& f, int site) {
  site::ClientOptions options;
  options.connect_attempts = 3;
  return site::CoordinatorClient::Connect(f.Kit(site), options, [] { return 0.5; });
}

// One site's whole upload: reserve, upload in chunks, commit.
absl::Status Ingest(const Federation& f, int site, const std::string& rows, int64_t count) {
  privacy::SecureRandom rng;
  ASSIGN_OR_RETURN(auto client, Connect(f, site));
  const protocol::Reserve reserve = Reservation(rng, count);
  RETURN_IF_ERROR(client->Reserve(reserve).status());
  ASSIGN_OR_RETURN(const bool complete,
                   client->Upload(reserve.release_id, rows, site::ClientOptions{}.chunk_bytes));
  if (!complete) return absl::InternalError("upload incomplete");
  return client->Commit(reserve.release_id, count, privacy::Sha256Hex(rows));
}

bool MeasureIngest(Federation& f, const std::string& dir, int sites, const std::string& rows,
                   int64_t count) {
  if (!f.Start(dir, sites)) return false;
  std::vector<absl::Status> results(static_cast<size_t>(sites));
  const bench::Stopwatch watch;
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < sites; ++i)
      threads.emplace_back([&, i] { results[static_cast<size_t>(i)] = Ingest(f, i, rows, count); });
  }
  const double seconds = watch.Wall();
  const double cpu_seconds = watch.Cpu();
  f.Stop();
  for (const absl::Status& s : results) {
    if (!s.ok()) return Federation::Fail(s);
  }
  const double total_rows = static_cast<double>(count) * sites;
  const double total_mb = static_cast<double>(rows.size()) * sites / 1e6;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "ingest: %d site(s) x %lld rows (%.1f MB each) in %.2f s = %.0f rows/s, %.1f MB/s; "
      "%.2f CPU s, coordinator and sites together (%.1f cores busy); peak RSS of this process so "
      "far: %.0f MiB\n",
      sites, static_cast<long long>(count), static_cast<double>(rows.size()) / 1e6, seconds,
      total_rows / seconds, total_mb / seconds, cpu_seconds, cpu_seconds / seconds,
      static_cast<double>(usage.ru_maxrss) / 1024.0);
  return true;
}

bool MeasureReservations(Federation& f, const std::string& dir, int sites, int per_site) {
  if (!f.Start(dir, sites)) return false;
  std::vector<std::vector<double>> latencies(static_cast<size_t>(sites));
  std::vector<absl::Status> results(static_cast<size_t>(sites));
  std::atomic<int> connected = 0;
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < sites; ++i) {
      threads.emplace_back([&, i] {
        privacy::SecureRandom rng;
        auto client = Connect(f, i);
        ++connected;
        if (!client.ok()) {
          results[static_cast<size_t>(i)] = client.status();
          return;
        }
        while (connected.load() < sites) std::this_thread::yield();  // all at once
        for (int k = 0; k < per_site; ++k) {
          const protocol::Reserve reserve = Reservation(rng, 1000);
          const auto start = Clock::now();
          auto reserved = (*client)->Reserve(reserve);
          latencies[static_cast<size_t>(i)].push_back(bench::Seconds(start) * 1e3);
          if (!reserved.ok()) {
            results[static_cast<size_t>(i)] = reserved.status();
            return;
          }
        }
      });
    }
  }
  f.Stop();
  for (const absl::Status& s : results) {
    if (!s.ok()) return Federation::Fail(s);
  }
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::printf(
      "reserve: %d sites at once x %d reservations: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", sites,
      per_site, bench::Quantile(all, 0.5), bench::Quantile(all, 0.99), bench::Quantile(all, 1.0));
  return true;
}

std::vector<int> ParseCounts(const std::string& text) {
  std::vector<int> counts;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    counts.push_back(std::max(1, std::atoi(text.substr(begin, end - begin).c_str())));
    begin = end + 1;
  }
  return counts;
}

}  // namespace
}  // namespace fedsyn

int main(int argc, char** argv) {
  fedsyn::base::PrepareComputeProcess(argv);  // as the coordinator runs
  using namespace fedsyn;
  const std::vector<int> site_counts = ParseCounts(bench::FlagValue(argc, argv, "--sites", "1,16"));
  const int64_t wanted_rows = std::atoll(bench::FlagValue(argc, argv, "--rows", "0").c_str());
  const int reservers =
      std::max(1, std::atoi(bench::FlagValue(argc, argv, "--reservers", "64").c_str()));
  const int reservations =
      std::max(1, std::atoi(bench::FlagValue(argc, argv, "--reservations", "20").c_str()));
  auto adult = bench::LoadAdult(bench::FlagValue(argc, argv, "--data", FEDSYN_BENCH_DEMO_DIR));
  if (!adult) return 1;
  // The agent's upload form of the records: its CSV without the header.
  if (wanted_rows > 0 && wanted_rows < adult->table.num_rows())
    adult->table.rows.resize(static_cast<size_t>(wanted_rows));
  std::string rows = data::FormatCsvTable(adult->table, adult->schema, data::FormulaCells::kKeep);
  rows.erase(0, rows.find('\n') + 1);

  char scratch[] = "/tmp/fedsyn-bench-ingest-XXXXXX";
  if (mkdtemp(scratch) == nullptr) return 1;
  const std::string dir = scratch;
  const int most_sites =
      std::max(reservers, *std::max_element(site_counts.begin(), site_counts.end()));
  // --pki DIR keeps the certificates between runs (made there when missing), so a profile of
  // this program shows the coordinator rather than certificate generation.
  const std::string kept_pki = bench::FlagValue(argc, argv, "--pki", "");
  Federation federation{
      kept_pki.empty() ? dir + "/pki" : kept_pki, adult->schema, {}, nullptr, nullptr};
  bool ok = bench::EnsurePki(federation.pki, most_sites);
  for (size_t i = 0; ok && i < site_counts.size(); ++i) {
    ok = MeasureIngest(federation, dir + "/ingest" + std::to_string(i), site_counts[i], rows,
                       adult->table.num_rows());
  }
  ok = ok && MeasureReservations(federation, dir + "/reserve", reservers, reservations);
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
