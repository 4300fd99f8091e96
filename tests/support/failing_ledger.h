// A site ledger whose Nth write fails (a full disk, a lost file lock), for the release-order
// tests: it wraps the real SQLite ledger and counts every write across all the ledgers one
// opener hands out, so "the 3rd write of this release" means the same thing whichever step of
// the agent opened the ledger.
#ifndef FEDSYN_TESTS_SUPPORT_FAILING_LEDGER_H_
#define FEDSYN_TESTS_SUPPORT_FAILING_LEDGER_H_

#include <memory>
#include <string>

#include "site_agent/local_ledger.h"

namespace fedsyn::testing {

class LedgerFaults {
 public:
  // The write numbered `write` (0-based, from now on) fails with Unavailable; -1: none.
  void FailWrite(int64_t write) {
    fail_at_ = writes_ + write;
    failed_ = false;
  }
  int64_t writes() const { return writes_; }
  bool failed() const { return failed_; }

  // Opens the real ledger at `path` behind the fault counter (ClientOptions::open_ledger).
  absl::StatusOr<std::unique_ptr<site::LocalLedger>> Open(const std::string& path) {
    ASSIGN_OR_RETURN(std::unique_ptr<site::LocalLedger> real, site::LocalLedger::Open(path));
    return std::unique_ptr<site::LocalLedger>(new Ledger(std::move(real), *this));
  }

 private:
  class Ledger : public site::LocalLedger {
   public:
    Ledger(std::unique_ptr<site::LocalLedger> real, LedgerFaults& faults)
        : real_(std::move(real)), faults_(faults) {}

    absl::StatusOr<int64_t> BeginRelease(const std::string& release_id, const std::string& dataset,
                                         const privacy::Charge& charge, int64_t limit) override {
      RETURN_IF_ERROR(faults_.Write("BeginRelease"));
      return real_->BeginRelease(release_id, dataset, charge, limit);
    }
    absl::Status SetState(const std::string& release_id, site::SiteReleaseState state) override {
      RETURN_IF_ERROR(faults_.Write("SetState"));
      return real_->SetState(release_id, state);
    }
    absl::Status MarkGenerated(const site::LocalRelease& release) override {
      RETURN_IF_ERROR(faults_.Write("MarkGenerated"));
      return real_->MarkGenerated(release);
    }
    absl::StatusOr<int64_t> Spent(const std::string& dataset) override {
      return real_->Spent(dataset);
    }
    absl::StatusOr<std::vector<site::LocalRelease>> Releases() override {
      return real_->Releases();
    }
    absl::Status AddAuditJob(const site::AuditJobRecord& job) override {
      RETURN_IF_ERROR(faults_.Write("AddAuditJob"));
      return real_->AddAuditJob(job);
    }
    absl::StatusOr<std::optional<site::AuditJobRecord>> FindAuditJob(
        const std::string& release_id) override {
      return real_->FindAuditJob(release_id);
    }
    absl::Status SetAuditJobPositions(const std::string& release_id,
                                      const std::vector<int64_t>& positions) override {
      RETURN_IF_ERROR(faults_.Write("SetAuditJobPositions"));
      return real_->SetAuditJobPositions(release_id, positions);
    }
    absl::Status SetAuditJobState(const std::string& release_id,
                                  site::AuditJobState state) override {
      RETURN_IF_ERROR(faults_.Write("SetAuditJobState"));
      return real_->SetAuditJobState(release_id, state);
    }

   private:
    std::unique_ptr<site::LocalLedger> real_;
    LedgerFaults& faults_;
  };

  absl::Status Write(const char* what) {
    if (writes_++ != fail_at_) return absl::OkStatus();
    failed_ = true;
    return absl::UnavailableError(std::string("injected ledger failure at ") + what);
  }

  int64_t writes_ = 0;
  int64_t fail_at_ = -1;
  bool failed_ = false;
};

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_FAILING_LEDGER_H_
