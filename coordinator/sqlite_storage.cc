// SQLite backend of the coordinator storage. Durability settings and why:
//   journal_mode=WAL    readers (dashboard) never block the ledger writer;
//   synchronous=FULL    a commit is on disk before we acknowledge it (a reservation that was
//                       acknowledged must survive a power cut, or a site could spend twice);
//   BEGIN IMMEDIATE     takes the write lock at the start of a ledger transaction, so two
//                       connections cannot both read "enough budget left" and both spend it.
#include <sqlite3.h>

#include <mutex>

#include "coordinator/storage_backend.h"

namespace fedsyn::coordinator {
namespace {

// Schema migrations, applied in order; PRAGMA user_version records how many ran. Append
// only: never edit a migration that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE budgets (
  site_id TEXT NOT NULL, dataset TEXT NOT NULL,
  limit_micros INTEGER NOT NULL, spent_micros INTEGER NOT NULL,
  PRIMARY KEY (site_id, dataset));
CREATE TABLE releases (
  release_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, dataset TEXT NOT NULL, mode TEXT NOT NULL,
  charge_micros INTEGER NOT NULL, rows_declared INTEGER NOT NULL, model_private INTEGER NOT NULL,
  status TEXT NOT NULL, next_chunk INTEGER NOT NULL, rows_received INTEGER NOT NULL,
  sha256 TEXT NOT NULL, created_unix INTEGER NOT NULL);
CREATE TABLE chunks (
  release_id TEXT NOT NULL REFERENCES releases(release_id), idx INTEGER NOT NULL,
  rows BLOB NOT NULL, PRIMARY KEY (release_id, idx));
CREATE TABLE sites (site_id TEXT PRIMARY KEY, last_seen_unix INTEGER NOT NULL);
)sql",
};

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& BindText(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  int64_t Int(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string Text(int i) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
             : std::string();
  }
  absl::Status Error(const char* what) const {
    return absl::InternalError(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_));
  }
  absl::Status Done(const char* what) {
    return Step() == SQLITE_DONE ? absl::OkStatus() : Error(what);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr char kReleaseColumns[] =
    "release_id, site_id, dataset, mode, charge_micros, rows_declared, model_private, status, "
    "next_chunk, rows_received, sha256, created_unix";

ReleaseRecord ReadRelease(const Statement& s) {
  ReleaseRecord r;
  r.release_id = s.Text(0);
  r.site_id = s.Text(1);
  r.dataset = s.Text(2);
  r.mode = s.Text(3);
  r.charge_micros = s.Int(4);
  r.rows_declared = s.Int(5);
  r.model_private = s.Int(6) != 0;
  r.status = s.Text(7) == "committed" ? ReleaseStatus::kCommitted : ReleaseStatus::kReserved;
  r.next_chunk = static_cast<uint32_t>(s.Int(8));
  r.rows_received = s.Int(9);
  r.sha256 = s.Text(10);
  r.created_unix = s.Int(11);
  return r;
}

class SqliteTables final : public Tables {
 public:
  explicit SqliteTables(sqlite3* db) : db_(db) {}

  absl::StatusOr<std::optional<ReleaseRecord>> FindRelease(const std::string& id) override {
    Statement s(
        db_,
        (std::string("SELECT ") + kReleaseColumns + " FROM releases WHERE release_id = ?").c_str());
    s.BindText(1, id);
    const int rc = s.Step();
    if (rc == SQLITE_ROW) return std::optional<ReleaseRecord>(ReadRelease(s));
    if (rc == SQLITE_DONE) return std::optional<ReleaseRecord>();
    return s.Error("find release");
  }
  absl::StatusOr<std::optional<BudgetRow>> FindBudget(const std::string& site_id,
                                                      const std::string& dataset) override {
    Statement s(db_,
                "SELECT limit_micros, spent_micros FROM budgets WHERE site_id = ? AND dataset = ?");
    s.BindText(1, site_id).BindText(2, dataset);
    const int rc = s.Step();
    if (rc == SQLITE_ROW)
      return std::optional<BudgetRow>(BudgetRow{site_id, dataset, s.Int(0), s.Int(1)});
    if (rc == SQLITE_DONE) return std::optional<BudgetRow>();
    return s.Error("find budget");
  }
  absl::Status UpsertBudget(const BudgetRow& row) override {
    Statement s(
        db_,
        "INSERT INTO budgets (site_id, dataset, limit_micros, spent_micros) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (site_id, dataset) DO UPDATE SET limit_micros = excluded.limit_micros, "
        "spent_micros = excluded.spent_micros");
    s.BindText(1, row.site_id)
        .BindText(2, row.dataset)
        .Bind(3, row.limit_micros)
        .Bind(4, row.spent_micros);
    return s.Done("upsert budget");
  }
  absl::Status InsertRelease(const ReleaseRecord& r) override {
    Statement s(db_, (std::string("INSERT INTO releases (") + kReleaseColumns +
                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                         .c_str());
    s.BindText(1, r.release_id).BindText(2, r.site_id).BindText(3, r.dataset).BindText(4, r.mode);
    s.Bind(5, r.charge_micros).Bind(6, r.rows_declared).Bind(7, int64_t{r.model_private});
    s.BindText(8, ReleaseStatusName(r.status))
        .Bind(9, int64_t{r.next_chunk})
        .Bind(10, r.rows_received);
    s.BindText(11, r.sha256).Bind(12, r.created_unix);
    return s.Done("insert release");
  }
  absl::Status UpdateRelease(const ReleaseRecord& r) override {
    Statement s(db_,
                "UPDATE releases SET status = ?, next_chunk = ?, rows_received = ?, sha256 = ? "
                "WHERE release_id = ?");
    s.BindText(1, ReleaseStatusName(r.status))
        .Bind(2, int64_t{r.next_chunk})
        .Bind(3, r.rows_received);
    s.BindText(4, r.sha256).BindText(5, r.release_id);
    return s.Done("update release");
  }
  absl::Status InsertChunk(const std::string& release_id, uint32_t index,
                           const std::string& rows) override {
    Statement s(db_, "INSERT INTO chunks (release_id, idx, rows) VALUES (?, ?, ?)");
    s.BindText(1, release_id).Bind(2, int64_t{index}).Bind(3, rows);
    return s.Done("insert chunk");
  }
  absl::StatusOr<std::string> ConcatenatedChunks(const std::string& release_id) override {
    Statement s(db_, "SELECT rows FROM chunks WHERE release_id = ? ORDER BY idx");
    s.BindText(1, release_id);
    std::string out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out += s.Text(0);
    if (rc != SQLITE_DONE) return s.Error("read chunks");
    return out;
  }
  absl::Status TouchSite(const std::string& site_id, int64_t now_unix) override {
    Statement s(db_,
                "INSERT INTO sites (site_id, last_seen_unix) VALUES (?, ?) "
                "ON CONFLICT (site_id) DO UPDATE SET last_seen_unix = excluded.last_seen_unix");
    s.BindText(1, site_id).Bind(2, now_unix);
    return s.Done("touch site");
  }

 private:
  sqlite3* db_;
};

class SqliteStorage final : public LedgerStorage {
 public:
  SqliteStorage(sqlite3* db, bool read_only) : db_(db), read_only_(read_only) {}
  ~SqliteStorage() override { sqlite3_close(db_); }

  absl::Status Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      return absl::InternalError(std::string("sqlite: ") + message);
    }
    return absl::OkStatus();
  }

  absl::Status Migrate() {
    Statement version(db_, "PRAGMA user_version");
    if (version.Step() != SQLITE_ROW) return version.Error("read schema version");
    const int64_t applied = version.Int(0);
    const int64_t known = std::size(kMigrations);
    if (applied > known) {
      return absl::FailedPreconditionError("database schema version " + std::to_string(applied) +
                                           " is newer than this coordinator (" +
                                           std::to_string(known) + ")");
    }
    if (read_only_) {
      return applied == known ? absl::OkStatus()
                              : absl::FailedPreconditionError(
                                    "database needs migration; open it read-write once");
    }
    for (int64_t v = applied; v < known; ++v) {
      RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
      absl::Status status = Exec(kMigrations[v]);
      if (status.ok()) status = Exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
      if (!status.ok()) {
        (void)Exec("ROLLBACK");
        return status;
      }
      RETURN_IF_ERROR(Exec("COMMIT"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kReleaseColumns +
                      " FROM releases ORDER BY created_unix, release_id")
                         .c_str());
    std::vector<ReleaseRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadRelease(s));
    if (rc != SQLITE_DONE) return s.Error("list releases");
    return out;
  }
  absl::StatusOr<std::vector<BudgetRow>> ListBudgets() override {
    std::lock_guard lock(mutex_);
    Statement s(db_,
                "SELECT site_id, dataset, limit_micros, spent_micros FROM budgets ORDER BY "
                "site_id, dataset");
    std::vector<BudgetRow> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back({s.Text(0), s.Text(1), s.Int(2), s.Int(3)});
    if (rc != SQLITE_DONE) return s.Error("list budgets");
    return out;
  }
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> SitesLastSeen() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT site_id, last_seen_unix FROM sites ORDER BY site_id");
    std::vector<std::pair<std::string, int64_t>> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.emplace_back(s.Text(0), s.Int(1));
    if (rc != SQLITE_DONE) return s.Error("list sites");
    return out;
  }

 protected:
  absl::Status RunInTransaction(const std::function<absl::Status(Tables&)>& body) override {
    std::lock_guard lock(mutex_);
    RETURN_IF_ERROR(Exec(read_only_ ? "BEGIN" : "BEGIN IMMEDIATE"));
    SqliteTables tables(db_);
    absl::Status status = body(tables);
    if (!status.ok()) {
      (void)Exec("ROLLBACK");
      return status;
    }
    status = Exec("COMMIT");
    if (!status.ok()) (void)Exec("ROLLBACK");
    return status;
  }

 private:
  sqlite3* db_;
  bool read_only_;
  std::mutex mutex_;  // one connection, used by one thread at a time
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                           bool read_only) {
  sqlite3* db = nullptr;
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::NotFoundError("cannot open database " + path + ": " + message);
  }
  auto storage = std::make_unique<SqliteStorage>(db, read_only);
  // Another connection holding the write lock makes us wait up to 10 s rather than fail.
  sqlite3_busy_timeout(db, 10'000);
  if (!read_only) {
    RETURN_IF_ERROR(storage->Exec("PRAGMA journal_mode = WAL"));
    RETURN_IF_ERROR(storage->Exec("PRAGMA synchronous = FULL"));
  }
  RETURN_IF_ERROR(storage->Exec("PRAGMA foreign_keys = ON"));
  RETURN_IF_ERROR(storage->Migrate());
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace fedsyn::coordinator
