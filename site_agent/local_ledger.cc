#include "site_agent/local_ledger.h"

#include "common/base/names.h"
#include "common/base/stored_value.h"
#include "common/privacy/budget.h"
#include "common/privacy/rdp_accountant.h"
#include "common/sqlite/sqlite.h"

namespace fedsyn::site {
namespace {

using sqlite::Statement;

const char* const kRefused = SiteReleaseStateName(SiteReleaseState::kRefused);

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE releases (
  release_id TEXT PRIMARY KEY, dataset TEXT NOT NULL, charge_micros INTEGER NOT NULL,
  state TEXT NOT NULL, spool_path TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '',
    rows INTEGER NOT NULL DEFAULT 0, chunk_bytes INTEGER NOT NULL DEFAULT 0,
  model_sha256 TEXT NOT NULL DEFAULT '', model_charge_micros INTEGER NOT NULL DEFAULT 0, created_unix INTEGER NOT NULL DEFAULT (strftime('%s', 'now')));
)sql",
    "ALTER TABLE releases ADD COLUMN mode TEXT NOT NULL DEFAULT 'synthetic';",
    R"sql(
CREATE TABLE audit_jobs (
  release_id TEXT PRIMARY KEY, dataset TEXT NOT NULL, canaries BLOB NOT NULL, bits TEXT NOT NULL,
  salt TEXT NOT NULL, commitment TEXT NOT NULL, positions TEXT NOT NULL, state TEXT NOT NULL);
)sql",
    // Issue #11: the relation each charge is stated under; earlier charges were add/remove.
    "ALTER TABLE releases ADD COLUMN relation TEXT NOT NULL DEFAULT 'add/remove one';",
};

// Everything except releases the coordinator refused before any noise was drawn.
constexpr char kSpentSql[] =
    "SELECT COALESCE(SUM(charge_micros + model_charge_micros), 0) FROM releases "
    "WHERE dataset = ? AND state != ?";

class SqliteLocalLedger final : public LocalLedger {
 public:
  explicit SqliteLocalLedger(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}

  absl::StatusOr<int64_t> BeginRelease(const std::string& release_id, const std::string& dataset,
                                       const privacy::Charge& charge, int64_t limit) override {
    int64_t total = 0;
    RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
      bool model_paid_before = false;
      if (charge.model_private) {
        Statement paid(*db_,
                       "SELECT 1 FROM releases WHERE dataset = ? AND model_sha256 = ? AND "
                       "model_charge_micros > 0 "
                       "AND state != ? LIMIT 1");
        paid.BindText(1, dataset).BindText(2, charge.model_sha256).BindText(3, kRefused);
        model_paid_before = paid.Next();
        RETURN_IF_ERROR(paid.status());
      }
      ASSIGN_OR_RETURN(const int64_t model_part, privacy::ModelPartDue(charge, model_paid_before));
      ASSIGN_OR_RETURN(total, privacy::TotalDue(charge, model_part));
      Statement spent(*db_, kSpentSql);
      spent.BindText(1, dataset).BindText(2, kRefused);
      if (!spent.Next()) return spent.status();
      const int64_t remaining = limit - spent.Int(0);
      if (total > remaining) {
        return absl::ResourceExhaustedError("this site's own budget for " + dataset +
                                            " is exhausted: release needs " +
                                            privacy::FormatMicros(total) + " epsilon, remaining " +
                                            privacy::FormatMicros(std::max<int64_t>(remaining, 0)));
      }
      Statement insert(*db_,
                       "INSERT INTO releases (release_id, dataset, charge_micros, model_sha256, "
                       "model_charge_micros, state, relation) VALUES (?, ?, ?, ?, ?, ?, ?)");
      insert.BindText(1, release_id)
          .BindText(2, dataset)
          .BindInt(3, charge.release_micros)
          .BindText(4, charge.model_sha256);
      insert.BindInt(5, model_part)
          .BindText(6, SiteReleaseStateName(SiteReleaseState::kReserving))
          .BindText(7, privacy::NeighbouringRelationName(privacy::kReleaseRelation));
      return insert.Run();
    }));
    return total;
  }

  absl::Status SetState(const std::string& release_id, SiteReleaseState state) override {
    return db_->Transaction([&] {
      Statement s(*db_, "UPDATE releases SET state = ? WHERE release_id = ?");
      s.BindText(1, SiteReleaseStateName(state)).BindText(2, release_id);
      return s.Run();
    });
  }

  absl::Status MarkGenerated(const LocalRelease& release) override {
    return db_->Transaction([&] {
      Statement s(*db_,
                  "UPDATE releases SET state = ?, spool_path = ?, sha256 = ?, rows = ?, "
                  "chunk_bytes = ?, mode = ? WHERE release_id = ?");
      s.BindText(1, SiteReleaseStateName(SiteReleaseState::kGenerated));
      s.BindText(2, release.spool_path)
          .BindText(3, release.sha256)
          .BindInt(4, release.rows)
          .BindInt(5, release.chunk_bytes)
          .BindText(6, privacy::ReleaseModeName(release.mode))
          .BindText(7, release.release_id);
      return s.Run();
    });
  }

  absl::StatusOr<int64_t> Spent(const std::string& dataset) override {
    int64_t spent = 0;
    RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
      Statement s(*db_, kSpentSql);
      s.BindText(1, dataset).BindText(2, kRefused);
      if (!s.Next()) return s.status();
      spent = s.Int(0);
      return absl::OkStatus();
    }));
    return spent;
  }

  absl::StatusOr<std::vector<LocalRelease>> Releases() override {
    std::vector<LocalRelease> out;
    RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
      Statement s(*db_,
                  "SELECT release_id, dataset, charge_micros, state, spool_path, sha256, rows, "
                  "chunk_bytes, mode, relation FROM releases "
                  "ORDER BY created_unix, rowid");
      while (s.Next()) {
        const std::string id = s.Text(0);
        ASSIGN_OR_RETURN(const SiteReleaseState state,
                         base::ParseStored(s.Text(3), &ParseSiteReleaseState, "release state", id));
        ASSIGN_OR_RETURN(
            const privacy::ReleaseMode mode,
            base::ParseStored(s.Text(8), &privacy::ParseReleaseMode, "release mode", id));
        out.push_back({id, s.Text(1), s.Int(2), state, s.Text(4), s.Text(5), s.Int(6), s.Int(7),
                       mode, s.Text(9)});
      }
      return s.status();
    }));
    return out;
  }

  absl::Status AddAuditJob(const AuditJobRecord& job) override {
    return db_->Transaction([&]() -> absl::Status {
      Statement known(*db_, "SELECT 1 FROM audit_jobs WHERE release_id = ?");
      known.BindText(1, job.release_id);
      if (known.Next()) return absl::AlreadyExistsError("audit job " + job.release_id + " exists");
      RETURN_IF_ERROR(known.status());
      Statement s(*db_,
                  "INSERT INTO audit_jobs (release_id, dataset, canaries, bits, salt, commitment, "
                  "positions, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      s.BindText(1, job.release_id).BindText(2, job.dataset).BindBlob(3, job.canaries);
      s.BindText(4, audit::InclusionBitsText(job.bits)).BindText(5, job.salt);
      s.BindText(6, job.commitment).BindText(7, audit::JoinPositions(job.positions));
      s.BindText(8, AuditJobStateName(job.state));
      return s.Run();
    });
  }

  absl::StatusOr<std::optional<AuditJobRecord>> FindAuditJob(
      const std::string& release_id) override {
    std::optional<AuditJobRecord> job;
    RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
      Statement s(*db_,
                  "SELECT release_id, dataset, canaries, bits, salt, commitment, positions, state "
                  "FROM audit_jobs WHERE release_id = ?");
      s.BindText(1, release_id);
      if (s.Next()) {
        const std::string id = s.Text(0);
        ASSIGN_OR_RETURN(
            audit::InclusionBits bits,
            base::ParseStored(s.Text(3), &audit::ParseInclusionBits, "inclusion bits", id));
        ASSIGN_OR_RETURN(
            std::vector<int64_t> positions,
            base::ParseStored(s.Text(6), &audit::ParsePositions, "canary positions", id));
        ASSIGN_OR_RETURN(const AuditJobState state,
                         base::ParseStored(s.Text(7), &ParseAuditJobState, "audit job state", id));
        job = AuditJobRecord{
            id,   s.Text(1), s.Text(2), std::move(bits), s.Text(4), s.Text(5), std::move(positions),
            state};
      }
      return s.status();
    }));
    return job;
  }

  absl::Status SetAuditJobPositions(const std::string& release_id,
                                    const std::vector<int64_t>& positions) override {
    return UpdateAuditJob("positions", release_id, audit::JoinPositions(positions));
  }
  absl::Status SetAuditJobState(const std::string& release_id, AuditJobState state) override {
    return UpdateAuditJob("state", release_id, AuditJobStateName(state));
  }

 private:
  absl::Status UpdateAuditJob(const std::string& column, const std::string& release_id,
                              const std::string& value) {
    return db_->Transaction([&] {
      Statement s(*db_, "UPDATE audit_jobs SET " + column + " = ? WHERE release_id = ?");
      s.BindText(1, value).BindText(2, release_id);
      return s.Run();
    });
  }

  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace

const char* SiteReleaseStateName(SiteReleaseState state) {
  switch (state) {
    case SiteReleaseState::kReserving:
      return "reserving";
    case SiteReleaseState::kReserved:
      return "reserved";
    case SiteReleaseState::kGenerated:
      return "generated";
    case SiteReleaseState::kCommitted:
      return "committed";
    case SiteReleaseState::kRefused:
      return "refused";
    case SiteReleaseState::kAbandoned:
      return "abandoned";
  }
  return "invalid";
}

std::optional<SiteReleaseState> ParseSiteReleaseState(std::string_view name) {
  return base::ParseName(
      name,
      {SiteReleaseState::kReserving, SiteReleaseState::kReserved, SiteReleaseState::kGenerated,
       SiteReleaseState::kCommitted, SiteReleaseState::kRefused, SiteReleaseState::kAbandoned},
      &SiteReleaseStateName);
}

const char* AuditJobStateName(AuditJobState state) {
  return state == AuditJobState::kRevealed ? "revealed" : "committed";
}

std::optional<AuditJobState> ParseAuditJobState(std::string_view name) {
  return base::ParseName(name, {AuditJobState::kCommitted, AuditJobState::kRevealed},
                         &AuditJobStateName);
}

absl::StatusOr<std::unique_ptr<LocalLedger>> LocalLedger::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, /*read_only=*/false, kMigrations));
  return std::unique_ptr<LocalLedger>(std::make_unique<SqliteLocalLedger>(std::move(db)));
}

}  // namespace fedsyn::site
