// PostgreSQL backend of the coordinator storage, for a consortium that runs more than one
// coordinator (a standby, several front ends) on one database server. Durability and locking
// come from common/postgres: synchronous_commit=on, and every ledger transaction of every
// coordinator serialised on one advisory lock (group-committed as on SQLite) — the same
// discipline as SQLite's BEGIN IMMEDIATE, so the shared ledger rules (storage_backend.cc) hold
// across processes unchanged.
#include <type_traits>

#include "common/postgres/postgres.h"
#include "coordinator/storage_backend.h"
#include "coordinator/storage_rows.h"

namespace fedsyn::coordinator {
namespace {

using postgres::Params;
using postgres::Result;

// Schema migrations, applied in order. Append only: never edit one that has shipped. The first
// is the SQLite schema as of its sixth migration in PostgreSQL's types; `seq` keeps insertion
// order for listings (SQLite's rowid).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE budgets (
  site_id TEXT NOT NULL, dataset TEXT NOT NULL,
  limit_micros BIGINT NOT NULL, spent_micros BIGINT NOT NULL,
  PRIMARY KEY (site_id, dataset));
CREATE TABLE releases (
  seq BIGSERIAL UNIQUE, release_id TEXT PRIMARY KEY, site_id TEXT NOT NULL,
  dataset TEXT NOT NULL, mode TEXT NOT NULL, charge_micros BIGINT NOT NULL,
  rows_declared BIGINT NOT NULL, model_private BIGINT NOT NULL, model_sha256 TEXT NOT NULL,
  model_charge_micros BIGINT NOT NULL, model_epsilon_micros BIGINT NOT NULL,
  model_delta TEXT NOT NULL, relation TEXT NOT NULL, mechanism TEXT NOT NULL,
  status TEXT NOT NULL, next_chunk BIGINT NOT NULL, rows_received BIGINT NOT NULL,
  sha256 TEXT NOT NULL, created_unix BIGINT NOT NULL);
CREATE INDEX releases_by_model ON releases (site_id, dataset, model_sha256);
CREATE TABLE chunks (
  release_id TEXT NOT NULL REFERENCES releases(release_id), idx BIGINT NOT NULL,
  rows BYTEA NOT NULL, PRIMARY KEY (release_id, idx));
CREATE TABLE sites (
  site_id TEXT PRIMARY KEY, last_seen_unix BIGINT NOT NULL, certificate_serial TEXT NOT NULL,
  certificate_not_after_unix BIGINT NOT NULL);
CREATE TABLE models (sha256 TEXT PRIMARY KEY, bytes BYTEA NOT NULL);
CREATE TABLE audits (
  seq BIGSERIAL UNIQUE, release_id TEXT PRIMARY KEY, site_id TEXT NOT NULL,
  dataset TEXT NOT NULL, canaries BYTEA NOT NULL, count BIGINT NOT NULL,
  commitment TEXT NOT NULL, bits TEXT NOT NULL, salt TEXT NOT NULL, positions TEXT NOT NULL,
  state TEXT NOT NULL, created_unix BIGINT NOT NULL);
CREATE TABLE verdicts (
  release_id TEXT PRIMARY KEY, passed BIGINT NOT NULL, claimed_micros BIGINT NOT NULL,
  lower_bound_micros BIGINT NOT NULL, reason TEXT NOT NULL, report TEXT NOT NULL,
  judged_unix BIGINT NOT NULL);
CREATE TABLE approvals (
  release_id TEXT PRIMARY KEY, approved_by TEXT NOT NULL, reason TEXT NOT NULL,
  approved_unix BIGINT NOT NULL);
)sql",
};

// One row of a result, in the shape the shared readers (storage_rows.h) take.
struct PgRow {
  const Result& result;
  int row;
  int64_t Int(int column) const { return result.Int(row, column); }
  std::string Text(int column) const { return result.Text(row, column); }
};

// Every row of `result`, read by `read` (which may fail, for the rows parsed back).
template <typename Row, typename ReadRow>
absl::StatusOr<std::vector<Row>> Collect(const Result& result, ReadRow read) {
  std::vector<Row> out;
  out.reserve(static_cast<size_t>(result.rows()));
  for (int i = 0; i < result.rows(); ++i) {
    auto row = read(PgRow{result, i});
    if constexpr (std::is_same_v<decltype(row), absl::StatusOr<Row>>) {
      if (!row.ok()) return row.status();
      out.push_back(*std::move(row));
    } else {
      out.push_back(std::move(row));
    }
  }
  return out;
}

// The first row of `result` read by `read`, or nothing.
template <typename Row, typename ReadRow>
absl::StatusOr<std::optional<Row>> First(const Result& result, ReadRow read) {
  if (result.rows() == 0) return std::optional<Row>();
  auto row = read(PgRow{result, 0});
  if constexpr (std::is_same_v<decltype(row), absl::StatusOr<Row>>) {
    if (!row.ok()) return row.status();
    return std::optional<Row>(*std::move(row));
  } else {
    return std::optional<Row>(std::move(row));
  }
}

std::string Select(const char* columns, const char* rest) {
  return std::string("SELECT ") + columns + " " + rest;
}

class PostgresTables final : public Tables {
 public:
  explicit PostgresTables(postgres::Connection& db) : db_(db) {}

  absl::StatusOr<std::optional<ReleaseRecord>> FindRelease(const std::string& id) override {
    ASSIGN_OR_RETURN(Result r,
                     db_.Query(Select(rows::kReleaseColumns, "FROM releases WHERE release_id = $1"),
                               Params().Text(id)));
    return First<ReleaseRecord>(r, rows::ReadRelease<PgRow>);
  }
  absl::StatusOr<std::optional<BudgetRow>> FindBudget(const std::string& site_id,
                                                      const std::string& dataset) override {
    ASSIGN_OR_RETURN(Result r, db_.Query(Select(rows::kBudgetColumns,
                                                "FROM budgets WHERE site_id = $1 AND dataset = $2"),
                                         Params().Text(site_id).Text(dataset)));
    return First<BudgetRow>(r, rows::ReadBudget<PgRow>);
  }
  absl::StatusOr<bool> ModelCharged(const std::string& site_id, const std::string& dataset,
                                    const std::string& model_sha256) override {
    ASSIGN_OR_RETURN(Result r,
                     db_.Query("SELECT 1 FROM releases WHERE site_id = $1 AND dataset = $2 AND "
                               "model_sha256 = $3 AND model_charge_micros > 0 LIMIT 1",
                               Params().Text(site_id).Text(dataset).Text(model_sha256)));
    return r.rows() > 0;
  }
  absl::Status UpsertBudget(const BudgetRow& row) override {
    return db_.Run(
        "INSERT INTO budgets (site_id, dataset, limit_micros, spent_micros) VALUES ($1, $2, $3, "
        "$4) ON CONFLICT (site_id, dataset) DO UPDATE SET limit_micros = excluded.limit_micros, "
        "spent_micros = excluded.spent_micros",
        Params().Text(row.site_id).Text(row.dataset).Int(row.limit_micros).Int(row.spent_micros));
  }
  absl::Status InsertRelease(const ReleaseRecord& r) override {
    Params p;
    p.Text(r.release_id).Text(r.site_id).Text(r.dataset).Text(privacy::ReleaseModeName(r.mode));
    p.Int(r.charge.release_micros).Int(r.rows_declared).Int(r.charge.model_private);
    p.Text(ReleaseStatusName(r.status)).Int(r.next_chunk).Int(r.rows_received);
    p.Text(r.sha256).Int(r.created_unix).Text(r.charge.model_sha256);
    p.Int(r.model_paid_micros).Int(r.charge.model_micros);
    p.Text(rows::FormatDelta(r.charge.model_delta)).Text(r.relation).Text(r.mechanism);
    return db_.Run(std::string("INSERT INTO releases (") + rows::kReleaseColumns +
                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
                       "$15, $16, $17, $18)",
                   p);
  }
  absl::Status UpdateRelease(const ReleaseRecord& r) override {
    return db_.Run(
        "UPDATE releases SET status = $1, next_chunk = $2, rows_received = $3, sha256 = $4 "
        "WHERE release_id = $5",
        Params()
            .Text(ReleaseStatusName(r.status))
            .Int(r.next_chunk)
            .Int(r.rows_received)
            .Text(r.sha256)
            .Text(r.release_id));
  }
  absl::Status InsertChunk(const std::string& release_id, uint32_t index,
                           const std::string& rows) override {
    return db_.Run("INSERT INTO chunks (release_id, idx, rows) VALUES ($1, $2, $3)",
                   Params().Text(release_id).Int(index).Bytes(rows));
  }
  absl::StatusOr<std::optional<std::string>> FindChunk(const std::string& release_id,
                                                       uint32_t index) override {
    ASSIGN_OR_RETURN(Result r, db_.Query("SELECT rows FROM chunks WHERE release_id = $1 AND "
                                         "idx = $2",
                                         Params().Text(release_id).Int(index)));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Text(0, 0));
  }
  absl::StatusOr<std::string> ConcatenatedChunks(const std::string& release_id) override {
    ASSIGN_OR_RETURN(Result r,
                     db_.Query("SELECT rows FROM chunks WHERE release_id = $1 ORDER BY idx",
                               Params().Text(release_id)));
    std::string out;
    for (int i = 0; i < r.rows(); ++i) out += r.Text(i, 0);
    return out;
  }
  absl::Status TouchSite(const SiteSeen& seen) override {
    return db_.Run(std::string("INSERT INTO sites (") + rows::kSiteColumns +
                       ") VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO UPDATE SET "
                       "last_seen_unix = excluded.last_seen_unix, certificate_serial = "
                       "excluded.certificate_serial, certificate_not_after_unix = "
                       "excluded.certificate_not_after_unix",
                   Params()
                       .Text(seen.site_id)
                       .Int(seen.last_seen_unix)
                       .Text(seen.certificate_serial)
                       .Int(seen.certificate_not_after_unix));
  }
  absl::StatusOr<std::optional<std::string>> FindModel(const std::string& sha256) override {
    ASSIGN_OR_RETURN(
        Result r, db_.Query("SELECT bytes FROM models WHERE sha256 = $1", Params().Text(sha256)));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Text(0, 0));
  }
  absl::Status InsertModel(const std::string& sha256, const std::string& model) override {
    return db_.Run("INSERT INTO models (sha256, bytes) VALUES ($1, $2)",
                   Params().Text(sha256).Bytes(model));
  }
  absl::StatusOr<std::optional<AuditRecord>> FindAudit(const std::string& release_id) override {
    ASSIGN_OR_RETURN(Result r,
                     db_.Query(Select(rows::kAuditColumns, "FROM audits WHERE release_id = $1"),
                               Params().Text(release_id)));
    return First<AuditRecord>(r, rows::ReadAudit<PgRow>);
  }
  absl::Status PutAudit(const AuditRecord& a) override {
    Params p;
    p.Text(a.release_id).Text(a.site_id).Text(a.dataset).Bytes(a.canaries).Int(a.count);
    p.Text(a.commitment).Text(audit::InclusionBitsText(a.bits)).Text(a.salt);
    p.Text(audit::JoinPositions(a.positions)).Text(AuditStateName(a.state)).Int(a.created_unix);
    return db_.Run(std::string("INSERT INTO audits (") + rows::kAuditColumns +
                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT "
                       "(release_id) DO UPDATE SET site_id = excluded.site_id, dataset = "
                       "excluded.dataset, canaries = excluded.canaries, count = excluded.count, "
                       "commitment = excluded.commitment, bits = excluded.bits, salt = "
                       "excluded.salt, positions = excluded.positions, state = excluded.state, "
                       "created_unix = excluded.created_unix",
                   p);
  }
  absl::StatusOr<std::optional<AuditVerdictRecord>> FindVerdict(
      const std::string& release_id) override {
    ASSIGN_OR_RETURN(Result r,
                     db_.Query(Select(rows::kVerdictColumns, "FROM verdicts WHERE release_id = $1"),
                               Params().Text(release_id)));
    return First<AuditVerdictRecord>(
        r, [&release_id](const PgRow& row) { return rows::ReadVerdict(release_id, row); });
  }
  absl::Status PutVerdict(const AuditVerdictRecord& v) override {
    return db_.Run(
        std::string("INSERT INTO verdicts (release_id, ") + rows::kVerdictColumns +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (release_id) DO UPDATE SET "
            "passed = excluded.passed, claimed_micros = excluded.claimed_micros, "
            "lower_bound_micros = excluded.lower_bound_micros, reason = excluded.reason, report = "
            "excluded.report, judged_unix = excluded.judged_unix",
        Params()
            .Text(v.release_id)
            .Int(v.passed)
            .Int(v.claimed_micros)
            .Int(v.lower_bound_micros)
            .Text(v.reason)
            .Text(v.report_json)
            .Int(v.judged_unix));
  }
  absl::StatusOr<std::optional<ApprovalRecord>> FindApproval(
      const std::string& release_id) override {
    ASSIGN_OR_RETURN(Result r, db_.Query("SELECT approved_by, reason, approved_unix FROM "
                                         "approvals WHERE release_id = $1",
                                         Params().Text(release_id)));
    return First<ApprovalRecord>(r, [&release_id](const PgRow& row) {
      return ApprovalRecord{release_id, row.Text(0), row.Text(1), row.Int(2)};
    });
  }
  absl::Status InsertApproval(const ApprovalRecord& a) override {
    return db_.Run(
        "INSERT INTO approvals (release_id, approved_by, reason, approved_unix) VALUES ($1, $2, "
        "$3, $4)",
        Params().Text(a.release_id).Text(a.approved_by).Text(a.reason).Int(a.approved_unix));
  }

 private:
  postgres::Connection& db_;
};

class PostgresStorage final : public LedgerStorage {
 public:
  explicit PostgresStorage(std::unique_ptr<postgres::Connection> db) : db_(std::move(db)) {}

  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases() override {
    return List<ReleaseRecord>(
        Select(rows::kReleaseColumns, "FROM releases ORDER BY created_unix, seq"),
        rows::ReadRelease<PgRow>);
  }
  absl::StatusOr<std::vector<AuditRecord>> ListAudits() override {
    return List<AuditRecord>(Select(rows::kAuditColumns, "FROM audits ORDER BY created_unix, seq"),
                             rows::ReadAudit<PgRow>);
  }
  absl::StatusOr<std::vector<BudgetRow>> ListBudgets() override {
    return List<BudgetRow>(Select(rows::kBudgetColumns, "FROM budgets ORDER BY site_id, dataset"),
                           rows::ReadBudget<PgRow>);
  }
  absl::StatusOr<std::vector<SiteSeen>> SitesSeen() override {
    return List<SiteSeen>(Select(rows::kSiteColumns, "FROM sites ORDER BY site_id"),
                          rows::ReadSite<PgRow>);
  }

 protected:
  absl::Status RunInTransaction(const std::function<absl::Status(Tables&)>& body) override {
    return db_->Transaction([&] {
      PostgresTables tables(*db_);
      return body(tables);
    });
  }

 private:
  // Every row `sql` selects, read by `read`, from one consistent snapshot.
  template <typename Row, typename ReadRow>
  absl::StatusOr<std::vector<Row>> List(const std::string& sql, ReadRow read) {
    std::vector<Row> out;
    RETURN_IF_ERROR(db_->Snapshot([&]() -> absl::Status {
      ASSIGN_OR_RETURN(Result result, db_->Query(sql));
      ASSIGN_OR_RETURN(out, Collect<Row>(result, read));
      return absl::OkStatus();
    }));
    return out;
  }

  std::unique_ptr<postgres::Connection> db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> OpenPostgresStorage(const std::string& conninfo,
                                                             bool read_only) {
  ASSIGN_OR_RETURN(auto db, postgres::Connection::Open(conninfo, read_only, kMigrations));
  return std::unique_ptr<Storage>(std::make_unique<PostgresStorage>(std::move(db)));
}

absl::Status ProbePostgres(const std::string& conninfo) {
  return postgres::Connection::Open(conninfo, /*read_only=*/true, {}).status();
}

}  // namespace fedsyn::coordinator
