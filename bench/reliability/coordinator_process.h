// The real coordinator binary run as a child process on a coordinator.toml written for the run,
// so that its memory and descriptors are its own and measurable from /proc while clients in the
// bench process load it (load.cc, slow_peers.cc).
#ifndef FEDSYN_BENCH_RELIABILITY_COORDINATOR_PROCESS_H_
#define FEDSYN_BENCH_RELIABILITY_COORDINATOR_PROCESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/adult_workload.h"
#include "bench/federation_kit.h"
#include "site_agent/coordinator_client.h"

namespace fedsyn::bench {

// A TCP port nobody listens on now (the kernel's choice for port 0).
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

// A process as /proc/PID/status has it: resident memory now and at its peak (VmRSS, VmHWM) in
// MiB, and its threads.
struct ProcessStatus {
  double rss_mib = 0;
  double peak_mib = 0;
  int threads = -1;
};
inline ProcessStatus ReadStatus(pid_t pid) {
  ProcessStatus status;
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(file, line);) {
    if (line.rfind("VmRSS:", 0) == 0) status.rss_mib = std::atof(line.c_str() + 6) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) status.peak_mib = std::atof(line.c_str() + 6) / 1024.0;
    if (line.rfind("Threads:", 0) == 0) status.threads = std::atoi(line.c_str() + 8);
  }
  return status;
}
inline int CountDescriptors(pid_t pid) {
  std::error_code ec;
  int count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++count;
  return count;
}

// The coordinator binary serving a coordinator.toml written for the run.
class CoordinatorProcess {
 public:
  struct Settings {
    std::string dir;     // scratch folder: coordinator.toml, its log, the SQLite database
    std::string pki;     // from EnsurePki
    std::string schema;  // the dataset's schema file
    std::string dataset = "adult";
    std::string database;  // empty: SQLite in `dir`; else a postgresql:// URI
    int sites = 1;
    int64_t max_connections = 256;
    int64_t max_connections_per_address = 16;
    int handshake_timeout_seconds = 10;
    int idle_timeout_seconds = 120;
    int write_timeout_seconds = 30;
  };

  ~CoordinatorProcess() { Stop(); }

  // Writes the config, starts the binary and waits until its site port accepts connections.
  bool Start(const Settings& settings) {
    settings_ = settings;
    site_port_ = FreePort();
    const int admin_port = FreePort();
    std::filesystem::create_directories(settings.dir);
    {
      std::ofstream toml(settings.dir + "/coordinator.toml");
      toml << "listen = \"127.0.0.1:" << site_port_ << "\"\n"
           << "admin_listen = \"127.0.0.1:" << admin_port << "\"\n"
           << "database = \""
           << (settings.database.empty() ? settings.dir + "/coordinator.db" : settings.database)
           << "\"\n"
           << "ca = \"" << settings.pki << "/ca.pem\"\n"
           << "cert = \"" << settings.pki << "/coordinator.pem\"\n"
           << "key = \"" << settings.pki << "/coordinator.key\"\n"
           << "max_connections = " << settings.max_connections << "\n"
           << "max_connections_per_address = " << settings.max_connections_per_address << "\n"
           << "handshake_timeout_seconds = " << settings.handshake_timeout_seconds << "\n"
           << "idle_timeout_seconds = " << settings.idle_timeout_seconds << "\n"
           << "write_timeout_seconds = " << settings.write_timeout_seconds << "\n"
           << "[[dataset]]\nname = \"" << settings.dataset << "\"\nschema = \"" << settings.schema
           << "\"\n";
      for (int i = 0; i < settings.sites; ++i) {
        toml << "[[site]]\nid = \"" << SiteName(i) << "\"\nbudgets = { " << settings.dataset
             << " = 1000000.0 }\n";
      }
    }
    const std::string config = settings.dir + "/coordinator.toml";
    const std::string log = settings.dir + "/coordinator.log";
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execl(FEDSYN_COORDINATOR_BINARY, "fedsyn-coordinator", "--log-level", "warn", "serve",
            "--config", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 300; ++i) {
      if (Accepting()) return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "the coordinator did not start; see %s\n", log.c_str());
    pid_ = -1;
    return false;
  }

  // SIGTERM and wait; true when it exited with status 0.
  bool Stop() {
    if (pid_ <= 0) return true;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  pid_t pid() const { return pid_; }
  int site_port() const { return site_port_; }
  std::string database() const {
    return settings_.database.empty() ? settings_.dir + "/coordinator.db" : settings_.database;
  }

  site::SiteKit Kit(int i) const { return SiteKitAt(settings_.pki, site_port_, i); }

 private:
  bool Accepting() const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(site_port_));
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    return ok;
  }

  Settings settings_;
  pid_t pid_ = -1;
  int site_port_ = -1;
};

// A run's settings: a fresh scratch folder /tmp/fedsyn-bench-NAME-XXXXXX (`scratch`; removed by
// the caller), the PKI in it unless --pki names one to keep between runs, Adult's schema from
// `demo`. nullopt when the folder cannot be made.
struct RunSettings {
  std::string scratch;
  CoordinatorProcess::Settings coordinator;
};
inline std::optional<RunSettings> ScratchRun(int argc, char** argv, const std::string& name,
                                             const std::string& demo) {
  std::string pattern = "/tmp/fedsyn-bench-" + name + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return std::nullopt;
  RunSettings run{pattern, {}};
  const std::string kept_pki = FlagValue(argc, argv, "--pki", "");
  run.coordinator.dir = run.scratch + "/coordinator";
  run.coordinator.pki = kept_pki.empty() ? run.scratch + "/pki" : kept_pki;
  run.coordinator.schema = demo + "/adult/adult.schema.toml";
  return run;
}

// Samples a process's descriptors and memory every `period` until stopped; the peaks.
class ResourceSampler {
 public:
  ResourceSampler(pid_t pid, std::chrono::milliseconds period)
      : thread_([this, pid, period](std::stop_token stop) {
          while (!stop.stop_requested()) {
            const int fds = CountDescriptors(pid);
            {
              std::lock_guard lock(mutex_);
              peak_fds_ = std::max(peak_fds_, fds);
            }
            std::this_thread::sleep_for(period);
          }
        }) {}
  int peak_fds() {
    std::lock_guard lock(mutex_);
    return peak_fds_;
  }

 private:
  std::mutex mutex_;
  int peak_fds_ = 0;
  std::jthread thread_;  // last: stopped and joined before the fields it writes go
};

}  // namespace fedsyn::bench

#endif  // FEDSYN_BENCH_RELIABILITY_COORDINATOR_PROCESS_H_
