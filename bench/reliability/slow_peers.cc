// Slow and stuck peers against the real coordinator binary (issue #16): while authenticated
// sites misbehave, a legitimate site keeps working and its latency is measured.
//
//   build/bench/fedsyn_bench_slow_peers [--idle-connections 500] [--plain 50] [--half-frames 10]
//       [--tricklers 10] [--non-readers 5] [--handshake 5] [--idle 10] [--write 5] [--pki DIR]
//
// The hostile peers, all at once, each group from loopback addresses of its own (10 per
// address, under the coordinator's per-address cap of 16):
//  - idle: completes the TLS handshake with a valid site certificate, then sends nothing;
//  - plain: opens TCP and never starts TLS;
//  - half frame: announces a 1000-byte frame, sends 10 bytes of it, stops;
//  - trickler: sends valid heartbeat frames one byte a second;
//  - non-reader: sends heartbeats as fast as it can and never reads a reply.
// Each must be closed by the coordinator within its deadline (handshake; idle for a frame header,
// then the body's own time, TlsConnection::BodyTime; write) plus a margin; the bench records when
// each was closed. Meanwhile a legitimate site (its own address) reserves every 200 ms on one
// connection and opens a fresh connection every second; its latencies before and during the attack,
// and the coordinator's descriptors, threads and memory before, at peak and after, are printed.
// Exit 1 if a hostile connection outlived its bound or the legitimate site saw a failure.
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/adult_workload.h"
#include "bench/reliability/coordinator_process.h"
#include "protocol/codec.h"
#include "tests/support/raw_tls.h"

namespace fedsyn {
namespace {

using Clock = std::chrono::steady_clock;

// A hostile connection: its socket, when it was opened, and when the coordinator closed it.
struct Hostile {
  std::string kind;
  double bound_s = 0;  // the deadline it must be closed within, plus a margin
  std::unique_ptr<testing::RawTlsClient> tls;
  std::unique_ptr<boost::asio::ip::tcp::socket> plain;
  Clock::time_point opened;
  std::atomic<double> held_s = -1;  // seconds from opened to closed; -1 while open
  int fd() { return tls ? tls->native_handle() : plain->native_handle(); }
};

// Polls every hostile socket for the coordinator's end of it: FIN (after its close_notify) or
// RST. Non-readers are left to their writers, which see the end as a failed write.
void WatchForClose(std::vector<std::unique_ptr<Hostile>>& peers, std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<pollfd> fds;
    std::vector<Hostile*> watched;
    for (auto& p : peers) {
      if (p->held_s >= 0 || p->kind == "non-reader") continue;
      fds.push_back({p->fd(), POLLRDHUP, 0});
      watched.push_back(p.get());
    }
    if (watched.empty()) return;
    if (poll(fds.data(), fds.size(), 50) > 0) {
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
          watched[i]->held_s = bench::Seconds(watched[i]->opened);
      }
    }
  }
}

}  // namespace
}  // namespace fedsyn

int main(int argc, char** argv) {
  using namespace fedsyn;
  namespace p = protocol;
  const int idle_count = bench::IntFlag(argc, argv, "--idle-connections", 500, 0);
  const int plain_count = bench::IntFlag(argc, argv, "--plain", 50, 0);
  const int half_count = bench::IntFlag(argc, argv, "--half-frames", 10, 0);
  const int trickle_count = bench::IntFlag(argc, argv, "--tricklers", 10, 0);
  const int reader_count = bench::IntFlag(argc, argv, "--non-readers", 5, 0);
  const int handshake_s = bench::IntFlag(argc, argv, "--handshake", 5, 1);
  const int idle_s = bench::IntFlag(argc, argv, "--idle", 10, 1);
  const int write_s = bench::IntFlag(argc, argv, "--write", 5, 1);
  const int hostile_total = idle_count + plain_count + half_count + trickle_count + reader_count;

  auto run = bench::ScratchRun(argc, argv, "slow", FEDSYN_BENCH_DEMO_DIR);
  if (!run) return 1;
  bench::CoordinatorProcess::Settings& settings = run->coordinator;
  settings.sites = 2;  // site0 legitimate, site1 the hostile one's certificate
  // Room for every hostile connection and the legitimate site: what an operator expecting this
  // many peers sets; with less, the cap itself refuses the excess at accept.
  settings.max_connections = hostile_total + 64;
  settings.handshake_timeout_seconds = handshake_s;
  settings.idle_timeout_seconds = idle_s;
  settings.write_timeout_seconds = write_s;
  if (!bench::EnsurePki(settings.pki, 2)) return 1;
  bench::CoordinatorProcess coordinator;
  if (!coordinator.Start(settings)) return 1;
  const uint16_t port = static_cast<uint16_t>(coordinator.site_port());
  const net::TlsFiles hostile_files{settings.pki + "/ca.pem",
                                    settings.pki + "/sites/site1/site.pem",
                                    settings.pki + "/sites/site1/site.key"};

  // The legitimate site: reserve round trips on one connection, and a fresh connection a second.
  std::mutex legit_mutex;
  std::vector<double> quiet_reserve, attack_reserve, quiet_connect, attack_connect;
  std::atomic<bool> under_attack = false;
  std::atomic<int> legit_failures = 0;
  std::string legit_failure;
  std::jthread legit([&](std::stop_token stop) {
    privacy::SecureRandom rng;
    site::ClientOptions options;
    options.source_address = "127.0.0.2";
    auto record = [&](std::vector<double>& quiet, std::vector<double>& attack, double ms) {
      std::lock_guard lock(legit_mutex);
      (under_attack ? attack : quiet).push_back(ms);
    };
    auto fail = [&](const absl::Status& status) {
      ++legit_failures;
      std::lock_guard lock(legit_mutex);
      legit_failure = status.ToString();
    };
    auto client = site::CoordinatorClient::Connect(coordinator.Kit(0), options, [] { return 0.5; });
    if (!client.ok()) return fail(client.status());
    for (int tick = 0; !stop.stop_requested(); ++tick) {
      const auto start = Clock::now();
      const auto reserved = (*client)->Reserve(bench::StandardReservation(rng, "adult", 10));
      if (reserved.ok()) {
        record(quiet_reserve, attack_reserve, bench::Seconds(start) * 1e3);
      } else {
        fail(reserved.status());
      }
      if (tick % 5 == 0) {
        const auto dial = Clock::now();
        auto fresh =
            site::CoordinatorClient::Connect(coordinator.Kit(0), options, [] { return 0.5; });
        if (fresh.ok()) {
          record(quiet_connect, attack_connect, bench::Seconds(dial) * 1e3);
        } else {
          fail(fresh.status());
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(5));  // the quiet baseline
  const int fds_before = bench::CountDescriptors(coordinator.pid());
  const int threads_before = bench::ReadStatus(coordinator.pid()).threads;

  // The attack: every hostile peer opened, then left to the coordinator's deadlines.
  // The plain sockets' io_context outlives them (declared first, destroyed last).
  boost::asio::io_context plain_io;
  std::vector<std::unique_ptr<Hostile>> peers;
  int opened_by_address = 0;
  auto next_source = [&opened_by_address] {
    const int i = opened_by_address++;
    return bench::LoopbackSource(100 * 8 + i, 10);  // 127.0.x.y well above the legitimate one
  };
  int open_failures = 0;
  under_attack = true;
  const std::string heartbeat = testing::RawTlsClient::Framed(p::EncodeSiteRequest(p::Heartbeat{}));
  auto open_peer = [&](const std::string& kind, double bound) -> Hostile* {
    auto peer = std::make_unique<Hostile>();
    peer->kind = kind;
    peer->bound_s = bound;
    try {
      if (kind == "plain") {
        peer->plain = testing::PlainConnectionFrom(plain_io, next_source(), port);
        if (!peer->plain) throw std::runtime_error("plain connect");
      } else {
        peer->tls = std::make_unique<testing::RawTlsClient>(hostile_files, port, next_source());
      }
    } catch (const std::exception&) {
      ++open_failures;
      return nullptr;
    }
    peer->opened = Clock::now();
    peers.push_back(std::move(peer));
    return peers.back().get();
  };
  // Margins: 2 s for scheduling on a loaded machine.
  for (int i = 0; i < idle_count; ++i) open_peer("idle", idle_s + 2);
  for (int i = 0; i < plain_count; ++i) open_peer("plain", handshake_s + 2);
  for (int i = 0; i < half_count; ++i) {
    if (Hostile* h = open_peer("half frame", idle_s + 2)) h->tls->StartFrame(1000, 10);
  }
  std::vector<Hostile*> tricklers, readers;
  for (int i = 0; i < trickle_count; ++i) {
    // The 4 header bytes take 4 s (unless the idle deadline is shorter); the body then gets
    // TlsConnection::BodyTime (10 s for a heartbeat), at most the idle deadline.
    if (Hostile* h = open_peer("trickler", (idle_s < 4 ? idle_s : 4 + std::min(idle_s, 10)) + 2))
      tricklers.push_back(h);
  }
  for (int i = 0; i < reader_count; ++i) {
    // Replies fill the socket buffers first (seconds at loopback speed), then the write deadline.
    if (Hostile* h = open_peer("non-reader", write_s + idle_s + 10)) readers.push_back(h);
  }
  const int threads_open = bench::ReadStatus(coordinator.pid()).threads;
  const int fds_open = bench::CountDescriptors(coordinator.pid());
  int peak_fds = fds_open;
  {
    bench::ResourceSampler sampler(coordinator.pid(), std::chrono::milliseconds(100));
    std::atomic<bool> gave_up = false;
    std::vector<std::jthread> workers;
    for (Hostile* h : tricklers) {
      workers.emplace_back([h, &heartbeat, &gave_up](std::stop_token stop) {
        try {
          for (size_t i = 0; !stop.stop_requested() && h->held_s < 0; ++i) {
            h->tls->Write(std::string(1, heartbeat[i % heartbeat.size()]));
            std::this_thread::sleep_for(std::chrono::seconds(1));
          }
        } catch (const std::exception&) {
          if (!gave_up && h->held_s < 0) h->held_s = bench::Seconds(h->opened);
        }
      });
    }
    for (Hostile* h : readers) {
      workers.emplace_back([h, &heartbeat, &gave_up](std::stop_token stop) {
        try {
          while (!stop.stop_requested()) h->tls->Write(heartbeat);
        } catch (const std::exception&) {
          // The write failed: the coordinator closed it (unless we gave up on it first).
          if (!gave_up) h->held_s = bench::Seconds(h->opened);
        }
      });
    }
    std::jthread watcher([&peers](std::stop_token stop) { WatchForClose(peers, stop); });
    double longest_bound = 0;
    for (auto& h : peers) longest_bound = std::max(longest_bound, h->bound_s);
    const auto attack_start = Clock::now();
    while (bench::Seconds(attack_start) < longest_bound + 5 &&
           std::any_of(peers.begin(), peers.end(), [](auto& h) { return h->held_s < 0; })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    peak_fds = std::max(peak_fds, sampler.peak_fds());
    // Whatever is still open has outlived its bound: close it from our side to finish (the
    // watcher stopped first, so that our own close is not taken for the coordinator's).
    watcher.request_stop();
    watcher.join();
    gave_up = true;
    for (auto& h : peers) {
      if (h->held_s < 0 && h->tls) h->tls->Close();
    }
    for (auto& w : workers) w.request_stop();
  }
  under_attack = false;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int fds_after = bench::CountDescriptors(coordinator.pid());
  const int threads_after = bench::ReadStatus(coordinator.pid()).threads;
  legit.request_stop();
  legit.join();
  const bench::ProcessStatus memory = bench::ReadStatus(coordinator.pid());
  const bool clean_exit = coordinator.Stop();

  bool within_bounds = open_failures == 0;
  for (const char* kind : {"idle", "plain", "half frame", "trickler", "non-reader"}) {
    std::vector<double> held;
    int still_open = 0, late = 0;
    double bound = 0;
    for (auto& h : peers) {
      if (h->kind != kind) continue;
      bound = h->bound_s;
      if (h->held_s < 0) {
        ++still_open;
      } else {
        held.push_back(h->held_s);
        if (h->held_s > h->bound_s) ++late;
      }
    }
    if (held.empty() && still_open == 0) continue;
    within_bounds = within_bounds && still_open == 0 && late == 0;
    std::printf(
        "%-10s %4zu closed by the coordinator after %.1f s median, %.1f s max "
        "(bound %.0f s); %d late, %d never closed\n",
        kind, held.size(), bench::Quantile(held, 0.5), bench::Quantile(held, 1.0), bound, late,
        still_open);
  }
  std::printf(
      "legitimate site: reserve p50 %.1f ms, p99 %.1f ms quiet (%zu) / p50 %.1f ms, "
      "p99 %.1f ms, max %.1f ms under attack (%zu); new connection p50 %.1f ms quiet / "
      "%.1f ms under attack (max %.1f ms); %d failure(s)%s%s\n",
      bench::Quantile(quiet_reserve, 0.5), bench::Quantile(quiet_reserve, 0.99),
      quiet_reserve.size(), bench::Quantile(attack_reserve, 0.5),
      bench::Quantile(attack_reserve, 0.99), bench::Quantile(attack_reserve, 1.0),
      attack_reserve.size(), bench::Quantile(quiet_connect, 0.5),
      bench::Quantile(attack_connect, 0.5), bench::Quantile(attack_connect, 1.0),
      legit_failures.load(), legit_failure.empty() ? "" : ": ", legit_failure.c_str());
  std::printf(
      "coordinator: descriptors %d before, %d with the peers open, peak %d, %d after; "
      "threads %d / %d / %d; peak RSS %.0f MiB; %d peer(s) could not open; exit on "
      "SIGTERM %s\n",
      fds_before, fds_open, peak_fds, fds_after, threads_before, threads_open, threads_after,
      memory.peak_mib, open_failures, clean_exit ? "0" : "FAILED");
  std::filesystem::remove_all(run->scratch);
  return within_bounds && legit_failures == 0 && clean_exit ? 0 : 1;
}
