// The privacy-critical order of a federated release, checked at every request the coordinator
// receives, through an in-process coordinator (tests/support/fake_connections.h) instead of
// TLS: the site's ledger is charged before the coordinator's; no output exists when the
// reservation is made (the noise is drawn after it); the output is persisted, with its hash in
// the site's ledger, before its first byte is sent; and a connection lost at any request —
// before the coordinator saw it or after, with the reply lost — leaves a state that `resume`
// completes with epsilon charged exactly once on both ledgers.
#include <filesystem>
#include <map>

#include "common/privacy/digest.h"
#include "coordinator/storage.h"
#include "gtest/gtest.h"
#include "site_agent/audit_job.h"
#include "site_agent/local_ledger.h"
#include "site_agent/submit.h"
#include "tests/support/failing_ledger.h"
#include "tests/support/fake_connections.h"
#include "tests/support/heart_data.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::site {
namespace {

using Drop = testing::InProcessCoordinator::Drop;

constexpr int64_t kLimit = 10'000'000;
constexpr double kEpsilon = 1.0;  // the marginal model's: the release's whole claim
constexpr int64_t kCharge = 1'000'000;

class SubmitOrdering : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = data::Schema::LoadFile(testing::HeartSchemaPath());
    ASSERT_TRUE(schema.ok()) << schema.status();
    config_.datasets.push_back({"heart", *schema});
  }

  // A fresh site and coordinator for one case.
  void Fresh(const std::string& name) {
    storage_ = coordinator::NewInMemoryStorage();
    ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", kLimit).ok());
    coordinator_ = std::make_unique<testing::InProcessCoordinator>("cleveland", *storage_, config_,
                                                                   canary_rng_);
    const std::string dir = testing::ScratchDir("submit_ordering_" + name);
    kit_.site_id = "cleveland";
    kit_.ledger_path = dir + "/ledger.db";
    kit_.spool_dir = dir + "/spool";
    kit_.limits_micros = {{"heart", kLimit}};
    if (on_each_case_) on_each_case_();
  }

  // Every request of a release lost, in turn, before or after the coordinator handled it.
  void DropAtEveryRequest(bool audited);
  // After a fault: resumes (twice) with everything working again, checks that the release is
  // settled with both ledgers agreeing, and says how.
  enum class Outcome { kUnstarted, kRefused, kAbandoned, kCommitted };
  Outcome ResumeAndSettle(bool audited);
  testing::LedgerFaults faults_;
  std::function<void()> on_each_case_;  // runs in each fresh case (installs request checks)

  ClientOptions Options() {
    ClientOptions options;
    options.dial = coordinator_->Dialer();
    options.open_ledger = [this](const std::string& path) { return faults_.Open(path); };
    options.connect_attempts = 1;
    options.backoff_base = std::chrono::milliseconds(1);
    options.chunk_bytes = 4096;  // several chunks: drops can fall between them
    return options;
  }

  // An audited release opens its audit job first (canaries, commitment), as `audit-job` does.
  absl::StatusOr<SubmitSummary> Submit(bool audited = false) {
    std::string job_id;
    if (audited) {
      ASSIGN_OR_RETURN(const AuditJobRecord job, OpenAuditJob(kit_, "heart", site_rng_, Options()));
      job_id = job.release_id;
    }
    MarginalSynthesisRequest request;
    request.input_csv = testing::HeartFile("cleveland");
    request.schema_path = testing::HeartSchemaPath();
    request.epsilon = kEpsilon;
    return SubmitMarginalSynthesis(request, job_id, kit_, "heart", site_rng_, Options());
  }

  std::unique_ptr<LocalLedger> Ledger() { return *LocalLedger::Open(kit_.ledger_path); }

  coordinator::CoordinatorConfig config_;
  std::unique_ptr<coordinator::Storage> storage_;
  std::unique_ptr<testing::InProcessCoordinator> coordinator_;
  SiteKit kit_;
  testing::SeededRandom canary_rng_{1};
  testing::SeededRandom site_rng_{2};
};

TEST_F(SubmitOrdering, LedgerThenReservationThenNoiseThenSpoolThenUpload) {
  Fresh("order");
  int checks = 0;
  coordinator_->on_request = [&](const protocol::SiteRequest& request) {
    const std::string kind = testing::RequestKind(request);
    if (kind != "reserve" && kind != "uploadChunk") return;
    const std::vector<LocalRelease> local = *Ledger()->Releases();
    ASSERT_EQ(local.size(), 1u) << "the site's ledger is charged before the coordinator's";
    const std::string spool = kit_.spool_dir + "/" + local[0].release_id + ".csv";
    if (kind == "reserve") {
      EXPECT_EQ(local[0].state, SiteReleaseState::kReserving);
      EXPECT_EQ(*Ledger()->Spent("heart"), kCharge);
      EXPECT_FALSE(std::filesystem::exists(spool)) << "no output before the reservation";
    } else {
      EXPECT_EQ(local[0].state, SiteReleaseState::kGenerated) << "persisted before any byte";
      ASSERT_TRUE(std::filesystem::exists(spool));
      EXPECT_EQ(local[0].sha256, privacy::Sha256Hex(*SpoolRows(spool)));
    }
    ++checks;
  };
  auto summary = Submit();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->committed);
  const std::vector<std::string>& handled = coordinator_->handled();
  ASSERT_GE(handled.size(), 6u);
  EXPECT_EQ(handled[0], "hello");
  EXPECT_EQ(handled[1], "reserve");
  EXPECT_EQ(handled[2], "hello") << "a new session after generation";
  EXPECT_EQ(handled.back(), "commit");
  EXPECT_GE(checks, 3) << "one reservation and at least two chunks were checked";
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, kCharge);
  EXPECT_EQ(*Ledger()->Spent("heart"), kCharge);
}

// Every request of a release, lost before or after the coordinator handled it: whatever the
// submit reports, `resume` settles the release — committed with the spooled bytes, or not
// reserved anywhere, or reserved and abandoned — and both ledgers hold the same charge, once.
void SubmitOrdering::DropAtEveryRequest(bool audited) {
  config_.datasets[0].audit_canaries = audited ? 20 : 0;
  Fresh("count");
  ASSERT_TRUE(Submit(audited).ok());
  const int64_t frames = static_cast<int64_t>(coordinator_->frames().size());
  ASSERT_GE(frames, 6);
  std::map<Outcome, int> outcomes;
  for (int64_t frame = 0; frame < frames; ++frame) {
    for (const Drop when : {Drop::kBeforeHandling, Drop::kAfterHandling}) {
      const std::string name = std::to_string(frame) + (when == Drop::kAfterHandling ? "a" : "b");
      SCOPED_TRACE("drop at frame " + name);
      Fresh(name);
      coordinator_->DropAtFrame(frame, when);
      const absl::StatusOr<SubmitSummary> submitted = Submit(audited);
      EXPECT_TRUE(coordinator_->dropped());
      EXPECT_FALSE(submitted.ok() && submitted->committed) << "a lost request is reported";
      ++outcomes[ResumeAndSettle(audited)];
    }
  }
  // A drop in the first hello, before the reservation arrives, after it was granted, and during
  // the upload: each outcome occurs.
  for (const Outcome outcome :
       {Outcome::kUnstarted, Outcome::kRefused, Outcome::kAbandoned, Outcome::kCommitted})
    EXPECT_GT(outcomes[outcome], 0) << static_cast<int>(outcome);
}

SubmitOrdering::Outcome SubmitOrdering::ResumeAndSettle(bool audited) {
  // The connection and the ledger work again; resume twice (the second finds nothing to do).
  faults_.FailWrite(-1);
  coordinator_->DropAtFrame(-1, Drop::kBeforeHandling);
  EXPECT_TRUE(ResumePending(kit_, Options(), [] { return 0.5; }).ok());
  EXPECT_EQ(*ResumePending(kit_, Options(), [] { return 0.5; }), 0);

  // A chunk sent again (after the fault, by resume) carries the same bytes as before.
  std::map<uint32_t, std::string> chunks;
  for (const std::string& frame : coordinator_->frames()) {
    const auto request = protocol::DecodeSiteRequest(frame);
    EXPECT_TRUE(request.ok());
    if (const auto* chunk = std::get_if<protocol::UploadChunk>(&*request)) {
      const auto [known, fresh] = chunks.emplace(chunk->index, chunk->rows);
      EXPECT_TRUE(fresh || known->second == chunk->rows) << "chunk " << chunk->index;
    }
  }
  const std::vector<LocalRelease> local = *Ledger()->Releases();
  const int64_t coordinator_spent = storage_->ListBudgets()->at(0).spent_micros;
  if (local.empty()) {  // failed before the site's ledger charged anything: nothing anywhere
    EXPECT_TRUE(storage_->ListReleases()->empty());
    EXPECT_EQ(coordinator_spent, 0);
    return Outcome::kUnstarted;
  }
  EXPECT_EQ(local.size(), 1u);
  const auto remote = storage_->GetRelease(local[0].release_id);
  EXPECT_TRUE(remote.ok());
  EXPECT_EQ(*Ledger()->Spent("heart"), coordinator_spent) << "both ledgers agree";
  switch (local[0].state) {
    case SiteReleaseState::kCommitted:
      EXPECT_TRUE(remote->has_value());
      if (!remote->has_value()) return Outcome::kCommitted;
      EXPECT_EQ((*remote)->status, coordinator::ReleaseStatus::kCommitted);
      EXPECT_EQ((*remote)->sha256, local[0].sha256) << "the spooled bytes, once";
      EXPECT_EQ(*storage_->ReleaseContent(local[0].release_id),
                *SpoolRows(kit_.spool_dir + "/" + local[0].release_id + ".csv"));
      EXPECT_EQ(coordinator_spent, kCharge);
      if (audited) {  // revealed by resume when the submit did not get that far
        EXPECT_EQ((**storage_->GetAudit(local[0].release_id)).state, audit::AuditState::kRevealed);
        EXPECT_EQ((**Ledger()->FindAuditJob(local[0].release_id)).state, AuditJobState::kRevealed);
      }
      return Outcome::kCommitted;
    case SiteReleaseState::kRefused:
      EXPECT_FALSE(remote->has_value()) << "never reserved at the coordinator";
      EXPECT_EQ(coordinator_spent, 0);
      return Outcome::kRefused;
    case SiteReleaseState::kAbandoned:
      EXPECT_TRUE(remote->has_value()) << "reserved: its charge stays spent";
      if (remote->has_value()) {
        EXPECT_EQ((*remote)->status, coordinator::ReleaseStatus::kReserved)
            << "an output the site's ledger never recorded is never sent";
      }
      EXPECT_EQ(coordinator_spent, kCharge);
      return Outcome::kAbandoned;
    default:
      ADD_FAILURE() << "resume left the release " << SiteReleaseStateName(local[0].state);
      return Outcome::kUnstarted;
  }
}

TEST_F(SubmitOrdering, ADropAtAnyRequestLeavesAStateResumeCompletesChargingOnce) {
  DropAtEveryRequest(/*audited=*/false);
}

// The same with a canary audit: its job is opened and committed first; the reveal comes only
// after the release's commit (checked as each reveal arrives) and resume delivers it.
TEST_F(SubmitOrdering, AnAuditedReleaseRevealsOnlyAfterItsCommitWhereverItDrops) {
  int reveals = 0;
  on_each_case_ = [&] {
    coordinator_->on_request = [&](const protocol::SiteRequest& request) {
      const auto* reveal = std::get_if<protocol::CanaryReveal>(&request);
      if (reveal == nullptr) return;
      ++reveals;
      const auto release = storage_->GetRelease(reveal->release_id);
      ASSERT_TRUE(release.ok() && release->has_value());
      EXPECT_EQ((**release).status, coordinator::ReleaseStatus::kCommitted)
          << "a reveal before the commit would show the canaries' rows too early";
    };
  };
  DropAtEveryRequest(/*audited=*/true);
  EXPECT_GT(reveals, 0);
}

// The site's ledger failing at each of its writes in turn (an audited release: the job's
// writes too). The write that failed is never worked around: a reservation is sent only after
// the site's ledger recorded the charge, an output only after its hash was recorded, and resume
// settles what is left with both ledgers agreeing.
TEST_F(SubmitOrdering, AFailedLedgerWriteAtAnyStepIsSettledWithBothLedgersAgreeing) {
  config_.datasets[0].audit_canaries = 20;
  Fresh("ledger_count");
  ASSERT_TRUE(Submit(/*audited=*/true).ok());
  const int64_t writes = faults_.writes();
  ASSERT_GE(writes, 6) << "job, job positions, charge, generated, committed, revealed";
  std::map<Outcome, int> outcomes;
  for (int64_t write = 0; write < writes; ++write) {
    SCOPED_TRACE("ledger write " + std::to_string(write) + " fails");
    Fresh("ledger_" + std::to_string(write));
    faults_.FailWrite(write);
    coordinator_->on_request = [&](const protocol::SiteRequest& request) {
      const std::vector<LocalRelease> local = *Ledger()->Releases();
      if (std::holds_alternative<protocol::Reserve>(request)) {
        EXPECT_EQ(local.size(), 1u) << "the site's ledger charged first";
      }
      if (std::holds_alternative<protocol::UploadChunk>(request)) {
        ASSERT_EQ(local.size(), 1u);
        EXPECT_EQ(local[0].state, SiteReleaseState::kGenerated) << "recorded before it is sent";
      }
    };
    const absl::StatusOr<SubmitSummary> submitted = Submit(/*audited=*/true);
    EXPECT_TRUE(faults_.failed());
    EXPECT_FALSE(submitted.ok()) << "a failed ledger write is reported";
    ++outcomes[ResumeAndSettle(/*audited=*/true)];
  }
  // Before any charge (the job's writes, the charge itself), after the reservation but before
  // the output was recorded (abandoned: reserved, charge kept, never sent), and after.
  EXPECT_GT(outcomes[Outcome::kUnstarted], 0);
  EXPECT_GT(outcomes[Outcome::kAbandoned], 0);
  EXPECT_GT(outcomes[Outcome::kCommitted], 0);
}

}  // namespace
}  // namespace fedsyn::site
