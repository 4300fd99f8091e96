// SQLite backend of the coordinator storage; durability and locking come from
// common/sqlite (WAL, synchronous=FULL, BEGIN IMMEDIATE for every ledger transaction).
#include <condition_variable>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "common/audit/canary_protocol.h"
#include "common/sqlite/sqlite.h"
#include "coordinator/storage_backend.h"
#include "coordinator/storage_rows.h"

namespace fedsyn::coordinator {
namespace {

using sqlite::Statement;

// Schema migrations, applied in order. Append only: never edit one that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE budgets (
  site_id TEXT NOT NULL, dataset TEXT NOT NULL,
  limit_micros INTEGER NOT NULL, spent_micros INTEGER NOT NULL,
  PRIMARY KEY (site_id, dataset));
CREATE TABLE releases (
  release_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, dataset TEXT NOT NULL, mode TEXT NOT NULL,
    charge_micros INTEGER NOT NULL, rows_declared INTEGER NOT NULL, model_private INTEGER NOT NULL,
  model_sha256 TEXT NOT NULL, model_charge_micros INTEGER NOT NULL,
  status TEXT NOT NULL, next_chunk INTEGER NOT NULL, rows_received INTEGER NOT NULL,
  sha256 TEXT NOT NULL, created_unix INTEGER NOT NULL);
CREATE TABLE chunks (
  release_id TEXT NOT NULL REFERENCES releases(release_id), idx INTEGER NOT NULL,
  rows BLOB NOT NULL, PRIMARY KEY (release_id, idx));
CREATE TABLE sites (site_id TEXT PRIMARY KEY, last_seen_unix INTEGER NOT NULL);
)sql",
    // Codes mode: published decoders, once per SHA-256.
    "CREATE TABLE models (sha256 TEXT PRIMARY KEY, bytes BLOB NOT NULL);",
    // Canary audits (docs/audits.md).
    R"sql(
CREATE TABLE audits (
  release_id TEXT PRIMARY KEY REFERENCES releases(release_id), site_id TEXT NOT NULL,
  canaries BLOB NOT NULL, count INTEGER NOT NULL, commitment TEXT NOT NULL, bits TEXT NOT NULL,
  salt TEXT NOT NULL, state TEXT NOT NULL, created_unix INTEGER NOT NULL);
)sql",
    // Audits are opened before the release is reserved (so no foreign key), carry their
    // dataset and the revealed canary rows; verdicts and approvals gate the export; a release
    // keeps the model epsilon it claimed.
    R"sql(
ALTER TABLE releases ADD COLUMN model_epsilon_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN model_delta TEXT NOT NULL DEFAULT '0';
CREATE TABLE audits_v2 (
  release_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, dataset TEXT NOT NULL,
  canaries BLOB NOT NULL, count INTEGER NOT NULL, commitment TEXT NOT NULL, bits TEXT NOT NULL,
  salt TEXT NOT NULL, positions TEXT NOT NULL, state TEXT NOT NULL, created_unix INTEGER NOT NULL);
INSERT INTO audits_v2 SELECT a.release_id, a.site_id, r.dataset, a.canaries, a.count,
  a.commitment, a.bits, a.salt, '', a.state, a.created_unix
  FROM audits a JOIN releases r ON r.release_id = a.release_id;
DROP TABLE audits;
ALTER TABLE audits_v2 RENAME TO audits;
CREATE TABLE verdicts (
  release_id TEXT PRIMARY KEY, passed INTEGER NOT NULL, claimed_micros INTEGER NOT NULL,
  lower_bound_micros INTEGER NOT NULL, reason TEXT NOT NULL, report TEXT NOT NULL,
  judged_unix INTEGER NOT NULL);
CREATE TABLE approvals (
  release_id TEXT PRIMARY KEY, approved_by TEXT NOT NULL, reason TEXT NOT NULL,
  approved_unix INTEGER NOT NULL);
)sql",
    // Issue #11: a release states its neighbouring relation and mechanism. Rows from before
    // were claimed under add/remove (the accounting of the time).
    R"sql(
ALTER TABLE releases ADD COLUMN relation TEXT NOT NULL DEFAULT 'add/remove one';
ALTER TABLE releases ADD COLUMN mechanism TEXT NOT NULL DEFAULT '';
)sql",
    // Issue #16: the certificate each site last connected with (`fedsyn-coordinator sites`).
    R"sql(
ALTER TABLE sites ADD COLUMN certificate_serial TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN certificate_not_after_unix INTEGER NOT NULL DEFAULT 0;
)sql",
};

using rows::FormatDelta;
using rows::kAuditColumns;
using rows::kReleaseColumns;

absl::StatusOr<AuditRecord> ReadAudit(const Statement& s) { return rows::ReadAudit(s); }
absl::StatusOr<ReleaseRecord> ReadRelease(const Statement& s) { return rows::ReadRelease(s); }

template <typename Row, typename ReadRow>
absl::StatusOr<std::vector<Row>> Collect(Statement& s, ReadRow read) {
  std::vector<Row> out;
  while (s.Next()) {
    auto row = read(s);
    if constexpr (std::is_same_v<decltype(row), absl::StatusOr<Row>>) {
      if (!row.ok()) return row.status();
      out.push_back(*std::move(row));
    } else {
      out.push_back(std::move(row));
    }
  }
  RETURN_IF_ERROR(s.status());
  return out;
}

class SqliteTables final : public Tables {
 public:
  explicit SqliteTables(sqlite::Database& db) : db_(db) {}

  absl::StatusOr<std::optional<ReleaseRecord>> FindRelease(const std::string& id) override {
    Statement s(db_,
                std::string("SELECT ") + kReleaseColumns + " FROM releases WHERE release_id = ?");
    s.BindText(1, id);
    if (s.Next()) {
      ASSIGN_OR_RETURN(ReleaseRecord record, ReadRelease(s));
      return std::optional<ReleaseRecord>(std::move(record));
    }
    RETURN_IF_ERROR(s.status());
    return std::optional<ReleaseRecord>();
  }
  absl::StatusOr<std::optional<BudgetRow>> FindBudget(const std::string& site_id,
                                                      const std::string& dataset) override {
    Statement s(db_,
                "SELECT limit_micros, spent_micros FROM budgets WHERE site_id = ? AND dataset = ?");
    s.BindText(1, site_id).BindText(2, dataset);
    if (s.Next()) return std::optional<BudgetRow>(BudgetRow{site_id, dataset, s.Int(0), s.Int(1)});
    RETURN_IF_ERROR(s.status());
    return std::optional<BudgetRow>();
  }
  absl::StatusOr<bool> ModelCharged(const std::string& site_id, const std::string& dataset,
                                    const std::string& model_sha256) override {
    Statement s(db_,
                "SELECT 1 FROM releases WHERE site_id = ? AND dataset = ? AND model_sha256 = ? AND "
                "model_charge_micros > 0 LIMIT 1");
    s.BindText(1, site_id).BindText(2, dataset).BindText(3, model_sha256);
    const bool found = s.Next();
    RETURN_IF_ERROR(s.status());
    return found;
  }
  absl::Status UpsertBudget(const BudgetRow& row) override {
    Statement s(
        db_,
        "INSERT INTO budgets (site_id, dataset, limit_micros, spent_micros) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (site_id, dataset) DO UPDATE SET limit_micros = excluded.limit_micros, "
        "spent_micros = excluded.spent_micros");
    s.BindText(1, row.site_id)
        .BindText(2, row.dataset)
        .BindInt(3, row.limit_micros)
        .BindInt(4, row.spent_micros);
    return s.Run();
  }
  absl::Status InsertRelease(const ReleaseRecord& r) override {
    Statement s(db_, std::string("INSERT INTO releases (") + kReleaseColumns +
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.BindText(1, r.release_id)
        .BindText(2, r.site_id)
        .BindText(3, r.dataset)
        .BindText(4, privacy::ReleaseModeName(r.mode));
    s.BindInt(5, r.charge.release_micros).BindInt(6, r.rows_declared);
    s.BindInt(7, r.charge.model_private);
    s.BindText(8, ReleaseStatusName(r.status))
        .BindInt(9, r.next_chunk)
        .BindInt(10, r.rows_received);
    s.BindText(11, r.sha256).BindInt(12, r.created_unix).BindText(13, r.charge.model_sha256);
    s.BindInt(14, r.model_paid_micros).BindInt(15, r.charge.model_micros);
    s.BindText(16, FormatDelta(r.charge.model_delta))
        .BindText(17, r.relation)
        .BindText(18, r.mechanism);
    return s.Run();
  }
  absl::Status UpdateRelease(const ReleaseRecord& r) override {
    Statement s(db_,
                "UPDATE releases SET status = ?, next_chunk = ?, rows_received = ?, sha256 = ? "
                "WHERE release_id = ?");
    s.BindText(1, ReleaseStatusName(r.status)).BindInt(2, r.next_chunk).BindInt(3, r.rows_received);
    s.BindText(4, r.sha256).BindText(5, r.release_id);
    return s.Run();
  }
  absl::Status InsertChunk(const std::string& release_id, uint32_t index,
                           const std::string& rows) override {
    Statement s(db_, "INSERT INTO chunks (release_id, idx, rows) VALUES (?, ?, ?)");
    s.BindText(1, release_id).BindInt(2, index).BindBlobInPlace(3, rows);
    return s.Run();
  }
  absl::StatusOr<std::optional<std::string>> FindChunk(const std::string& release_id,
                                                       uint32_t index) override {
    Statement s(db_, "SELECT rows FROM chunks WHERE release_id = ? AND idx = ?");
    s.BindText(1, release_id).BindInt(2, index);
    std::optional<std::string> rows;
    if (s.Next()) rows = s.Text(0);
    RETURN_IF_ERROR(s.status());
    return rows;
  }
  absl::StatusOr<std::string> ConcatenatedChunks(const std::string& release_id) override {
    Statement s(db_, "SELECT rows FROM chunks WHERE release_id = ? ORDER BY idx");
    s.BindText(1, release_id);
    std::string out;
    while (s.Next()) out += s.Bytes(0);
    RETURN_IF_ERROR(s.status());
    return out;
  }
  absl::Status TouchSite(const SiteSeen& seen) override {
    Statement s(db_,
                "INSERT INTO sites (site_id, last_seen_unix, certificate_serial, "
                "certificate_not_after_unix) VALUES (?, ?, ?, ?) ON CONFLICT (site_id) DO UPDATE "
                "SET last_seen_unix = excluded.last_seen_unix, certificate_serial = "
                "excluded.certificate_serial, certificate_not_after_unix = "
                "excluded.certificate_not_after_unix");
    s.BindText(1, seen.site_id)
        .BindInt(2, seen.last_seen_unix)
        .BindText(3, seen.certificate_serial)
        .BindInt(4, seen.certificate_not_after_unix);
    return s.Run();
  }
  absl::StatusOr<std::optional<std::string>> FindModel(const std::string& sha256) override {
    Statement s(db_, "SELECT bytes FROM models WHERE sha256 = ?");
    s.BindText(1, sha256);
    if (s.Next()) return std::optional<std::string>(s.Text(0));
    RETURN_IF_ERROR(s.status());
    return std::optional<std::string>();
  }
  absl::StatusOr<std::optional<AuditRecord>> FindAudit(const std::string& release_id) override {
    Statement s(db_, std::string("SELECT ") + kAuditColumns + " FROM audits WHERE release_id = ?");
    s.BindText(1, release_id);
    if (s.Next()) {
      ASSIGN_OR_RETURN(AuditRecord audit, ReadAudit(s));
      return std::optional<AuditRecord>(std::move(audit));
    }
    RETURN_IF_ERROR(s.status());
    return std::optional<AuditRecord>();
  }
  absl::Status PutAudit(const AuditRecord& a) override {
    Statement s(db_, std::string("INSERT OR REPLACE INTO audits (") + kAuditColumns +
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.BindText(1, a.release_id).BindText(2, a.site_id).BindText(3, a.dataset);
    s.BindBlob(4, a.canaries)
        .BindInt(5, a.count)
        .BindText(6, a.commitment)
        .BindText(7, audit::InclusionBitsText(a.bits));
    s.BindText(8, a.salt)
        .BindText(9, audit::JoinPositions(a.positions))
        .BindText(10, AuditStateName(a.state));
    s.BindInt(11, a.created_unix);
    return s.Run();
  }
  absl::StatusOr<std::optional<AuditVerdictRecord>> FindVerdict(
      const std::string& release_id) override {
    Statement s(db_, std::string("SELECT ") + rows::kVerdictColumns +
                         " FROM verdicts WHERE release_id = ?");
    s.BindText(1, release_id);
    if (s.Next()) return std::optional<AuditVerdictRecord>(rows::ReadVerdict(release_id, s));
    RETURN_IF_ERROR(s.status());
    return std::optional<AuditVerdictRecord>();
  }
  absl::Status PutVerdict(const AuditVerdictRecord& v) override {
    Statement s(db_,
                "INSERT OR REPLACE INTO verdicts (release_id, passed, claimed_micros, "
                "lower_bound_micros, reason, report, judged_unix) VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.BindText(1, v.release_id).BindInt(2, v.passed).BindInt(3, v.claimed_micros);
    s.BindInt(4, v.lower_bound_micros).BindText(5, v.reason).BindText(6, v.report_json);
    s.BindInt(7, v.judged_unix);
    return s.Run();
  }
  absl::StatusOr<std::optional<ApprovalRecord>> FindApproval(
      const std::string& release_id) override {
    Statement s(db_,
                "SELECT approved_by, reason, approved_unix FROM approvals WHERE release_id = ?");
    s.BindText(1, release_id);
    if (s.Next()) {
      return std::optional<ApprovalRecord>(
          ApprovalRecord{release_id, s.Text(0), s.Text(1), s.Int(2)});
    }
    RETURN_IF_ERROR(s.status());
    return std::optional<ApprovalRecord>();
  }
  absl::Status InsertApproval(const ApprovalRecord& a) override {
    Statement s(db_,
                "INSERT INTO approvals (release_id, approved_by, reason, approved_unix) VALUES "
                "(?, ?, ?, ?)");
    s.BindText(1, a.release_id).BindText(2, a.approved_by).BindText(3, a.reason);
    s.BindInt(4, a.approved_unix);
    return s.Run();
  }
  absl::Status InsertModel(const std::string& sha256, const std::string& model) override {
    Statement s(db_, "INSERT INTO models (sha256, bytes) VALUES (?, ?)");
    s.BindText(1, sha256).BindBlob(2, model);
    return s.Run();
  }

 private:
  sqlite::Database& db_;
};

// Read-only connections to the ledger's file, handed to one reader at a time. In WAL mode each
// reads the last committed state without taking the write lock, so a session that looks up its
// release or hashes an upload does not queue behind another session's COMMIT and its fsync, as
// it would on the writer's connection (which serialises every call, reads included).
class ReaderConnections {
 public:
  explicit ReaderConnections(std::string path) : path_(std::move(path)) {}

  // Runs `body` in a read transaction on an idle connection: one opened now while fewer than
  // kMaxConnections are open, else the next to come back. The bound keeps a burst of sessions
  // (up to the listener's 256) from holding hundreds of descriptors and page caches.
  absl::Status Run(const std::function<absl::Status(sqlite::Database&)>& body) {
    ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db, Take());
    const absl::Status status = db->Transaction([&] { return body(*db); });
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(std::move(db));
    }
    returned_.notify_one();
    return status;
  }

 private:
  static constexpr size_t kMaxConnections = 16;

  absl::StatusOr<std::unique_ptr<sqlite::Database>> Take() {
    {
      std::unique_lock lock(mutex_);
      returned_.wait(lock, [this] { return !idle_.empty() || open_ < kMaxConnections; });
      if (!idle_.empty()) {
        std::unique_ptr<sqlite::Database> db = std::move(idle_.back());
        idle_.pop_back();
        return db;
      }
      ++open_;  // this caller opens one, outside the lock
    }
    auto opened = sqlite::Database::Open(path_, /*read_only=*/true, kMigrations);
    if (!opened.ok()) {
      {
        std::lock_guard lock(mutex_);
        --open_;
      }
      returned_.notify_one();
    }
    return opened;
  }

  const std::string path_;
  std::mutex mutex_;
  std::condition_variable returned_;
  size_t open_ = 0;  // connections opened and not closed (idle or in use)
  std::vector<std::unique_ptr<sqlite::Database>> idle_;
};

class SqliteStorage final : public LedgerStorage {
 public:
  SqliteStorage(std::unique_ptr<sqlite::Database> db, std::unique_ptr<ReaderConnections> readers)
      : db_(std::move(db)), readers_(std::move(readers)) {}

  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases() override {
    return Query<ReleaseRecord>(
        std::string("SELECT ") + kReleaseColumns + " FROM releases ORDER BY created_unix, rowid",
        ReadRelease);
  }
  absl::StatusOr<std::vector<AuditRecord>> ListAudits() override {
    return Query<AuditRecord>(
        std::string("SELECT ") + kAuditColumns + " FROM audits ORDER BY created_unix, rowid",
        ReadAudit);
  }
  absl::StatusOr<std::vector<BudgetRow>> ListBudgets() override {
    return Query<BudgetRow>(
        std::string("SELECT ") + rows::kBudgetColumns + " FROM budgets ORDER BY site_id, dataset",
        rows::ReadBudget<Statement>);
  }
  absl::StatusOr<std::vector<SiteSeen>> SitesSeen() override {
    return Query<SiteSeen>(
        std::string("SELECT ") + rows::kSiteColumns + " FROM sites ORDER BY site_id",
        rows::ReadSite<Statement>);
  }

 protected:
  absl::Status RunInTransaction(const std::function<absl::Status(Tables&)>& body) override {
    return db_->Transaction([&] {
      SqliteTables tables(*db_);
      return body(tables);
    });
  }
  absl::Status RunReadOnly(const std::function<absl::Status(Tables&)>& body) override {
    return Reading([&](sqlite::Database& db) {
      SqliteTables tables(db);
      return body(tables);
    });
  }

 private:
  // Every row `sql` selects, read by `read`, in one read transaction.
  template <typename Row, typename ReadRow>
  absl::StatusOr<std::vector<Row>> Query(const std::string& sql, ReadRow read) {
    std::vector<Row> out;
    RETURN_IF_ERROR(Reading([&](sqlite::Database& db) -> absl::Status {
      Statement s(db, sql);
      ASSIGN_OR_RETURN(out, Collect<Row>(s, read));
      return absl::OkStatus();
    }));
    return out;
  }

  // Runs `body` in a read transaction on a reader connection (the writer's when there are none).
  absl::Status Reading(const std::function<absl::Status(sqlite::Database&)>& body) {
    if (readers_) return readers_->Run(body);
    return db_->Transaction([&] { return body(*db_); });
  }

  std::unique_ptr<sqlite::Database> db_;
  std::unique_ptr<ReaderConnections> readers_;  // none unless SharedByConnections(path)
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                           bool read_only) {
  ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, read_only, kMigrations));
  std::unique_ptr<ReaderConnections> readers;
  if (sqlite::SharedByConnections(path)) readers = std::make_unique<ReaderConnections>(path);
  return std::unique_ptr<Storage>(
      std::make_unique<SqliteStorage>(std::move(db), std::move(readers)));
}

}  // namespace fedsyn::coordinator
