// A throwaway PostgreSQL cluster for the tests of the PostgreSQL backend: initdb into a fresh
// temporary folder, a server listening on a Unix socket in that folder only (no TCP port, so
// parallel test processes never collide), stopped and removed when the process exits. The
// server is this process's child with a parent-death signal (setpriv --pdeathsig), so a test
// that crashes or is killed takes its server with it instead of leaving it running. The server
// refuses to run as root, so under root (CI, containers) every PostgreSQL program runs as the
// unprivileged user `nobody`.
#ifndef FEDSYN_TESTS_SUPPORT_POSTGRES_CLUSTER_H_
#define FEDSYN_TESTS_SUPPORT_POSTGRES_CLUSTER_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fedsyn::testing {

class PostgresCluster {
 public:
  // The cluster of this process, started on first use; nullptr with the reason in `*why` when
  // PostgreSQL is not installed (FEDSYN_POSTGRES_BIN may name its bin folder) or will not start.
  static PostgresCluster* Shared(std::string* why) {
    static std::string failure;
    static std::unique_ptr<PostgresCluster> cluster = Start(&failure);
    if (!cluster) *why = failure;
    return cluster.get();
  }

  ~PostgresCluster() {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGQUIT);  // immediate shutdown: nothing here needs to survive
      waitpid(server_pid_, nullptr, 0);
    }
    std::error_code ignored;
    if (!keep_files_) std::filesystem::remove_all(dir_, ignored);
  }

  // A new, empty database; its name ("" if createdb failed). `name`: letters, digits and
  // underscores.
  std::string NewDatabase(const std::string& name) {
    const std::string db = name + "_" + std::to_string(++databases_);
    return RunTool("createdb -h " + dir_ + " -p 5432 -U fedsyn " + db) == 0 ? db : "";
  }
  // The connection URI of database `db`.
  std::string Uri(const std::string& db) const {
    return "postgresql:///" + db + "?host=" + dir_ + "&port=5432&user=fedsyn";
  }
  // Runs `sql` in database `db` with psql, as an operator would behind the program's back;
  // psql's exit status (0: every statement succeeded).
  int Psql(const std::string& db, const std::string& sql) const {
    const std::string file = dir_ + "/psql-input.sql";
    {
      std::ofstream out(file, std::ios::trunc);
      out << sql << "\n";
    }
    return RunTool("psql -X -q -v ON_ERROR_STOP=1 -h " + dir_ + " -p 5432 -U fedsyn -d " + db +
                   " -f " + file + " >/dev/null");
  }
  // Runs a PostgreSQL program from the cluster's bin folder (e.g. "createdb ..."); its status.
  int RunTool(const std::string& arguments) const {
    return std::system((As() + bin_ + "/" + arguments).c_str());
  }

 private:
  PostgresCluster(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}

  static std::string FindBin() {
    if (const char* bin = std::getenv("FEDSYN_POSTGRES_BIN")) return bin;
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      if (std::filesystem::exists(entry.path() / "bin" / "initdb"))
        found.push_back((entry.path() / "bin").string());
    }
    if (found.empty()) return "";
    // The newest major version (folders are named by it).
    return *std::max_element(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return std::atoi(std::filesystem::path(a).parent_path().filename().c_str()) <
             std::atoi(std::filesystem::path(b).parent_path().filename().c_str());
    });
  }

  static std::string As() {
    return geteuid() == 0 ? "setpriv --reuid=nobody --regid=nogroup --clear-groups -- " : "";
  }

  static std::unique_ptr<PostgresCluster> Start(std::string* why) {
    const std::string bin = FindBin();
    if (bin.empty()) {
      *why =
          "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; "
          "deploy/install-deps.sh installs it)";
      return nullptr;
    }
    char pattern[] = "/tmp/fedsyn-postgres-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      *why = "cannot make a temporary folder for the test cluster";
      return nullptr;
    }
    std::unique_ptr<PostgresCluster> cluster(new PostgresCluster(bin, pattern));
    const std::string& dir = cluster->dir_;
    if (geteuid() == 0 && std::system(("chown nobody:nogroup " + dir).c_str()) != 0) {
      *why = "cannot hand " + dir + " to the user nobody";
      return nullptr;
    }
    const std::string init = As() + bin + "/initdb -D " + dir +
                             "/data -U fedsyn --auth=trust -E UTF8 --no-locale --no-sync " + ">" +
                             dir + "/initdb.log 2>&1";
    if (std::system(init.c_str()) != 0) {
      *why = "initdb failed; see " + dir + "/initdb.log";
      cluster->keep_files_ = true;
      return nullptr;
    }
    if (!cluster->StartServer()) {
      *why = "the test cluster did not start; see " + dir + "/server.log";
      cluster->keep_files_ = true;
      return nullptr;
    }
    return cluster;
  }

  // Starts the server as a child that dies with this process; true once it accepts
  // connections. fsync off: the tests check the ledger's semantics, not the disk (the product's
  // sessions ask for synchronous commits, which a production server honours).
  bool StartServer() {
    std::vector<std::string> args = {"setpriv"};
    if (geteuid() == 0) {
      for (const char* a : {"--reuid=nobody", "--regid=nogroup", "--clear-groups"})
        args.push_back(a);
    }
    for (const std::string& a :
         {std::string("--pdeathsig"), std::string("SIGQUIT"), std::string("--"), bin_ + "/postgres",
          std::string("-D"), dir_ + "/data", std::string("-k"), dir_, std::string("-c"),
          std::string("listen_addresses="), std::string("-p"), std::string("5432"),
          std::string("-c"), std::string("fsync=off"), std::string("-c"),
          std::string("max_connections=300")})
      args.push_back(a);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = dir_ + "/server.log";
    const pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {  // only async-signal-safe calls until exec
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execvp(argv[0], argv.data());
      _exit(127);
    }
    server_pid_ = pid;
    for (int i = 0; i < 300; ++i) {
      if (RunTool("pg_isready -q -h " + dir_ + " -p 5432") == 0) return true;
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        server_pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string bin_;
  std::string dir_;
  pid_t server_pid_ = -1;
  int databases_ = 0;
  bool keep_files_ = false;  // a cluster that failed to start keeps its logs for the reader
};

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_POSTGRES_CLUSTER_H_
