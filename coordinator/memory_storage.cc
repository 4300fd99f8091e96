// Volatile storage for tests: the same ledger rules (LedgerStorage) over maps. A transaction
// works on a copy of the state and replaces it on success, so a failed body changes nothing.
#include <map>
#include <mutex>

#include "coordinator/storage_backend.h"

namespace fedsyn::coordinator {
namespace {

struct State {
  std::map<std::pair<std::string, std::string>, BudgetRow> budgets;
  std::map<std::string, ReleaseRecord> releases;
  std::map<std::pair<std::string, uint32_t>, std::string> chunks;
  std::map<std::string, SiteSeen> seen;  // by site id
  std::map<std::string, std::string> models;
  std::map<std::string, AuditRecord> audits;
  std::map<std::string, AuditVerdictRecord> verdicts;
  std::map<std::string, ApprovalRecord> approvals;
};

template <typename Record>
std::optional<Record> Lookup(const std::map<std::string, Record>& rows, const std::string& key) {
  const auto it = rows.find(key);
  return it == rows.end() ? std::optional<Record>() : it->second;
}

class MemoryTables final : public Tables {
 public:
  explicit MemoryTables(State& s) : s_(s) {}
  absl::StatusOr<std::optional<ReleaseRecord>> FindRelease(const std::string& id) override {
    return Lookup(s_.releases, id);
  }
  absl::StatusOr<std::optional<BudgetRow>> FindBudget(const std::string& site_id,
                                                      const std::string& dataset) override {
    const auto it = s_.budgets.find({site_id, dataset});
    return it == s_.budgets.end() ? std::optional<BudgetRow>() : it->second;
  }
  absl::StatusOr<bool> ModelCharged(const std::string& site_id, const std::string& dataset,
                                    const std::string& model_sha256) override {
    for (const auto& [id, r] : s_.releases) {
      if (r.site_id == site_id && r.dataset == dataset && r.charge.model_sha256 == model_sha256 &&
          r.model_paid_micros > 0) {
        return true;
      }
    }
    return false;
  }
  absl::Status UpsertBudget(const BudgetRow& row) override {
    s_.budgets[{row.site_id, row.dataset}] = row;
    return absl::OkStatus();
  }
  absl::Status InsertRelease(const ReleaseRecord& record) override {
    if (!s_.releases.emplace(record.release_id, record).second) {
      return absl::InternalError("duplicate release id");
    }
    return absl::OkStatus();
  }
  absl::Status UpdateRelease(const ReleaseRecord& record) override {
    s_.releases[record.release_id] = record;
    return absl::OkStatus();
  }
  absl::Status InsertChunk(const std::string& release_id, uint32_t index,
                           const std::string& rows) override {
    s_.chunks[{release_id, index}] = rows;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> FindChunk(const std::string& release_id,
                                                       uint32_t index) override {
    const auto it = s_.chunks.find({release_id, index});
    if (it == s_.chunks.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<std::string> ConcatenatedChunks(const std::string& release_id) override {
    std::string out;
    for (auto it = s_.chunks.lower_bound({release_id, 0});
         it != s_.chunks.end() && it->first.first == release_id; ++it) {
      out += it->second;
    }
    return out;
  }
  absl::Status TouchSite(const SiteSeen& seen) override {
    s_.seen[seen.site_id] = seen;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> FindModel(const std::string& sha256) override {
    return Lookup(s_.models, sha256);
  }
  absl::Status InsertModel(const std::string& sha256, const std::string& model) override {
    s_.models[sha256] = model;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<AuditRecord>> FindAudit(const std::string& release_id) override {
    return Lookup(s_.audits, release_id);
  }
  absl::Status PutAudit(const AuditRecord& audit) override {
    s_.audits[audit.release_id] = audit;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<AuditVerdictRecord>> FindVerdict(
      const std::string& release_id) override {
    return Lookup(s_.verdicts, release_id);
  }
  absl::Status PutVerdict(const AuditVerdictRecord& verdict) override {
    s_.verdicts[verdict.release_id] = verdict;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<ApprovalRecord>> FindApproval(
      const std::string& release_id) override {
    return Lookup(s_.approvals, release_id);
  }
  absl::Status InsertApproval(const ApprovalRecord& approval) override {
    if (!s_.approvals.emplace(approval.release_id, approval).second)
      return absl::InternalError("duplicate approval");
    return absl::OkStatus();
  }

 private:
  State& s_;
};

class MemoryStorage final : public LedgerStorage {
 public:
  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases() override {
    std::lock_guard lock(mutex_);
    std::vector<ReleaseRecord> out;
    for (const auto& [id, r] : state_.releases) out.push_back(r);
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.created_unix < b.created_unix; });
    return out;
  }
  absl::StatusOr<std::vector<AuditRecord>> ListAudits() override {
    std::lock_guard lock(mutex_);
    std::vector<AuditRecord> out;
    for (const auto& [id, a] : state_.audits) out.push_back(a);
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.created_unix < b.created_unix; });
    return out;
  }
  absl::StatusOr<std::vector<BudgetRow>> ListBudgets() override {
    std::lock_guard lock(mutex_);
    std::vector<BudgetRow> out;
    for (const auto& [key, row] : state_.budgets) out.push_back(row);
    return out;
  }
  absl::StatusOr<std::vector<SiteSeen>> SitesSeen() override {
    std::lock_guard lock(mutex_);
    std::vector<SiteSeen> out;
    for (const auto& [id, seen] : state_.seen) out.push_back(seen);
    return out;
  }

 protected:
  absl::Status RunInTransaction(const std::function<absl::Status(Tables&)>& body) override {
    std::lock_guard lock(mutex_);
    State working = state_;
    MemoryTables tables(working);
    RETURN_IF_ERROR(body(tables));
    state_ = std::move(working);
    return absl::OkStatus();
  }

 private:
  std::mutex mutex_;
  State state_;
};

}  // namespace

std::unique_ptr<Storage> NewInMemoryStorage() { return std::make_unique<MemoryStorage>(); }

}  // namespace fedsyn::coordinator
