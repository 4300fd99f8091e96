#include "common/sqlite/sqlite.h"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/base/group_commit.h"

namespace fedsyn::sqlite {
namespace {

// A failed SQLite call as a Status naming the database file. Conditions that pass (a full disk,
// an I/O error, a lock held too long, memory) are Unavailable: the caller may retry later, and a
// site is told so. Anything else is Internal.
absl::Status Failure(sqlite3* db, int rc, std::string_view what, const char* detail = nullptr) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  const std::string message = "database " + std::string(file && *file ? file : "(memory)") + ": " +
                              std::string(what) + ": " +
                              (detail ? detail
                               : db   ? sqlite3_errmsg(db)
                                      : "failed");
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

bool SharedByConnections(const std::string& path) { return !path.empty() && path != ":memory:"; }

// Copies the write-ahead log back into the database file on a thread and connection of its
// own. SQLite's default does it on the connection that commits, inside that commit: every
// thousandth page or so a transaction (a site's reservation, say) also wrote 4 MB into the file
// and waited for its fsync, while every other transaction queued behind it. A passive checkpoint
// takes no lock a writer or reader needs, so here commits only append to the log.
class Database::Checkpointer {
 public:
  // A log this long (in pages, 1 MiB at 4 KiB) wakes the checkpointer: a quarter of SQLite's
  // default cadence. Each checkpoint ends with an fsync of the file, which the commits' own
  // fsyncs share the disk with: smaller copies make smaller bursts (at 1,000 pages the
  // reservation p99 under 64 sites had outliers of 25-48 ms; docs/performance.md).
  static constexpr int kWakePages = 250;
  // Past this length a committing writer checkpoints itself, as SQLite would: the log stays
  // bounded even when the checkpointer cannot keep up.
  static constexpr int kWriterCheckpointPages = 16'000;

  static std::unique_ptr<Checkpointer> Start(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return nullptr;
    }
    sqlite3_busy_timeout(db, 10'000);
    // The file must be on disk before the log is reused: FULL syncs both in the checkpoint.
    if (sqlite3_exec(db, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return nullptr;
    }
    return std::unique_ptr<Checkpointer>(new Checkpointer(db));
  }

  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    sqlite3_close(db_);
  }

  uint64_t checkpoints() const { return checkpoints_.load(); }

  // The writer's WAL hook: called after each commit with the log's length in pages.
  static int OnCommit(void* self, sqlite3* writer, const char* schema, int pages) {
    if (pages >= kWriterCheckpointPages) {
      sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= kWakePages) {
      static_cast<Checkpointer*>(self)->Wake();
    }
    return SQLITE_OK;
  }

 private:
  explicit Checkpointer(sqlite3* db) : db_(db), thread_([this] { Run(); }) {}

  void Wake() {
    {
      std::lock_guard lock(mutex_);
      pending_ = true;
    }
    wake_.notify_one();
  }

  void Run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return pending_ || stopping_; });
      if (stopping_) return;
      pending_ = false;
      lock.unlock();
      // A failure (a full disk, say) leaves the log longer; the next wake, or the writer past
      // kWriterCheckpointPages, tries again.
      if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
          SQLITE_OK) {
        ++checkpoints_;
      }
      lock.lock();
    }
  }

  sqlite3* const db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> checkpoints_ = 0;
  std::thread thread_;  // last: it starts running in the constructor
};

Statement::Statement(sqlite3* db, const std::string& sql) : db_(db) { Prepare(sql); }

Statement::Statement(Database& db, const std::string& sql)
    : db_(db.handle()), stmt_(db.TakeIdle(sql)), cache_(&db), sql_(sql) {
  if (stmt_ == nullptr) Prepare(sql);
}

void Statement::Prepare(const std::string& sql) {
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
    status_ = Failure(db_, sqlite3_errcode(db_), "prepare");
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() {
  if (cache_ != nullptr && stmt_ != nullptr) {
    cache_->PutIdle(sql_, stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement& Statement::BindBlob(int index, const std::string& value) {
  if (stmt_)
    sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlobInPlace(int index, std::string_view value) {
  if (stmt_)
    sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}
Statement& Statement::BindText(int index, const std::string& value) {
  if (stmt_)
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindInt(int index, int64_t value) {
  if (stmt_) sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

bool Statement::Next() {
  if (!stmt_ || !status_.ok()) return false;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = Failure(db_, rc, "step");
  return false;
}

absl::Status Statement::Run() {
  while (Next()) {
  }
  return status_;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const { return std::string(Bytes(column)); }

std::string_view Statement::Bytes(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  return p ? std::string_view(static_cast<const char*>(p),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string_view();
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, bool read_only,
                                                         std::span<const char* const> migrations) {
  sqlite3* db = nullptr;
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
      SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::NotFoundError("cannot open database " + path + ": " + message);
  }
  std::unique_ptr<Database> database(new Database(db, read_only));
  // Another connection holding the write lock makes us wait (up to 10 s) rather than fail.
  sqlite3_busy_timeout(db, 10'000);
  if (!read_only) {
    RETURN_IF_ERROR(database->Exec("PRAGMA journal_mode = WAL"));
    RETURN_IF_ERROR(database->Exec("PRAGMA synchronous = FULL"));
    // Without a checkpointer (no second connection to be had) SQLite's own, in-commit
    // checkpoints stay; the hook replaces them.
    if (SharedByConnections(path)) database->checkpointer_ = Checkpointer::Start(path);
    if (database->checkpointer_) {
      sqlite3_wal_hook(db, &Checkpointer::OnCommit, database->checkpointer_.get());
    }
  }
  RETURN_IF_ERROR(database->Exec("PRAGMA foreign_keys = ON"));
  RETURN_IF_ERROR(database->Migrate(migrations));
  return database;
}

Database::~Database() {
  checkpointer_.reset();  // its connection closes first: the writer's close then finishes the log
  for (const auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* Database::TakeIdle(const std::string& sql) {
  const std::lock_guard lock(idle_mutex_);
  const auto it = idle_.find(sql);
  if (it == idle_.end()) return nullptr;
  sqlite3_stmt* stmt = it->second;
  idle_.erase(it);
  return stmt;
}

void Database::PutIdle(const std::string& sql, sqlite3_stmt* stmt) {
  // Reset ends the statement's read of the database (an unfinished one would pin a WAL
  // snapshot); the bindings may hold copies of records and are dropped with it.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  {
    const std::lock_guard lock(idle_mutex_);
    if (idle_.size() < kMaxIdleStatements) {
      idle_.emplace(sql, stmt);
      return;
    }
  }
  sqlite3_finalize(stmt);
}

absl::Status Database::Exec(const std::string& sql) {
  char* error = nullptr;
  if (const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error); rc != SQLITE_OK) {
    const std::string detail = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    return Failure(db_, rc, "exec", detail.c_str());
  }
  return absl::OkStatus();
}

// The batch's side of a transaction on this file (base::GroupCommit).
class Database::Batches final : public base::GroupCommit::Connection {
 public:
  explicit Batches(Database& db) : db_(db) {}
  absl::Status Begin() override { return db_.Exec(db_.read_only_ ? "BEGIN" : "BEGIN IMMEDIATE"); }
  absl::Status Exec(const char* sql) override { return db_.Exec(sql); }
  absl::Status Commit() override { return db_.Exec("COMMIT"); }
  void Rollback() override { (void)db_.Exec("ROLLBACK"); }

 private:
  Database& db_;
};

Database::Database(sqlite3* db, bool read_only)
    : db_(db),
      read_only_(read_only),
      batches_(std::make_unique<Batches>(*this)),
      group_(std::make_unique<base::GroupCommit>(*batches_)) {}

absl::Status Database::Transaction(const std::function<absl::Status()>& body) {
  return group_->Run(body);
}

uint64_t Database::commits() const { return group_->commits(); }

uint64_t Database::background_checkpoints() const {
  return checkpointer_ ? checkpointer_->checkpoints() : 0;
}

absl::Status Database::Migrate(std::span<const char* const> migrations) {
  int64_t applied = 0;
  {
    // Finalised before migrating: an open statement would keep DROP TABLE from running.
    Statement version(db_, "PRAGMA user_version");
    if (!version.Next())
      return version.status().ok() ? absl::InternalError("no schema version") : version.status();
    applied = version.Int(0);
  }
  const int64_t known = static_cast<int64_t>(migrations.size());
  if (applied > known) {
    return absl::FailedPreconditionError("database schema version " + std::to_string(applied) +
                                         " is newer than this program's (" + std::to_string(known) +
                                         ")");
  }
  if (applied == known) return absl::OkStatus();
  if (read_only_)
    return absl::FailedPreconditionError("database needs a migration; open it read-write once");
  for (int64_t v = applied; v < known; ++v) {
    RETURN_IF_ERROR(Transaction([&] {
      RETURN_IF_ERROR(Exec(migrations[static_cast<size_t>(v)]));
      return Exec("PRAGMA user_version = " + std::to_string(v + 1));
    }));
  }
  return absl::OkStatus();
}

}  // namespace fedsyn::sqlite
