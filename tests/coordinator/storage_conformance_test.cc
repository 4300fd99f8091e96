// One conformance suite for every Storage backend (style: leveldb/flower): the same ledger
// semantics must hold in memory and on SQLite.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/audit/canary_protocol.h"
#include "common/postgres/postgres.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "coordinator/storage.h"
#include "gtest/gtest.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/test_paths.h"

namespace fedsyn::coordinator {
namespace {

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Storage>(const std::string& dir)> open;
  // Empty when the backend can run here; otherwise why not (the test is skipped saying so).
  std::function<std::string()> unavailable = [] { return std::string(); };
};

void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

// A fresh database on this process's throwaway PostgreSQL cluster.
std::unique_ptr<Storage> OpenFreshPostgres() {
  std::string why;
  testing::PostgresCluster* cluster = testing::PostgresCluster::Shared(&why);
  if (cluster == nullptr) return nullptr;
  const std::string db = cluster->NewDatabase("conformance");
  EXPECT_FALSE(db.empty()) << "createdb failed";
  auto s = OpenPostgresStorage(cluster->Uri(db));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string PostgresUnavailable() {
  std::string why;
  return testing::PostgresCluster::Shared(&why) == nullptr ? why : "";
}

class StorageConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (const std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
    dir_ = testing::ScratchDir(std::string("storage_") + GetParam().name + "_" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    storage_ = GetParam().open(dir_);
    ASSERT_NE(storage_, nullptr);
    ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 10'000'000).ok());
  }
  ReservationRequest Request(const std::string& id, int64_t charge,
                             const std::string& site = "cleveland") {
    return {site, "heart", id, {charge, false}, 303, privacy::ReleaseMode::kSynthetic, 1000};
  }
  std::string dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_P(StorageConformance, ReservesWithinTheLimitAndRefusesBeyondWithTheRemainder) {
  auto first = storage_->Reserve(Request("r1", 6'000'000));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->granted);
  EXPECT_EQ(first->remaining_micros, 4'000'000);
  auto second = storage_->Reserve(Request("r2", 6'000'000));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->granted);
  EXPECT_EQ(second->remaining_micros, 4'000'000);
  EXPECT_FALSE(storage_->GetRelease("r2")->has_value());  // nothing recorded, nothing charged
  auto third = storage_->Reserve(Request("r3", 4'000'000));
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->granted);
  EXPECT_EQ(third->remaining_micros, 0);
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 10'000'000);
}

TEST_P(StorageConformance, ReplayedReservationsNeverChargeTwice) {
  ASSERT_TRUE(storage_->Reserve(Request("r1", 3'000'000))->granted);
  auto replay = storage_->Reserve(Request("r1", 3'000'000));
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 3'000'000);
  EXPECT_EQ(storage_->Reserve(Request("r1", 2'000'000)).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(storage_->SetLimit("va", "heart", 10'000'000).ok());
  EXPECT_EQ(storage_->Reserve(Request("r1", 3'000'000, "va")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(storage_->Reserve(Request("r9", 1, "nowhere")).status().code(),
            absl::StatusCode::kNotFound);
}

// A replay must be the same reservation in every field: a reused id with another model, mode,
// row count or model guarantee would spend under the first release's grant.
TEST_P(StorageConformance, ReplayMustMatchEveryFieldOfTheReservation) {
  auto private_request = [this] {
    ReservationRequest r = Request("r1", 1'000'000);
    r.charge.model_private = true;
    r.charge.model_sha256 = "model-a";
    r.charge.model_micros = 2'000'000;
    r.charge.model_delta = 1e-6;
    r.relation = "replace-one (n public)";
    r.mechanism = "l2 0x1p-1 0x1.8p+1 -11 8";
    return r;
  };
  ASSERT_TRUE(storage_->Reserve(private_request())->granted);
  const std::vector<std::pair<const char*, std::function<void(ReservationRequest&)>>> changes = {
      {"mode", [](ReservationRequest& r) { r.mode = privacy::ReleaseMode::kCodes; }},
      {"rows", [](ReservationRequest& r) { r.rows = 304; }},
      {"model", [](ReservationRequest& r) { r.charge.model_sha256 = "model-b"; }},
      {"model epsilon", [](ReservationRequest& r) { r.charge.model_micros = 1; }},
      {"model delta", [](ReservationRequest& r) { r.charge.model_delta = 1e-3; }},
      {"model privacy",
       [](ReservationRequest& r) {
         r.charge.model_private = false;  // and so no model epsilon or delta
         r.charge.model_micros = 0;
         r.charge.model_delta = 0;
       }},
      {"relation", [](ReservationRequest& r) { r.relation = "add/remove one"; }},
      {"mechanism", [](ReservationRequest& r) { r.mechanism = "l2 0x1p+0 0x1.8p+1 -11 8"; }},
  };
  for (const auto& [what, change] : changes) {
    ReservationRequest changed = private_request();
    change(changed);
    EXPECT_EQ(storage_->Reserve(changed).status().code(), absl::StatusCode::kAlreadyExists) << what;
  }
  auto replay = storage_->Reserve(private_request());
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->replayed);
  const auto stored = **storage_->GetRelease("r1");
  EXPECT_EQ(stored.relation, "replace-one (n public)");
  EXPECT_EQ(stored.mechanism, "l2 0x1p-1 0x1.8p+1 -11 8");
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 3'000'000);
}

// Both ledgers apply privacy::Charge::Validate and the once-per-model rule (privacy): a charge
// no honest site sends is refused with nothing spent, and a model's epsilon is paid once.
TEST_P(StorageConformance, RefusesInvalidChargesAndChargesAModelOnce) {
  ReservationRequest clear_with_epsilon = Request("bad1", 1'000'000);
  clear_with_epsilon.charge.model_micros = 5'000'000;  // not private, yet an epsilon
  ReservationRequest anonymous_model = Request("bad2", 1'000'000);
  anonymous_model.charge.model_private = true;
  anonymous_model.charge.model_micros = 5'000'000;  // private, but no model to charge once
  for (const ReservationRequest& bad : {clear_with_epsilon, anonymous_model})
    EXPECT_EQ(storage_->Reserve(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad.release_id;
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 0);
  for (const char* id : {"a", "b"}) {
    ReservationRequest r = Request(id, 1'000'000);
    r.charge.model_private = true;
    r.charge.model_sha256 = "model-a";
    r.charge.model_micros = 2'000'000;
    auto reserved = storage_->Reserve(r);
    ASSERT_TRUE(reserved.ok() && reserved->granted) << reserved.status();
    EXPECT_EQ(reserved->charged_micros, std::string(id) == "a" ? 3'000'000 : 1'000'000) << id;
  }
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 4'000'000);
}

// Nothing beyond the reserved rows is stored (issue #12, F7).
// Issue #12 F2: random reservation sequences with extreme values (negative, zero, beyond the
// maximum, INT64_MAX, replays with other fields) never leave spent below 0 or above the limit,
// and spent always equals the sum of what was granted.
TEST_P(StorageConformance, RandomReservationsNeverLeaveTheBudgetRange) {
  std::mt19937_64 rng(20261130);
  const std::vector<int64_t> extremes = {-1,
                                         0,
                                         1,
                                         999'999,
                                         3'000'000,
                                         privacy::kMaxChargeMicros,
                                         privacy::kMaxChargeMicros + 1,
                                         INT64_MAX,
                                         INT64_MIN};
  auto pick = [&] {
    return rng() % 3 == 0 ? static_cast<int64_t>(rng() % 4'000'000)
                          : extremes[rng() % extremes.size()];
  };
  int64_t granted_total = 0;
  std::map<std::string, int64_t> charged;
  for (int i = 0; i < 400; ++i) {
    ReservationRequest r = Request("q" + std::to_string(rng() % 60), pick());
    r.charge.model_private = rng() % 2 == 0;
    r.charge.model_sha256 = "m" + std::to_string(rng() % 4);
    r.charge.model_micros = pick();
    r.charge.model_delta = 1e-6;
    auto result = storage_->Reserve(r);
    if (result.ok() && result->granted && !result->replayed) {
      granted_total += result->charged_micros;
      charged[r.release_id] = result->charged_micros;
    }
    const int64_t spent = storage_->ListBudgets()->at(0).spent_micros;
    ASSERT_GE(spent, 0) << "step " << i;
    ASSERT_LE(spent, 10'000'000) << "step " << i;
    ASSERT_EQ(spent, granted_total) << "step " << i;
  }
  EXPECT_GT(charged.size(), 0u) << "the sequence must grant something";
}

TEST_P(StorageConformance, ChunksCannotCarryMoreRowsThanReserved) {
  ASSERT_TRUE(storage_->Reserve(Request("r1", 1))->granted);  // 303 rows reserved
  EXPECT_EQ(storage_->AppendChunk("cleveland", "r1", 0, "a\n", 304).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*storage_->AppendChunk("cleveland", "r1", 0, "a\n", 300), 1u);
  EXPECT_EQ(storage_->AppendChunk("cleveland", "r1", 1, "b\n", 4).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*storage_->AppendChunk("cleveland", "r1", 1, "b\n", 3), 2u);
  EXPECT_EQ((*storage_->GetRelease("r1"))->rows_received, 303);
  EXPECT_EQ(*storage_->ReleaseContent("r1"), "a\nb\n");
}

TEST_P(StorageConformance, ChunksAppendInOrderRetransmissionsAreHarmless) {
  ASSERT_TRUE(storage_->Reserve(Request("r1", 1))->granted);
  EXPECT_EQ(*storage_->AppendChunk("cleveland", "r1", 0, "a\n", 1), 1u);
  EXPECT_EQ(*storage_->AppendChunk("cleveland", "r1", 0, "a\n", 1), 1u);  // retransmitted
  EXPECT_EQ(storage_->AppendChunk("cleveland", "r1", 0, "z\n", 1).status().code(),
            absl::StatusCode::kAlreadyExists)
      << "other bytes under an acknowledged index are refused, not dropped";
  EXPECT_EQ(storage_->AppendChunk("cleveland", "r1", 2, "c\n", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*storage_->AppendChunk("cleveland", "r1", 1, "b\n", 1), 2u);
  EXPECT_EQ(*storage_->ReleaseContent("r1"), "a\nb\n");
  EXPECT_EQ((*storage_->GetRelease("r1"))->rows_received, 2);
  EXPECT_EQ(storage_->AppendChunk("va", "r1", 2, "x\n", 1).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(storage_->MarkCommitted("cleveland", "r1", "hash").ok());
  EXPECT_TRUE(storage_->MarkCommitted("cleveland", "r1", "hash").ok());  // idempotent
  EXPECT_EQ(storage_->MarkCommitted("cleveland", "r1", "other").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage_->AppendChunk("cleveland", "r1", 2, "c\n", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*storage_->GetRelease("r1"))->status, ReleaseStatus::kCommitted);
}

// 64 threads race for one limit of 10 epsilon with charges of 1 epsilon: exactly 10 win.
TEST_P(StorageConformance, ConcurrentReservationsNeverOverspend) {
  std::atomic<int> granted = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&, i] {
      auto result = storage_->Reserve(Request("c" + std::to_string(i), 1'000'000));
      if (result.ok() && result->granted) ++granted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 10);
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 10'000'000);
  EXPECT_EQ(storage_->ListReleases()->size(), 10u);
}

TEST_P(StorageConformance, APrivateModelsEpsilonIsChargedOnItsFirstReleaseOnly) {
  auto with_model = [&](const std::string& id, const std::string& model) {
    ReservationRequest r = Request(id, 1'000'000);
    r.charge.model_private = true;
    r.charge.model_sha256 = model;
    r.charge.model_micros = 2'000'000;
    r.charge.model_delta = 1e-5;
    return storage_->Reserve(r);
  };
  auto first = with_model("r1", "model-a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->charged_micros, 3'000'000);
  EXPECT_EQ(with_model("r2", "model-a")->charged_micros, 1'000'000) << "same model: release only";
  // Either way the release keeps the model's claim: the audit holds it against epsilon_model +
  // epsilon_release.
  for (const char* id : {"r1", "r2"}) {
    const auto stored = storage_->GetRelease(id);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->charge.model_micros, 2'000'000) << id;
    EXPECT_EQ((*stored)->charge.model_delta, 1e-5) << id;
  }
  EXPECT_EQ(with_model("r1", "model-a")->charged_micros, 3'000'000)
      << "a replay reports what it charged";
  EXPECT_EQ(with_model("r3", "model-b")->charged_micros, 3'000'000) << "another model pays again";
  EXPECT_EQ(storage_->ListBudgets()->at(0).spent_micros, 7'000'000);
  // A release that would not fit does not mark the model as paid for.
  auto refused = with_model("r4", "model-c");  // needs 3, 3 remain: fits
  ASSERT_TRUE(refused->granted);
  auto over = with_model("r5", "model-d");
  EXPECT_FALSE(over->granted);
  ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 20'000'000).ok());
  EXPECT_EQ(with_model("r6", "model-d")->charged_micros, 3'000'000);
  ReservationRequest anonymous = Request("r7", 1);
  anonymous.charge.model_private = true;
  anonymous.charge.model_micros = 5;
  EXPECT_EQ(storage_->Reserve(anonymous).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StorageConformance, StoresACodesReleasesDecoderOnlyWhenItIsTheReservedModel) {
  const std::string model = std::string("decoder bytes \0 with a zero", 28);
  ReservationRequest codes = Request("r1", 1'000'000);
  codes.mode = privacy::ReleaseMode::kCodes;
  codes.charge.model_private = true;
  codes.charge.model_sha256 = privacy::Sha256Hex(model);
  codes.charge.model_micros = 1'000'000;
  ASSERT_TRUE(storage_->Reserve(codes)->granted);
  ASSERT_TRUE(storage_->Reserve(Request("r2", 1'000'000))->granted);  // synthetic

  EXPECT_EQ(storage_->StoreModel("cleveland", "r1", "other bytes").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage_->StoreModel("cleveland", "r2", model).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(storage_->StoreModel("va", "r1", model).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(storage_->StoreModel("cleveland", "r9", model).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(storage_->ModelBytes(codes.charge.model_sha256)->has_value());

  ASSERT_TRUE(storage_->StoreModel("cleveland", "r1", model).ok());
  ASSERT_TRUE(storage_->StoreModel("cleveland", "r1", model).ok()) << "a replay is harmless";
  auto stored = storage_->ModelBytes(codes.charge.model_sha256);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, model) << "binary-safe";
}

TEST_P(StorageConformance, CanaryAuditsGoIssuedCommittedThenRevealedOrInvalid) {
  const audit::InclusionBits bits = {false, true};  // 4 canaries: 2 pairs
  const std::string salt = std::string(64, 'a');
  const std::string commitment = audit::CommitToBits(bits, salt);
  // Where this salt puts 2 canaries in a release of 5 rows.
  const std::vector<int64_t> positions = audit::CanaryPositions(salt, 5, 2);
  for (const char* id : {"r1", "r2"}) {
    AuditRecord audit;
    audit.release_id = id;
    audit.site_id = "cleveland";
    audit.dataset = "heart";
    audit.canaries = "1,2\n3,4\n5,6\n7,8\n";
    audit.count = 4;
    ASSERT_TRUE(storage_->IssueAudit(audit).ok());
    EXPECT_EQ(storage_->IssueAudit(audit).code(), absl::StatusCode::kAlreadyExists);
    audit.site_id = "va";
    EXPECT_EQ(storage_->IssueAudit(audit).code(), absl::StatusCode::kPermissionDenied)
        << "another site's audit id";
  }
  // Canaries for an id already reserved could not have been in its model: refused.
  ASSERT_TRUE(storage_->Reserve(Request("r0", 1'000'000))->granted);
  AuditRecord late;
  late.release_id = "r0";
  late.site_id = "cleveland";
  late.dataset = "heart";
  late.count = 1;
  EXPECT_EQ(storage_->IssueAudit(late).code(), absl::StatusCode::kFailedPrecondition);

  auto issued = storage_->GetAudit("r1");
  ASSERT_TRUE(issued.ok() && issued->has_value());
  EXPECT_EQ((*issued)->state, AuditState::kIssued);
  EXPECT_EQ((*issued)->dataset, "heart");
  EXPECT_EQ((*issued)->canaries, "1,2\n3,4\n5,6\n7,8\n");
  EXPECT_EQ(storage_->Reserve(Request("r1", 1'000'000)).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "no reservation before the commitment";
  EXPECT_EQ(storage_->CommitAudit("cleveland", "r1", "not hex").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage_->CommitAudit("va", "r1", commitment).code(), absl::StatusCode::kNotFound)
      << "another site's audit looks like none";
  ASSERT_TRUE(storage_->CommitAudit("cleveland", "r1", commitment).ok());
  EXPECT_TRUE(storage_->CommitAudit("cleveland", "r1", commitment).ok()) << "a replay";
  EXPECT_EQ(storage_->CommitAudit("cleveland", "r1", std::string(64, 'b')).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage_->Reserve(Request("r1", 1'000'000, "va")).status().code(),
            absl::StatusCode::kNotFound)
      << "va has no budget here at all";
  ASSERT_TRUE(storage_->Reserve(Request("r1", 1'000'000))->granted);
  ASSERT_TRUE(storage_->AppendChunk("cleveland", "r1", 0, "a\nb\nc\nd\ne\n", 5).ok());
  EXPECT_EQ(storage_->RevealAudit("cleveland", "r1", bits, salt, positions).code(),
            absl::StatusCode::kFailedPrecondition)
      << "not before the release is committed";
  ASSERT_TRUE(storage_->MarkCommitted("cleveland", "r1", "h").ok());
  ASSERT_TRUE(storage_->RevealAudit("cleveland", "r1", bits, salt, positions).ok());
  EXPECT_TRUE(storage_->RevealAudit("cleveland", "r1", bits, salt, positions).ok()) << "a replay";
  EXPECT_EQ((*storage_->GetAudit("r1"))->state, AuditState::kRevealed);
  EXPECT_EQ((*storage_->GetAudit("r1"))->bits, bits);
  EXPECT_EQ((*storage_->GetAudit("r1"))->positions, positions);
  ASSERT_EQ(storage_->ListAudits()->size(), 2u);

  // A reveal that does not match its commitment: refused and the audit marked invalid.
  ASSERT_TRUE(storage_->CommitAudit("cleveland", "r2", commitment).ok());
  ASSERT_TRUE(storage_->Reserve(Request("r2", 1'000'000))->granted);
  ASSERT_TRUE(storage_->AppendChunk("cleveland", "r2", 0, "a\nb\nc\n", 3).ok());
  ASSERT_TRUE(storage_->MarkCommitted("cleveland", "r2", "h").ok());
  EXPECT_EQ(storage_->RevealAudit("cleveland", "r2", {true, true}, salt, {0, 1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*storage_->GetAudit("r2"))->state, AuditState::kInvalid);
  EXPECT_EQ(storage_->RevealAudit("cleveland", "r2", bits, salt, {0, 1}).code(),
            absl::StatusCode::kFailedPrecondition)
      << "an invalid audit stays invalid";
}

TEST_P(StorageConformance, RevealedPositionsMustBeThoseTheCommittedSaltDetermines) {
  const audit::InclusionBits bits = {false, true};  // 4 canaries: 2 pairs
  const std::string salt = std::string(64, 'c');
  const std::vector<int64_t> right = audit::CanaryPositions(salt, 5, 2);
  ASSERT_EQ(right.size(), 2u);
  // Too few, too many, out of order, beyond the release, none; then every other pair.
  std::vector<std::vector<int64_t>> wrong = {{1}, {1, 2, 3}, {2, 1}, {1, 5}, {}};
  for (const std::vector<int64_t>& candidate :
       std::vector<std::vector<int64_t>>{{0, 1}, {0, 2}, {1, 2}, {3, 4}, {0, 4}}) {
    if (candidate != right) wrong.push_back(candidate);
  }
  int case_number = 0;
  for (const std::vector<int64_t>& positions : wrong) {
    const std::string id = "p" + std::to_string(case_number++);
    AuditRecord audit{id, "cleveland", "heart", "1\n2\n3\n4\n", 4};
    ASSERT_TRUE(storage_->IssueAudit(audit).ok());
    ASSERT_TRUE(storage_->CommitAudit("cleveland", id, audit::CommitToBits(bits, salt)).ok());
    ASSERT_TRUE(storage_->Reserve(Request(id, 100'000))->granted);
    ASSERT_TRUE(storage_->AppendChunk("cleveland", id, 0, "a\nb\nc\nd\ne\n", 5).ok());
    ASSERT_TRUE(storage_->MarkCommitted("cleveland", id, "h").ok());
    EXPECT_EQ(storage_->RevealAudit("cleveland", id, bits, salt, positions).code(),
              absl::StatusCode::kInvalidArgument)
        << "'" << audit::JoinPositions(positions) << "'";
    EXPECT_EQ((*storage_->GetAudit(id))->state, AuditState::kInvalid)
        << audit::JoinPositions(positions);
  }
}

// A model-only release's canaries trained its model: no row of it is theirs, so its reveal names
// no positions, and the rows the salt would pick are not canary rows.
TEST_P(StorageConformance, AModelOnlyReleasesRevealNamesNoPositions) {
  const audit::InclusionBits bits = {false, true};
  const std::string salt = std::string(64, 'd');
  const std::vector<int64_t> salted = audit::CanaryPositions(salt, 5, 2);
  for (const std::string id : {"m1", "m2"}) {
    AuditRecord audit{id, "cleveland", "heart", "1\n2\n3\n4\n", 4};
    ASSERT_TRUE(storage_->IssueAudit(audit).ok());
    ASSERT_TRUE(storage_->CommitAudit("cleveland", id, audit::CommitToBits(bits, salt)).ok());
    ReservationRequest request = Request(id, 0);
    request.mode = privacy::ReleaseMode::kModelOnly;
    request.charge.model_private = true;
    request.charge.model_sha256 = "model-" + id;
    request.charge.model_micros = 500'000;
    ASSERT_TRUE(storage_->Reserve(request)->granted);
    ASSERT_TRUE(storage_->AppendChunk("cleveland", id, 0, "a\nb\nc\nd\ne\n", 5).ok());
    ASSERT_TRUE(storage_->MarkCommitted("cleveland", id, "h").ok());
  }
  EXPECT_EQ(storage_->RevealAudit("cleveland", "m1", bits, salt, salted).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*storage_->GetAudit("m1"))->state, AuditState::kInvalid);
  ASSERT_TRUE(storage_->RevealAudit("cleveland", "m2", bits, salt, {}).ok());
  const AuditRecord revealed = **storage_->GetAudit("m2");
  EXPECT_EQ(revealed.state, AuditState::kRevealed);
  EXPECT_TRUE(ReleasedCanaryRows(**storage_->GetRelease("m2"), revealed).empty());
}

TEST_P(StorageConformance, VerdictsNeedARevealAndApprovalsAreRecordedOnce) {
  ASSERT_TRUE(storage_->Reserve(Request("r1", 1'000'000))->granted);
  EXPECT_EQ(storage_->Approve({"r1", "alice", "checked by hand", 7}).code(),
            absl::StatusCode::kFailedPrecondition)
      << "only committed releases export";
  ASSERT_TRUE(storage_->MarkCommitted("cleveland", "r1", "h").ok());
  EXPECT_EQ(storage_->Approve({"r1", "", "why", 7}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage_->Approve({"r1", "alice", "", 7}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage_->Approve({"nope", "alice", "why", 7}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage_->RecordVerdict({"r1", true, 1, 0, "", "{}", 8}).code(),
            absl::StatusCode::kFailedPrecondition)
      << "no audit to judge";
  ASSERT_TRUE(storage_->Approve({"r1", "alice", "checked by hand", 7}).ok());
  EXPECT_EQ(storage_->Approve({"r1", "bob", "again", 9}).code(), absl::StatusCode::kAlreadyExists);
  auto approval = storage_->GetApproval("r1");
  ASSERT_TRUE(approval.ok() && approval->has_value());
  EXPECT_EQ((*approval)->approved_by, "alice");
  EXPECT_EQ((*approval)->reason, "checked by hand");
  EXPECT_EQ((*approval)->approved_unix, 7);

  // A release whose canaries are committed but not revealed cannot be approved: its canary
  // rows could not be kept out of the export.
  const audit::InclusionBits bits = {false};  // 2 canaries: 1 pair
  const std::string salt = std::string(64, 'd');
  ASSERT_TRUE(storage_->IssueAudit({"r2", "cleveland", "heart", "1\n2\n", 2}).ok());
  ASSERT_TRUE(storage_->CommitAudit("cleveland", "r2", audit::CommitToBits(bits, salt)).ok());
  ASSERT_TRUE(storage_->Reserve(Request("r2", 1'000'000))->granted);
  ASSERT_TRUE(storage_->AppendChunk("cleveland", "r2", 0, "a\nb\n", 2).ok());
  ASSERT_TRUE(storage_->MarkCommitted("cleveland", "r2", "h").ok());
  EXPECT_EQ(storage_->Approve({"r2", "alice", "why", 7}).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      storage_->RevealAudit("cleveland", "r2", bits, salt, audit::CanaryPositions(salt, 2, 1))
          .ok());
  ASSERT_TRUE(
      storage_->RecordVerdict({"r2", false, 2'000'000, 3'500'000, "too leaky", "{}", 8}).ok());
  ASSERT_TRUE(
      storage_->RecordVerdict({"r2", false, 2'000'000, 3'600'000, "too leaky", "{\"a\":1}", 9})
          .ok())
      << "a re-run replaces";
  auto verdict = storage_->GetVerdict("r2");
  ASSERT_TRUE(verdict.ok() && verdict->has_value());
  EXPECT_FALSE((*verdict)->passed);
  EXPECT_EQ((*verdict)->lower_bound_micros, 3'600'000);
  EXPECT_EQ((*verdict)->claimed_micros, 2'000'000);
  EXPECT_EQ((*verdict)->reason, "too leaky");
  EXPECT_EQ((*verdict)->report_json, "{\"a\":1}");
  EXPECT_EQ((*verdict)->judged_unix, 9);
  ASSERT_TRUE(storage_->Approve({"r2", "alice", "accepted risk", 10}).ok());
}

TEST_P(StorageConformance, TracksSitesLastSeenWithTheirCertificates) {
  ASSERT_TRUE(storage_->TouchSite({"va", 5, "1000", 1'800'000'000}).ok());
  ASSERT_TRUE(storage_->TouchSite({"cleveland", 6, "1001", 1'800'000'001}).ok());
  // va rotated its certificate: the last one seen is the one shown.
  ASSERT_TRUE(storage_->TouchSite({"va", 9, "10A2", 1'900'000'000}).ok());
  auto seen = storage_->SitesSeen();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ(seen->at(0).site_id, "cleveland");
  EXPECT_EQ(seen->at(1).site_id, "va");
  EXPECT_EQ(seen->at(1).last_seen_unix, 9);
  EXPECT_EQ(seen->at(1).certificate_serial, "10A2");
  EXPECT_EQ(seen->at(1).certificate_not_after_unix, 1'900'000'000);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StorageConformance,
    ::testing::Values(Backend{"memory", [](const std::string&) { return NewInMemoryStorage(); }},
                      Backend{"sqlite",
                              [](const std::string& dir) -> std::unique_ptr<Storage> {
                                auto s = OpenSqliteStorage(dir + "/coordinator.db");
                                EXPECT_TRUE(s.ok()) << s.status();
                                return s.ok() ? std::move(*s) : nullptr;
                              }},
                      Backend{"postgres", [](const std::string&) { return OpenFreshPostgres(); },
                              &PostgresUnavailable}),
    [](const auto& info) { return info.param.name; });

// Several connections to one database (as several coordinator processes would have) racing on
// one budget never overspend, and state survives reopening. `database` as in coordinator.toml.
void ExpectConnectionsNeverOverspendAndStateIsDurable(const std::string& database) {
  {
    auto setup = OpenStorage(database);
    ASSERT_TRUE(setup.ok()) << setup.status();
    ASSERT_TRUE((*setup)->SetLimit("va", "heart", 10'000'000).ok());
  }
  std::atomic<int> granted = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto storage = OpenStorage(database);
      ASSERT_TRUE(storage.ok()) << storage.status();
      for (int j = 0; j < 8; ++j) {
        auto result = (*storage)->Reserve({"va",
                                           "heart",
                                           "m" + std::to_string(i * 8 + j),
                                           {1'000'000, false},
                                           1,
                                           privacy::ReleaseMode::kSynthetic,
                                           0});
        ASSERT_TRUE(result.ok()) << result.status();
        if (result->granted) ++granted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 10);
  auto reopened = OpenStorage(database);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->ListBudgets()->at(0).spent_micros, 10'000'000);
  auto read_only = OpenStorage(database, /*read_only=*/true);
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  EXPECT_EQ((*read_only)->ListReleases()->size(), 10u);
  EXPECT_FALSE((*read_only)->SetLimit("va", "heart", 1).ok());
  EXPECT_EQ((*read_only)->ListBudgets()->at(0).limit_micros, 10'000'000);
}

TEST(SqliteStorage, ConcurrentConnectionsNeverOverspendAndStateIsDurable) {
  ExpectConnectionsNeverOverspendAndStateIsDurable(testing::ScratchDir("sqlite_multi") + "/c.db");
}

// The PostgreSQL tests below need this process's throwaway cluster.
class PostgresStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    cluster_ = testing::PostgresCluster::Shared(&why);
    if (cluster_ == nullptr) GTEST_SKIP() << why;
    db_ = cluster_->NewDatabase("postgres_storage");
    ASSERT_FALSE(db_.empty()) << "createdb failed";
    uri_ = cluster_->Uri(db_);
  }
  testing::PostgresCluster* cluster_ = nullptr;
  std::string db_, uri_;
};

TEST_F(PostgresStorage, ConcurrentConnectionsNeverOverspendAndStateIsDurable) {
  ASSERT_TRUE(IsPostgresDatabase(uri_));
  ExpectConnectionsNeverOverspendAndStateIsDurable(uri_);
}

// The schema is versioned: a fresh database is migrated on its first read-write open (never by
// a read-only one), and a database from a newer program is refused rather than misread.
TEST_F(PostgresStorage, MigrationsAreVersionedAndANewerSchemaIsRefused) {
  auto early = OpenPostgresStorage(uri_, /*read_only=*/true);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition) << early.status();
  EXPECT_NE(early.status().message().find("needs a migration"), std::string::npos);
  {
    auto storage = OpenPostgresStorage(uri_);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE((*storage)->SetLimit("va", "heart", 3'000'000).ok());
  }
  EXPECT_EQ(cluster_->Psql(db_,
                           "DO $$ BEGIN IF (SELECT version FROM fedsyn_schema_version) <> 1 "
                           "THEN RAISE 'unexpected schema version'; END IF; END $$;"),
            0);
  auto again = OpenPostgresStorage(uri_);  // nothing left to apply: the data is untouched
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->ListBudgets()->at(0).limit_micros, 3'000'000);
  ASSERT_EQ(cluster_->Psql(db_, "UPDATE fedsyn_schema_version SET version = 99"), 0);
  auto newer = OpenPostgresStorage(uri_);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("newer than this program"), std::string::npos)
      << newer.status();
}

// A stored name the program never writes is data loss on PostgreSQL too.
TEST_F(PostgresStorage, AStoredNameItNeverWritesIsDataLoss) {
  auto storage = OpenPostgresStorage(uri_);
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE((*storage)->SetLimit("va", "heart", 10'000'000).ok());
  ASSERT_TRUE(
      (*storage)
          ->Reserve(
              {"va", "heart", "r1", {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic, 5})
          .ok());
  ASSERT_EQ(cluster_->Psql(db_, "UPDATE releases SET status = 'paid'"), 0);
  EXPECT_EQ((*storage)->GetRelease("r1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*storage)->ListReleases().status().code(), absl::StatusCode::kDataLoss);
}

// Text goes over the wire with its length: a NUL byte inside an id is refused by the server,
// never cut short into another id (SQLite would store it whole; neither may truncate).
TEST_F(PostgresStorage, AnIdWithANulByteIsRefusedNotTruncated) {
  auto storage = OpenPostgresStorage(uri_);
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE((*storage)->SetLimit("va", "heart", 10'000'000).ok());
  const std::string nul_id("r1\0tail", 7);
  auto refused = (*storage)->Reserve(
      {"va", "heart", nul_id, {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic, 5});
  EXPECT_FALSE(refused.ok() && refused->granted);
  EXPECT_FALSE((*storage)->GetRelease("r1")->has_value()) << "truncated to another id";
  EXPECT_EQ((*storage)->ListBudgets()->at(0).spent_micros, 0);
  // The connection is still usable afterwards.
  EXPECT_TRUE(
      (*storage)
          ->Reserve(
              {"va", "heart", "r2", {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic, 5})
          ->granted);
}

// Ledger transactions are group-committed on PostgreSQL as on SQLite (base::GroupCommit): bodies
// that arrive together share a BEGIN, the lock and a COMMIT, and one whose statement fails (here
// a duplicate key, which aborts a PostgreSQL transaction) is rolled back to its savepoint alone.
TEST_F(PostgresStorage, GroupedBodiesShareCommitsAndAFailedStatementFailsOnlyItsBody) {
  const char* schema[] = {"CREATE TABLE entries (id BIGINT PRIMARY KEY)"};
  auto db = postgres::Connection::Open(uri_, /*read_only=*/false, schema);
  ASSERT_TRUE(db.ok()) << db.status();
  std::atomic<int> succeeded = 0, failed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        // Every fifth body inserts an id a previous body of this thread inserted.
        const int64_t id = i % 5 == 4 ? t * 100 + i - 1 : t * 100 + i;
        const absl::Status status = (*db)->Transaction([&]() -> absl::Status {
          return (*db)->Run("INSERT INTO entries VALUES ($1)", postgres::Params().Int(id));
        });
        (status.ok() ? succeeded : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(succeeded.load(), 16 * 16);
  EXPECT_EQ(failed.load(), 16 * 4);
  int64_t rows = -1;
  ASSERT_TRUE((*db)
                  ->Snapshot([&]() -> absl::Status {
                    ASSIGN_OR_RETURN(postgres::Result r,
                                     (*db)->Query("SELECT count(*) FROM entries"));
                    rows = r.Int(0, 0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(rows, 16 * 16) << "every successful body's row, none of a failed one";
  EXPECT_LT((*db)->commits(), 16u * 20u) << "bodies shared commits";
  // A nested transaction is refused, not deadlocked.
  absl::Status inner;
  EXPECT_TRUE((*db)
                  ->Transaction([&] {
                    inner = (*db)->Transaction([] { return absl::OkStatus(); });
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition);
}

// A coordinator whose database sessions the server dropped while they were idle (a server
// restart, a failover) reconnects when it next begins a transaction — nothing of it had run —
// so the next calls succeed; a reservation retried then is charged once.
TEST_F(PostgresStorage, DroppedSessionsReconnectAtTheNextTransactionAndChargeOnce) {
  auto storage = OpenPostgresStorage(uri_);
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE((*storage)->SetLimit("va", "heart", 10'000'000).ok());
  const ReservationRequest request{
      "va", "heart", "r1", {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic, 5};
  ASSERT_TRUE((*storage)->Reserve(request)->granted);
  const std::string drop_all =
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'fedsyn-coordinator'";
  ASSERT_EQ(cluster_->Psql(db_, drop_all), 0);
  auto retried = (*storage)->Reserve(request);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->replayed);
  ASSERT_EQ(cluster_->Psql(db_, drop_all), 0);
  auto budgets = (*storage)->ListBudgets();  // the reading session, dropped too
  ASSERT_TRUE(budgets.ok()) << budgets.status();
  EXPECT_EQ(budgets->at(0).spent_micros, 1'000'000);
}

// A database written by the version before audits opened ahead of reservations (schema 3: an
// audit per reserved release, no dataset, positions, verdicts or approvals) is migrated in
// place: its audit keeps its state and gains its release's dataset.
TEST(SqliteStorageMigration, AVersion3DatabaseKeepsItsAuditsAndReleases) {
  const std::string path = testing::ScratchDir("storage_migration_v3") + "/coordinator.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* kVersion3 = R"sql(
CREATE TABLE budgets (site_id TEXT NOT NULL, dataset TEXT NOT NULL, limit_micros INTEGER NOT NULL,
  spent_micros INTEGER NOT NULL, PRIMARY KEY (site_id, dataset));
CREATE TABLE releases (release_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, dataset TEXT NOT NULL,
  mode TEXT NOT NULL, charge_micros INTEGER NOT NULL, rows_declared INTEGER NOT NULL,
  model_private INTEGER NOT NULL, model_sha256 TEXT NOT NULL, model_charge_micros INTEGER NOT NULL,
  status TEXT NOT NULL, next_chunk INTEGER NOT NULL, rows_received INTEGER NOT NULL,
  sha256 TEXT NOT NULL, created_unix INTEGER NOT NULL);
CREATE TABLE chunks (release_id TEXT NOT NULL REFERENCES releases(release_id), idx INTEGER NOT NULL,
  rows BLOB NOT NULL, PRIMARY KEY (release_id, idx));
CREATE TABLE sites (site_id TEXT PRIMARY KEY, last_seen_unix INTEGER NOT NULL);
CREATE TABLE models (sha256 TEXT PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE audits (release_id TEXT PRIMARY KEY REFERENCES releases(release_id),
  site_id TEXT NOT NULL, canaries BLOB NOT NULL, count INTEGER NOT NULL, commitment TEXT NOT NULL,
  bits TEXT NOT NULL, salt TEXT NOT NULL, state TEXT NOT NULL, created_unix INTEGER NOT NULL);
INSERT INTO budgets VALUES ('va', 'heart', 10000000, 1000000);
INSERT INTO releases VALUES ('r1', 'va', 'heart', 'synthetic', 1000000, 2, 0, '', 0, 'reserved',
  0, 0, '', 5);
INSERT INTO audits VALUES ('r1', 'va', '1
2
', 2, '', '', '', 'issued', 5);
PRAGMA user_version = 3;
)sql";
  ASSERT_EQ(sqlite3_exec(db, kVersion3, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto storage = OpenSqliteStorage(path);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto audit = (*storage)->GetAudit("r1");
  ASSERT_TRUE(audit.ok() && audit->has_value());
  EXPECT_EQ((*audit)->dataset, "heart");
  EXPECT_EQ((*audit)->state, AuditState::kIssued);
  EXPECT_EQ((*audit)->canaries, "1\n2\n");
  EXPECT_TRUE((*audit)->positions.empty());
  auto release = (*storage)->GetRelease("r1");
  ASSERT_TRUE(release.ok() && release->has_value());
  EXPECT_EQ((*release)->charge.model_micros, 0);
  EXPECT_EQ((*release)->charge.model_delta, 0.0);
  EXPECT_EQ((*release)->relation, "add/remove one") << "what releases of that time claimed";
  EXPECT_EQ((*release)->mechanism, "");
  EXPECT_FALSE((*storage)->GetVerdict("r1")->has_value());
}

// Modes and states are stored by their names and read back through the same parse: a name the
// coordinator never writes (a file edited behind its back) is data loss, never a default.
TEST(SqliteStorage, AStoredNameItNeverWritesIsDataLossNotADefault) {
  for (const char* edit :
       {"UPDATE releases SET mode = 'everything'", "UPDATE releases SET status = 'paid'",
        "UPDATE audits SET state = 'trusted'", "UPDATE audits SET bits = '0x1'",
        "UPDATE audits SET positions = '3,x'"}) {
    // A fresh folder per case: a WAL file left by the previous case must not replay into it.
    const std::string path =
        testing::ScratchDir("storage_names_" + std::to_string(std::hash<std::string>{}(edit))) +
        "/coordinator.db";
    {
      auto storage = OpenSqliteStorage(path);
      ASSERT_TRUE(storage.ok()) << storage.status();
      ASSERT_TRUE((*storage)->SetLimit("va", "heart", 10'000'000).ok());
      AuditRecord audit;
      audit.release_id = "a1";  // an audit issued for a release not yet reserved
      audit.site_id = "va";
      audit.dataset = "heart";
      audit.count = 2;
      ASSERT_TRUE((*storage)->IssueAudit(audit).ok());
      ReservationRequest request{
          "va", "heart", "r1", {1'000'000, false}, 2, privacy::ReleaseMode::kModelOnly, 5};
      ASSERT_TRUE((*storage)->Reserve(request).ok());
      auto release = (*storage)->GetRelease("r1");
      ASSERT_TRUE(release.ok() && release->has_value());
      EXPECT_EQ((*release)->mode, privacy::ReleaseMode::kModelOnly) << "round trip";
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, edit, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
    auto storage = OpenSqliteStorage(path);
    ASSERT_TRUE(storage.ok()) << storage.status();
    const bool audit_edit = std::string(edit).find("audits") != std::string::npos;
    const absl::Status read =
        audit_edit ? (*storage)->GetAudit("a1").status() : (*storage)->GetRelease("r1").status();
    EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss) << edit << ": " << read;
    const absl::Status listed =
        audit_edit ? (*storage)->ListAudits().status() : (*storage)->ListReleases().status();
    EXPECT_EQ(listed.code(), absl::StatusCode::kDataLoss) << edit;
  }
}

// A fresh SQLite storage at `path` with release "r1" of site "va" reserved for `rows` rows.
std::unique_ptr<Storage> StorageWithAReservation(const std::string& path, int64_t rows) {
  auto storage = OpenSqliteStorage(path);
  EXPECT_TRUE(storage.ok()) << storage.status();
  if (!storage.ok()) return nullptr;
  EXPECT_TRUE((*storage)->SetLimit("va", "heart", 10'000'000).ok());
  ReservationRequest request{
      "va", "heart", "r1", {1'000'000, false}, rows, privacy::ReleaseMode::kSynthetic, 5};
  EXPECT_TRUE((*storage)->Reserve(request).ok());
  return std::move(*storage);
}

// Reads run on connections of their own: a write lock held elsewhere (here by a raw connection
// in the middle of a write transaction; in the coordinator, a batch waiting for its fsync) does
// not hold them up, and they see exactly what was committed. On the writer's connection each
// of these reads would wait out the 10 s busy timeout and fail.
TEST(SqliteStorage, ReadsDoNotWaitForTheWriteLockAndSeeOnlyCommittedState) {
  const std::string path = testing::ScratchDir("storage_readers") + "/coordinator.db";
  const std::unique_ptr<Storage> storage = StorageWithAReservation(path, 3);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->AppendChunk("va", "r1", 0, "1,2\n3,4\n", 2).ok());

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "BEGIN IMMEDIATE; UPDATE budgets SET spent_micros = 9000000; "
                         "UPDATE releases SET rows_received = 0",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(other);
  auto release = storage->GetRelease("r1");
  ASSERT_TRUE(release.ok()) << release.status();
  ASSERT_TRUE(release->has_value());
  EXPECT_EQ((*release)->rows_received, 2) << "the committed state, not the open transaction's";
  auto content = storage->ReleaseContent("r1");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "1,2\n3,4\n");
  auto budgets = storage->ListBudgets();
  ASSERT_TRUE(budgets.ok()) << budgets.status();
  ASSERT_EQ(budgets->size(), 1u);
  EXPECT_EQ((*budgets)[0].spent_micros, 1'000'000);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  // A write committed through the storage is seen by the next read at once.
  ASSERT_TRUE(storage->AppendChunk("va", "r1", 1, "5,6\n", 1).ok());
  auto after = storage->GetRelease("r1");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->rows_received, 3);
  EXPECT_EQ(*storage->ReleaseContent("r1"), "1,2\n3,4\n5,6\n");
}

// Descriptors open on `path` itself (not its -wal or -shm files) in this process.
int DescriptorsOn(const std::string& path) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec) == std::filesystem::path(path)) ++count;
  }
  return count;
}

// However many sessions read at once, the reader connections stay bounded (16): each holds
// descriptors and a page cache, and the listener admits up to 256 sessions.
TEST(SqliteStorage, ConcurrentReadersShareABoundedSetOfConnections) {
  const std::string path = testing::ScratchDir("storage_reader_bound") + "/coordinator.db";
  const std::unique_ptr<Storage> storage = StorageWithAReservation(path, 8);
  ASSERT_NE(storage, nullptr);
  const std::string chunk(1 << 20, 'x');  // reading 8 MiB back keeps the readers overlapping
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(storage->AppendChunk("va", "r1", i, chunk, 1).ok());
  std::atomic<int> most = 0;
  std::atomic<bool> failed = false;
  {
    std::vector<std::jthread> readers;
    for (int t = 0; t < 32; ++t) {
      readers.emplace_back([&] {
        for (int k = 0; k < 4; ++k) {
          auto content = storage->ReleaseContent("r1");
          if (!content.ok() || content->size() != 8 * chunk.size()) failed = true;
          const int open = DescriptorsOn(path);
          int seen = most.load();
          while (open > seen && !most.compare_exchange_weak(seen, open)) {
          }
        }
      });
    }
  }
  EXPECT_FALSE(failed.load());
  // The writer, its checkpointer and at most 16 readers.
  EXPECT_LE(most.load(), 18);
  EXPECT_GE(most.load(), 3) << "the readers did run on connections of their own";
}

TEST(StorageNames, EveryReleaseStatusNameParsesBack) {
  for (const ReleaseStatus status : {ReleaseStatus::kReserved, ReleaseStatus::kCommitted})
    EXPECT_EQ(ParseReleaseStatus(ReleaseStatusName(status)), status);
  EXPECT_FALSE(ParseReleaseStatus("").has_value());
}

}  // namespace
}  // namespace fedsyn::coordinator
