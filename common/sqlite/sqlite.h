// A thin RAII layer over the SQLite C API shared by the coordinator's storage and the site's
// local ledger: one place for the durability settings and the transaction discipline.
//   journal_mode=WAL    readers never block the writer;
//   synchronous=FULL    a committed transaction is on disk before we acknowledge it;
//   BEGIN IMMEDIATE     a write transaction takes the write lock at its start, so two
//                       connections cannot both read "enough budget left" and both spend it;
//   checkpoints         the log is copied into the file by a thread of the writer's own, never
//                       inside a commit.
#ifndef FEDSYN_COMMON_SQLITE_SQLITE_H_
#define FEDSYN_COMMON_SQLITE_SQLITE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/base/group_commit.h"
#include "common/base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fedsyn::sqlite {

class Database;

// True when `path` names a database file that another connection reaches too; false for
// ":memory:" and "" (SQLite's private in-memory and temporary databases), which a second
// connection would open as another, empty database.
bool SharedByConnections(const std::string& path);

class Statement {
 public:
  // Prepared on `db` (and finalised when destroyed).
  Statement(sqlite3* db, const std::string& sql);
  // Taken from `db`'s idle prepared statements of the same text when it has one (and reset
  // and handed back when destroyed): preparing costs 6-15 us a statement, and a reservation
  // runs a handful of them (docs/performance.md, "Coordinator ingest and reservation latency").
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& BindBlob(int index, const std::string& value);
  // Binds `value` without SQLite's private copy: it must stay alive and unchanged until the
  // statement has run (for large blobs the caller holds anyway, e.g. an upload chunk).
  Statement& BindBlobInPlace(int index, std::string_view value);
  Statement& BindText(int index, const std::string& value);
  Statement& BindInt(int index, int64_t value);
  // True while a row is available; false at the end. Errors surface through status().
  bool Next();
  absl::Status status() const { return status_; }
  // Runs a statement that returns no rows.
  absl::Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;  // TEXT or BLOB
  // The same bytes without a copy, valid until the next Next() or the statement's end.
  std::string_view Bytes(int column) const;

 private:
  // Prepares `sql` on db_ into stmt_; on failure stmt_ stays null and status_ says why.
  void Prepare(const std::string& sql);

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  absl::Status status_;
  Database* cache_ = nullptr;  // where stmt_ goes back to, when it came from a cache
  std::string sql_;            // its key there
};

class Database {
 public:
  // Opens (creating unless read_only) with WAL + synchronous=FULL + foreign keys + a busy
  // timeout, then applies the migrations not yet applied (PRAGMA user_version counts them).
  // A database newer than `migrations` is refused (FailedPrecondition).
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path, bool read_only,
                                                        std::span<const char* const> migrations);
  ~Database();

  absl::Status Exec(const std::string& sql);
  // Runs `body` atomically (BEGIN IMMEDIATE; plain BEGIN when read-only), serialised with
  // every other call on this object; rolls back what `body` did if it fails. When it returns
  // OK, what `body` wrote is committed and on disk. Calls that arrive while a transaction is
  // running are group-committed (base::GroupCommit: each in its own savepoint, one COMMIT —
  // one fsync — for the lot). A body that calls Transaction again gets FailedPrecondition
  // (SQLite has no nested transactions).
  absl::Status Transaction(const std::function<absl::Status()>& body);
  // COMMITs so far (a batch counts once): with the number of Transaction calls, how much group
  // commit saved.
  uint64_t commits() const;
  // Checkpoints run so far by this writer's checkpointer thread, which copies the write-ahead
  // log into the file so that commits do not (0 for a read-only or in-memory database).
  uint64_t background_checkpoints() const;
  sqlite3* handle() { return db_; }
  bool read_only() const { return read_only_; }

 private:
  friend class Statement;
  class Batches;
  class Checkpointer;
  // At most this many idle prepared statements are kept (beyond, they are finalised): the SQL
  // texts are the program's own, a few dozen.
  static constexpr size_t kMaxIdleStatements = 128;
  // An idle statement prepared from `sql`, or nullptr.
  sqlite3_stmt* TakeIdle(const std::string& sql);
  // Keeps `stmt` (reset, bindings cleared) for the next Statement of `sql`.
  void PutIdle(const std::string& sql, sqlite3_stmt* stmt);

  Database(sqlite3* db, bool read_only);
  absl::Status Migrate(std::span<const char* const> migrations);

  sqlite3* db_;
  bool read_only_;
  std::unique_ptr<Batches> batches_;
  std::unique_ptr<base::GroupCommit> group_;
  std::unique_ptr<Checkpointer> checkpointer_;  // a writer's; none for a read-only connection
  std::mutex idle_mutex_;  // Statements live on any thread that uses the connection
  std::unordered_multimap<std::string, sqlite3_stmt*> idle_;
};

}  // namespace fedsyn::sqlite

#endif  // FEDSYN_COMMON_SQLITE_SQLITE_H_
