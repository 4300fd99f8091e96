// How a storage backend plugs into the shared ledger rules: it provides row access inside a
// transaction (Tables) and a way to run one (RunInTransaction); LedgerStorage implements every
// Storage method on top, so the semantics (replays, limits, ownership, chunk order) exist
// once, whatever the backend.
#ifndef FEDSYN_COORDINATOR_STORAGE_BACKEND_H_
#define FEDSYN_COORDINATOR_STORAGE_BACKEND_H_

#include <functional>

#include "coordinator/storage.h"

namespace fedsyn::coordinator {

class Tables {
 public:
  virtual ~Tables() = default;
  virtual absl::StatusOr<std::optional<ReleaseRecord>> FindRelease(const std::string& id) = 0;
  virtual absl::StatusOr<std::optional<BudgetRow>> FindBudget(const std::string& site_id,
                                                              const std::string& dataset) = 0;
  virtual absl::Status UpsertBudget(const BudgetRow& row) = 0;
  // Has a release of this site already paid for the model's epsilon on this dataset?
  virtual absl::StatusOr<bool> ModelCharged(const std::string& site_id, const std::string& dataset,
                                            const std::string& model_sha256) = 0;
  virtual absl::Status InsertRelease(const ReleaseRecord& record) = 0;
  // Writes status, next_chunk, rows_received and sha256 of an existing release.
  virtual absl::Status UpdateRelease(const ReleaseRecord& record) = 0;
  virtual absl::Status InsertChunk(const std::string& release_id, uint32_t index,
                                   const std::string& rows) = 0;
  virtual absl::StatusOr<std::string> ConcatenatedChunks(const std::string& release_id) = 0;
  virtual absl::StatusOr<std::optional<std::string>> FindChunk(const std::string& release_id,
                                                               uint32_t index) = 0;
  virtual absl::Status TouchSite(const SiteSeen& seen) = 0;
  virtual absl::StatusOr<std::optional<std::string>> FindModel(const std::string& sha256) = 0;
  virtual absl::Status InsertModel(const std::string& sha256, const std::string& model) = 0;
  virtual absl::StatusOr<std::optional<AuditRecord>> FindAudit(const std::string& release_id) = 0;
  // Inserts or replaces the audit of its release.
  virtual absl::Status PutAudit(const AuditRecord& audit) = 0;
  virtual absl::StatusOr<std::optional<AuditVerdictRecord>> FindVerdict(
      const std::string& release_id) = 0;
  // Inserts or replaces the verdict of its release.
  virtual absl::Status PutVerdict(const AuditVerdictRecord& verdict) = 0;
  virtual absl::StatusOr<std::optional<ApprovalRecord>> FindApproval(
      const std::string& release_id) = 0;
  virtual absl::Status InsertApproval(const ApprovalRecord& approval) = 0;
};

class LedgerStorage : public Storage {
 public:
  absl::Status SetLimit(const std::string& site_id, const std::string& dataset,
                        int64_t limit_micros) override;
  absl::StatusOr<ReservationResult> Reserve(const ReservationRequest& request) override;
  absl::StatusOr<uint32_t> AppendChunk(const std::string& site_id, const std::string& release_id,
                                       uint32_t index, const std::string& rows,
                                       int64_t row_count) override;
  absl::StatusOr<std::string> ReleaseContent(const std::string& release_id) override;
  absl::Status MarkCommitted(const std::string& site_id, const std::string& release_id,
                             const std::string& sha256) override;
  absl::Status StoreModel(const std::string& site_id, const std::string& release_id,
                          const std::string& model) override;
  absl::StatusOr<std::optional<std::string>> ModelBytes(const std::string& model_sha256) override;
  absl::Status IssueAudit(const AuditRecord& audit) override;
  absl::StatusOr<std::optional<AuditRecord>> GetAudit(const std::string& release_id) override;
  absl::Status CommitAudit(const std::string& site_id, const std::string& release_id,
                           const std::string& commitment) override;
  absl::Status RevealAudit(const std::string& site_id, const std::string& release_id,
                           const audit::InclusionBits& bits, const std::string& salt,
                           const std::vector<int64_t>& positions) override;
  absl::Status RecordVerdict(const AuditVerdictRecord& verdict) override;
  absl::StatusOr<std::optional<AuditVerdictRecord>> GetVerdict(
      const std::string& release_id) override;
  absl::Status Approve(const ApprovalRecord& approval) override;
  absl::StatusOr<std::optional<ApprovalRecord>> GetApproval(const std::string& release_id) override;
  absl::StatusOr<std::optional<ReleaseRecord>> GetRelease(const std::string& release_id) override;
  absl::Status TouchSite(const SiteSeen& seen) override;

 protected:
  // Runs `body` in one atomic, durable transaction (write-locked from its start); rolls back
  // if `body` returns an error.
  virtual absl::Status RunInTransaction(const std::function<absl::Status(Tables&)>& body) = 0;
  // Runs `body`, which only reads, on one consistent state that includes every transaction
  // committed before the call. A backend whose readers need not queue behind the writer (and
  // its fsync) overrides this; by default it is a transaction like any other.
  virtual absl::Status RunReadOnly(const std::function<absl::Status(Tables&)>& body) {
    return RunInTransaction(body);
  }

 private:
  // What `find` reads, in a read-only transaction of its own.
  template <typename T>
  absl::StatusOr<T> Read(const std::function<absl::StatusOr<T>(Tables&)>& find) {
    T value;
    RETURN_IF_ERROR(RunReadOnly([&](Tables& t) -> absl::Status {
      ASSIGN_OR_RETURN(value, find(t));
      return absl::OkStatus();
    }));
    return value;
  }
};

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_STORAGE_BACKEND_H_
