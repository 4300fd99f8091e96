// A thin RAII layer over libpq for the coordinator's PostgreSQL backend: a connection (two
// sessions: ledger transactions, snapshot reads), the transaction discipline that makes two
// coordinator processes on one database as safe as two connections on one SQLite file, and
// versioned migrations.
//   synchronous_commit=on   set per session: a COMMIT returns after the WAL is flushed, so OK
//                           means durable whatever the server's default;
//   advisory lock           every write transaction (a group of them, base::GroupCommit) first
//                           takes one transaction-scoped advisory lock (kLedgerLockKey), so
//                           ledger transactions of every coordinator on the database run one
//                           after another — the analogue of SQLite's BEGIN IMMEDIATE: two
//                           coordinators cannot both read "enough budget left" and both spend it;
//   lock_timeout            waiting longer than 10 s for that lock fails the call with
//                           Unavailable (the peer retries), like SQLite's busy timeout.
// Every parameter and result travels in libpq's binary format: a value's bytes are sent with
// their length (an embedded NUL is an error from the server, never a silent truncation), and
// blobs need no escaping.
#ifndef FEDSYN_COMMON_POSTGRES_POSTGRES_H_
#define FEDSYN_COMMON_POSTGRES_POSTGRES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/base/group_commit.h"
#include "common/base/status.h"

struct pg_conn;
struct pg_result;

namespace fedsyn::postgres {

// The advisory-lock key every ledger transaction and every migration takes ("fedsyn" in ASCII).
inline constexpr int64_t kLedgerLockKey = 0x66656473796e;

// Positional parameters ($1, $2, ...) of one statement.
class Params {
 public:
  Params& Text(const std::string& value);
  Params& Bytes(const std::string& value);
  Params& Int(int64_t value);

 private:
  friend class Connection;
  struct Value {
    unsigned int type;  // PostgreSQL type oid
    std::string bytes;  // binary format
  };
  std::vector<Value> values_;
};

// The rows of one statement, read by row and column. Int reads int2/int4/int8 columns; Text
// reads text and bytea columns (their bytes).
class Result {
 public:
  explicit Result(pg_result* result) : result_(result) {}
  ~Result();
  Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;

  int rows() const;
  int64_t Int(int row, int column) const;
  std::string Text(int row, int column) const;

 private:
  pg_result* result_;
};

class Connection {
 public:
  // Connects with `conninfo` (a libpq keyword string or postgresql:// URI) — two sessions, one
  // for ledger transactions and one for snapshot reads, so that a long listing never waits for
  // writers nor they for it — sets them up as described above, and applies the migrations not
  // yet applied (the table fedsyn_schema_version counts them; a database newer than
  // `migrations` is refused with FailedPrecondition). `read_only` makes every transaction
  // read-only and refuses a database that still needs a migration. An empty `migrations` only
  // connects (a configuration check). A server that cannot be reached is Unavailable.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& conninfo,
                                                          bool read_only,
                                                          std::span<const char* const> migrations);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement inside a Transaction or Snapshot body (on that call's session).
  absl::StatusOr<Result> Query(const std::string& sql, const Params& params = Params());
  absl::Status Run(const std::string& sql, const Params& params = Params()) {
    return Query(sql, params).status();
  }

  // Runs `body` in one transaction, serialised with every other call on this object and,
  // unless read-only, with every write transaction of every connection to the database (the
  // advisory lock). Calls that arrive while one runs are group-committed (base::GroupCommit:
  // one BEGIN, lock and COMMIT for the lot, each body in its own savepoint). Rolls back what
  // `body` did if it fails; when it returns OK, what `body` wrote is committed and durable. A
  // lost connection fails the call with Unavailable (whether a COMMIT in flight landed is
  // unknown: callers rely on the ledger's idempotent replays) and is re-established by the next
  // call. A body that calls Transaction again gets FailedPrecondition.
  absl::Status Transaction(const std::function<absl::Status()>& body);
  // The same for reads: one REPEATABLE READ, READ ONLY snapshot on the reading session, without
  // the ledger lock.
  absl::Status Snapshot(const std::function<absl::Status()>& body);
  // COMMITs of ledger transactions so far (a group counts once).
  uint64_t commits() const;

  bool read_only() const { return read_only_; }
  // Where the connection goes (host, port, database; never the password), for messages.
  std::string description() const;

 private:
  class Session;
  class Batches;

  explicit Connection(bool read_only);
  absl::Status Migrate(std::span<const char* const> migrations);

  // The session whose transaction or snapshot this thread is running: where Query goes.
  static thread_local Session* active_session_;

  bool read_only_;
  std::unique_ptr<Session> writer_;  // ledger transactions, through group_
  std::unique_ptr<Session> reader_;  // snapshots
  std::mutex reader_mutex_;          // one libpq session serves one thread at a time
  std::unique_ptr<Batches> batches_;
  std::unique_ptr<base::GroupCommit> group_;
};

}  // namespace fedsyn::postgres

#endif  // FEDSYN_COMMON_POSTGRES_POSTGRES_H_
