// The coordinator's durable state: per site x dataset budget limits and spending (the
// authoritative ledger), releases and their uploaded chunks, codes-mode decoders. One interface,
// three backends (SQLite for one coordinator, PostgreSQL for several on one database, in-memory
// for tests), one conformance suite (tests/coordinator/storage_conformance_test.cc).
//
// Contract common to every method: when it returns OK, the change is durable (committed to
// disk) — the caller may acknowledge it to the peer. Methods are thread-safe, and the ledger
// rules hold across every connection to one database (threads or processes).
#ifndef FEDSYN_COORDINATOR_STORAGE_H_
#define FEDSYN_COORDINATOR_STORAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/audit/canary_protocol.h"
#include "common/base/status.h"
#include "common/privacy/budget.h"
#include "common/privacy/release_mode.h"

namespace fedsyn::coordinator {

// A site as last seen: when, and the certificate it connected with (for rotations and expiry).
struct SiteSeen {
  std::string site_id;
  int64_t last_seen_unix = 0;
  std::string certificate_serial;  // hex; empty for a site seen before this was recorded
  int64_t certificate_not_after_unix = 0;
};

struct BudgetRow {
  std::string site_id;
  std::string dataset;
  int64_t limit_micros = 0;
  int64_t spent_micros = 0;
};

struct ReservationRequest {
  std::string site_id;  // from the TLS certificate
  std::string dataset;
  std::string release_id;
  // The release's epsilon and its model's, as the site stated them. The model's is charged on
  // its first release at (site, dataset) only (privacy::ModelPartDue): later releases from the
  // same model (same SHA-256) reuse it without new privacy cost.
  privacy::Charge charge;
  int64_t rows = 0;
  privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic;
  int64_t now_unix = 0;
  // What the claim is stated under (privacy::NeighbouringRelationName) and the mechanism behind
  // charge_micros (privacy::FormatMechanismParams), as the site stated them.
  std::string relation;
  std::string mechanism;
};

struct ReservationResult {
  bool granted = false;          // false: over the limit, nothing charged
  bool replayed = false;         // the same reservation existed: nothing was charged again
  int64_t remaining_micros = 0;  // after this reservation (or, if refused, what is left)
  int64_t charged_micros = 0;    // release charge plus, on the model's first use, its epsilon
};

enum class ReleaseStatus { kReserved, kCommitted };

// Release modes are privacy::ReleaseMode; stored under privacy::ReleaseModeName. A model-only
// release's rows are sampled from a DP-trained model (a VAE's prior, or a marginal model), none
// derived from one input record, so it adds no epsilon of its own and has no rows that
// correspond to input records (its canaries are in the model's training data only).

struct ReleaseRecord {
  std::string release_id;
  std::string site_id;
  std::string dataset;
  privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic;
  // As reserved: the release's epsilon and its model's, whether or not this release paid for
  // the model. charge.ClaimedMicros() is the release's claimed total epsilon, the figure a
  // canary audit holds its empirical bound against.
  privacy::Charge charge;
  int64_t model_paid_micros = 0;  // > 0 only on the release that paid for the model
  int64_t rows_declared = 0;
  // As reserved: the claim's neighbouring relation and the mechanism (FormatMechanismParams).
  // Releases recorded before these were part of a reservation read "add/remove one" and "".
  std::string relation;
  std::string mechanism;
  ReleaseStatus status = ReleaseStatus::kReserved;
  uint32_t next_chunk = 0;    // chunks 0..next_chunk-1 are stored
  int64_t rows_received = 0;  // rows in the stored chunks
  std::string sha256;         // set at commit
  int64_t created_unix = 0;
};

// A canary audit of one release (docs/audits.md): the site opens it before training, naming the
// id its audited release will have; its states are audit::AuditState.
using audit::AuditState;

struct AuditRecord {
  std::string release_id;  // the release this audit will judge (reserved after the audit)
  std::string site_id;
  std::string dataset;
  std::string canaries;  // CSV rows (no header) in the federation schema
  int count = 0;
  std::string commitment;
  audit::InclusionBits bits;  // revealed: one per canary pair
  std::string salt;
  // Revealed: the 0-based rows of the release derived from included canaries, ascending. They
  // are kept out of every export.
  std::vector<int64_t> positions;
  AuditState state = AuditState::kIssued;
  int64_t created_unix = 0;
};

// The rows of a committed release that its included canaries occupy, once the audit is
// revealed: where the salt puts one row per pair (audit::CanaryPositions). None for a
// model-only release: its rows are samples of a model, none stands for an input record.
std::vector<int64_t> ReleasedCanaryRows(const ReleaseRecord& release, const AuditRecord& audit);

// The coordinator's judgement of an audited release (fedsyn-coordinator audit run).
struct AuditVerdictRecord {
  std::string release_id;
  bool passed = false;
  int64_t claimed_micros = 0;      // the release's claimed total epsilon
  int64_t lower_bound_micros = 0;  // the empirical lower bound at 95%, rounded down
  std::string reason;              // why it failed; empty when it passed
  std::string report_json;         // the whole report (docs/audits.md)
  int64_t judged_unix = 0;
};

// An operator's explicit approval of a release the gate would hold back.
struct ApprovalRecord {
  std::string release_id;
  std::string approved_by;
  std::string reason;
  int64_t approved_unix = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Sets the operator's limit for (site, dataset), creating the row with nothing spent.
  // Lowering a limit below what is spent is allowed (further reservations are refused).
  virtual absl::Status SetLimit(const std::string& site_id, const std::string& dataset,
                                int64_t limit_micros) = 0;

  // Atomically reserves a release's full charge. An id with a canary audit must belong to the
  // same site and dataset and its audit must be committed (FailedPrecondition otherwise).
  // A replay of an existing reservation with the
  // same site, dataset and charge returns replayed = true and charges nothing; the same id
  // with other parameters is AlreadyExists; another site's id is PermissionDenied. When
  // spent + charge > limit it returns granted = false with the remainder and charges nothing;
  // NotFound when the site has no limit for the dataset. Concurrent calls never together
  // exceed a limit.
  virtual absl::StatusOr<ReservationResult> Reserve(const ReservationRequest& request) = 0;

  // Stores chunk `index` of a reserved release owned by `site_id`. Index == next_chunk
  // appends; index < next_chunk is a retransmission and is acknowledged without change;
  // index > next_chunk is FailedPrecondition, as is any chunk of a release whose canary audit
  // is issued but not yet committed. Returns the next expected index.
  virtual absl::StatusOr<uint32_t> AppendChunk(const std::string& site_id,
                                               const std::string& release_id, uint32_t index,
                                               const std::string& rows, int64_t row_count) = 0;

  // The release's stored chunks, concatenated in order.
  virtual absl::StatusOr<std::string> ReleaseContent(const std::string& release_id) = 0;

  // Marks a reserved release committed (idempotent for a committed one with the same hash).
  virtual absl::Status MarkCommitted(const std::string& site_id, const std::string& release_id,
                                     const std::string& sha256) = 0;

  // Codes mode: stores the published decoder of a reserved codes-mode release owned by
  // `site_id`. Its SHA-256 must be the reservation's model_sha256 (InvalidArgument otherwise);
  // storing the same model again is a no-op. Models are kept once per SHA-256.
  virtual absl::Status StoreModel(const std::string& site_id, const std::string& release_id,
                                  const std::string& model) = 0;
  // The stored model with this SHA-256, if any.
  virtual absl::StatusOr<std::optional<std::string>> ModelBytes(
      const std::string& model_sha256) = 0;

  // Canary audits. IssueAudit records the canaries of a release id nobody has reserved yet
  // (FailedPrecondition if it is reserved: canaries handed out after the model was trained
  // could not have been in it; AlreadyExists if this site already opened it — the caller reads
  // it with GetAudit; PermissionDenied if another site did).
  // CommitAudit moves issued -> committed (a replay of the same commitment is OK; another is
  // AlreadyExists). A reservation of an audited id needs the commitment (see Reserve).
  // RevealAudit, for a committed audit of a committed release, checks the bits and salt
  // against the commitment, and the positions against those the salt determines for the
  // release's row count (audit::CanaryPositions): revealed if all match, otherwise invalid and
  // InvalidArgument (the audit cannot be repaired).
  virtual absl::Status IssueAudit(const AuditRecord& audit) = 0;
  virtual absl::StatusOr<std::optional<AuditRecord>> GetAudit(const std::string& release_id) = 0;
  virtual absl::Status CommitAudit(const std::string& site_id, const std::string& release_id,
                                   const std::string& commitment) = 0;
  virtual absl::Status RevealAudit(const std::string& site_id, const std::string& release_id,
                                   const audit::InclusionBits& bits, const std::string& salt,
                                   const std::vector<int64_t>& positions) = 0;
  virtual absl::StatusOr<std::vector<AuditRecord>> ListAudits() = 0;

  // The release gate. RecordVerdict stores (or replaces, on a re-run) the verdict of a revealed
  // audit. Approve records an operator's approval of a committed release (AlreadyExists if it
  // has one; FailedPrecondition if its audit is not revealed, since its canary rows could not
  // be kept out of the export).
  virtual absl::Status RecordVerdict(const AuditVerdictRecord& verdict) = 0;
  virtual absl::StatusOr<std::optional<AuditVerdictRecord>> GetVerdict(
      const std::string& release_id) = 0;
  virtual absl::Status Approve(const ApprovalRecord& approval) = 0;
  virtual absl::StatusOr<std::optional<ApprovalRecord>> GetApproval(
      const std::string& release_id) = 0;

  virtual absl::StatusOr<std::optional<ReleaseRecord>> GetRelease(
      const std::string& release_id) = 0;
  virtual absl::StatusOr<std::vector<ReleaseRecord>> ListReleases() = 0;
  virtual absl::StatusOr<std::vector<BudgetRow>> ListBudgets() = 0;

  // Records that a site was seen (each hello and heartbeat), with the certificate it presented.
  virtual absl::Status TouchSite(const SiteSeen& seen) = 0;
  // Every site that ever connected, by site id: when last seen, with which certificate.
  virtual absl::StatusOr<std::vector<SiteSeen>> SitesSeen() = 0;
};

// SQLite in WAL mode with synchronous=FULL; ledger writes run in BEGIN IMMEDIATE
// transactions so that concurrent connections (threads or processes) serialise on them.
// Applies pending schema migrations on open. `read_only` opens an existing database without
// writing (the dashboard's --db mode).
absl::StatusOr<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                           bool read_only = false);

// PostgreSQL (common/postgres: synchronous_commit=on, every ledger transaction of every
// coordinator on the database serialised on one advisory lock), for more than one coordinator
// on one database. `conninfo` is a libpq connection URI (postgresql://...) or keyword string.
// Applies pending migrations on open; `read_only` refuses a database that needs one.
absl::StatusOr<std::unique_ptr<Storage>> OpenPostgresStorage(const std::string& conninfo,
                                                             bool read_only = false);
// Connects to a PostgreSQL database without reading or writing anything (--check-config).
absl::Status ProbePostgres(const std::string& conninfo);

// coordinator.toml's `database`: a postgresql:// or postgres:// URI names a PostgreSQL
// database, anything else an SQLite file.
bool IsPostgresDatabase(std::string_view database);
// Opens `database` with the backend it names.
absl::StatusOr<std::unique_ptr<Storage>> OpenStorage(const std::string& database,
                                                     bool read_only = false);

// Volatile storage with the same semantics, for tests.
std::unique_ptr<Storage> NewInMemoryStorage();

const char* ReleaseStatusName(ReleaseStatus status);
// The inverse of ReleaseStatusName; nullopt for any other text.
std::optional<ReleaseStatus> ParseReleaseStatus(std::string_view name);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_STORAGE_H_
