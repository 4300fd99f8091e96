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
  std::map<std::string, int64_t> last_seen;
  std::map<std::string, std::string> models;
  std::map<std::string, AuditRecord> audits;
};

class MemoryTables final : public Tables {
 public:
  explicit MemoryTables(State& s) : s_(s) {}
  absl::StatusOr<std::optional<ReleaseRecord>> FindRelease(const std::string& id) override {
    const auto it = s_.releases.find(id);
    return it == s_.releases.end() ? std::optional<ReleaseRecord>() : it->second;
  }
  absl::StatusOr<std::optional<BudgetRow>> FindBudget(const std::string& site_id,
                                                      const std::string& dataset) override {
    const auto it = s_.budgets.find({site_id, dataset});
    return it == s_.budgets.end() ? std::optional<BudgetRow>() : it->second;
  }
  absl::StatusOr<bool> ModelCharged(const std::string& site_id, const std::string& dataset,
                                    const std::string& model_sha256) override {
    for (const auto& [id, r] : s_.releases) {
      if (r.site_id == site_id && r.dataset == dataset && r.model_sha256 == model_sha256 &&
          r.model_charge_micros > 0) {
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
  absl::StatusOr<std::string> ConcatenatedChunks(const std::string& release_id) override {
    std::string out;
    for (auto it = s_.chunks.lower_bound({release_id, 0});
         it != s_.chunks.end() && it->first.first == release_id; ++it) {
      out += it->second;
    }
    return out;
  }
  absl::Status TouchSite(const std::string& site_id, int64_t now_unix) override {
    s_.last_seen[site_id] = now_unix;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> FindModel(const std::string& sha256) override {
    const auto it = s_.models.find(sha256);
    return it == s_.models.end() ? std::optional<std::string>() : it->second;
  }
  absl::Status InsertModel(const std::string& sha256, const std::string& model) override {
    s_.models[sha256] = model;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<AuditRecord>> FindAudit(const std::string& release_id) override {
    const auto it = s_.audits.find(release_id);
    return it == s_.audits.end() ? std::optional<AuditRecord>() : it->second;
  }
  absl::Status PutAudit(const AuditRecord& audit) override {
    s_.audits[audit.release_id] = audit;
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
  absl::StatusOr<std::vector<BudgetRow>> ListBudgets() override {
    std::lock_guard lock(mutex_);
    std::vector<BudgetRow> out;
    for (const auto& [key, row] : state_.budgets) out.push_back(row);
    return out;
  }
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> SitesLastSeen() override {
    std::lock_guard lock(mutex_);
    return std::vector<std::pair<std::string, int64_t>>(state_.last_seen.begin(),
                                                        state_.last_seen.end());
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
