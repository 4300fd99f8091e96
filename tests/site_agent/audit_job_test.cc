// The site's side of a canary audit without the network: which canaries an audit job includes,
// where they land in the release (where the job's salt puts them; records' order kept), and the
// ledger that keeps the job's secrets across restarts.
#include "site_agent/audit_job.h"

#include <sqlite3.h>

#include <cstring>

#include "common/audit/canary_protocol.h"
#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/test_paths.h"

namespace fedsyn::site {
namespace {

TEST(AuditJob, IncludesExactlyTheCanariesItsBitsChoose) {
  // Two pairs, (29, 77) and (40, 50) by age: each bit picks one of its pair.
  const data::Schema schema = fedsyn::testing::LoadEncodedHeart("cleveland").schema;
  AuditJobRecord job{"r-1",
                     "heart",
                     "29,0,1,94,126,0,0,71,0,0,1,0,3,4\n77,1,4,200,564,1,2,202,1,6.2,3,3,7,0\n"
                     "40,1,2,120,200,0,0,150,0,1,1,0,3,0\n50,1,2,120,200,0,0,150,0,1,1,0,3,0\n",
                     {false, true}};
  auto ages = [&] {
    std::vector<double> out;
    const absl::StatusOr<data::Table> included = IncludedCanaries(job, schema);
    EXPECT_TRUE(included.ok()) << included.status();
    if (!included.ok()) return out;
    for (const data::Row& row : included->rows) out.push_back(row[0].value_or(-1));
    return out;
  };
  EXPECT_EQ(ages(), (std::vector<double>{29, 50}));
  job.bits = {true, false};
  EXPECT_EQ(ages(), (std::vector<double>{77, 40}));
  job.bits = {false, false};
  EXPECT_EQ(ages(), (std::vector<double>{29, 40}));
  AuditJobRecord heart{"r-2",
                       "heart",
                       "29,0,1,94,126,0,0,71,0,0,1,0,3,4\n77,1,4,200,564,1,2,202,1,6.2,3,3,7,0\n",
                       {true}};
  auto one = IncludedCanaries(heart, schema);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->num_rows(), 1);
  EXPECT_EQ(one->rows[0][0], 77.0) << "the second of the pair";
  heart.bits = {true, true};  // more pairs than canaries: the job is damaged
  EXPECT_EQ(IncludedCanaries(heart, schema).status().code(), absl::StatusCode::kDataLoss);
}

TEST(AuditJob, CanariesLandWhereTheSaltPutsThemAndRecordsKeepTheirOrder) {
  const fedsyn::testing::EncodedHeart heart = fedsyn::testing::LoadEncodedHeart("cleveland");
  const data::Table original =
      data::ReadCsvTable(fedsyn::testing::HeartFile("cleveland"), heart.schema)->table;
  AuditJobRecord job{"r-3",
                     "heart",
                     "29,0,1,94,126,0,0,71,0,0,1,0,3,4\n77,1,4,200,564,1,2,202,1,6.2,3,3,7,0\n"
                     "40,1,2,120,200,0,0,150,0,1,1,0,3,0\n50,1,2,120,200,0,0,150,0,1,1,0,3,0\n",
                     {true, false},
                     std::string(64, '5')};
  data::Table records = original;
  auto positions = InsertIncludedCanaries(job, heart.schema, records);
  ASSERT_TRUE(positions.ok()) << positions.status();
  ASSERT_EQ(records.num_rows(), 305);
  const std::vector<int64_t> expected = audit::CanaryPositions(job.salt, 305, 2);
  EXPECT_EQ(*positions, expected);
  EXPECT_EQ(records.rows[static_cast<size_t>(expected[0])][0], 77.0) << "pair 0, bit 1: second";
  EXPECT_EQ(records.rows[static_cast<size_t>(expected[1])][0], 40.0) << "pair 1, bit 0: first";
  data::Table rest;
  for (int64_t i = 0; i < records.num_rows(); ++i)
    if (i != expected[0] && i != expected[1])
      rest.rows.push_back(records.rows[static_cast<size_t>(i)]);
  EXPECT_EQ(rest.rows, original.rows) << "the records, in their order";
}

TEST(AuditJob, TheLedgerKeepsAJobsSecretsAcrossRestarts) {
  const std::string path = fedsyn::testing::ScratchDir("audit_job_ledger") + "/ledger.db";
  AuditJobRecord job{"r-9", "heart", "1\n2\n", {true, false}, std::string(64, 'a'), "c0ffee"};
  {
    auto ledger = LocalLedger::Open(path);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_TRUE((*ledger)->AddAuditJob(job).ok());
    EXPECT_EQ((*ledger)->AddAuditJob(job).code(), absl::StatusCode::kAlreadyExists);
    ASSERT_TRUE((*ledger)->SetAuditJobPositions("r-9", {4, 11}).ok());
  }
  auto reopened = LocalLedger::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto found = (*reopened)->FindAuditJob("r-9");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->bits, (audit::InclusionBits{true, false}));
  EXPECT_EQ((*found)->salt, std::string(64, 'a'));
  EXPECT_EQ((*found)->commitment, "c0ffee");
  EXPECT_EQ((*found)->positions, (std::vector<int64_t>{4, 11}));
  EXPECT_EQ((*found)->state, AuditJobState::kCommitted);
  ASSERT_TRUE((*reopened)->SetAuditJobState("r-9", AuditJobState::kRevealed).ok());
  EXPECT_EQ((*(*reopened)->FindAuditJob("r-9"))->state, AuditJobState::kRevealed);
  EXPECT_FALSE((*reopened)->FindAuditJob("r-8")->has_value());
}

// The ledger stores states and modes by their names and reads them only through the parse: a
// name it never writes (a file edited behind its back) is data loss, never a default.
TEST(LocalLedger, StoresStatesAndModesByNameAndRefusesOthers) {
  for (const SiteReleaseState state :
       {SiteReleaseState::kReserving, SiteReleaseState::kReserved, SiteReleaseState::kGenerated,
        SiteReleaseState::kCommitted, SiteReleaseState::kRefused, SiteReleaseState::kAbandoned})
    EXPECT_EQ(ParseSiteReleaseState(SiteReleaseStateName(state)), state);
  for (const AuditJobState state : {AuditJobState::kCommitted, AuditJobState::kRevealed})
    EXPECT_EQ(ParseAuditJobState(AuditJobStateName(state)), state);
  EXPECT_FALSE(ParseSiteReleaseState("Refused").has_value());
  EXPECT_FALSE(ParseAuditJobState("").has_value());

  const std::string path = fedsyn::testing::ScratchDir("local_ledger_names") + "/ledger.db";
  {
    auto ledger = LocalLedger::Open(path);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_TRUE((*ledger)->BeginRelease("r-1", "heart", {1'000'000, false}, 5'000'000).ok());
    LocalRelease generated{"r-1", "heart", 1'000'000, SiteReleaseState::kGenerated, "/spool",
                           "ab",  10,      4096,      privacy::ReleaseMode::kCodes};
    ASSERT_TRUE((*ledger)->MarkGenerated(generated).ok());
    auto releases = (*ledger)->Releases();
    ASSERT_TRUE(releases.ok()) << releases.status();
    ASSERT_EQ(releases->size(), 1u);
    EXPECT_EQ(releases->front().state, SiteReleaseState::kGenerated);
    EXPECT_EQ(releases->front().mode, privacy::ReleaseMode::kCodes);
    // A refused release gives its charge back; only the name decides which one that is.
    ASSERT_TRUE((*ledger)->SetState("r-1", SiteReleaseState::kRefused).ok());
    EXPECT_EQ(*(*ledger)->Spent("heart"), 0);
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE releases SET state = 'paid'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto reopened = LocalLedger::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Releases().status().code(), absl::StatusCode::kDataLoss);
  // An audit job's bits and positions likewise.
  for (const char* edit :
       {"UPDATE audit_jobs SET bits = '1x'", "UPDATE audit_jobs SET positions = '9,-2'"}) {
    ASSERT_TRUE((*reopened)
                    ->AddAuditJob({std::string("j-") + std::to_string(std::strlen(edit)),
                                   "heart",
                                   "1\n2\n",
                                   {true},
                                   std::string(64, 'a'),
                                   "c0ffee"})
                    .ok());
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, edit, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
    EXPECT_EQ((*reopened)
                  ->FindAuditJob(std::string("j-") + std::to_string(std::strlen(edit)))
                  .status()
                  .code(),
              absl::StatusCode::kDataLoss)
        << edit;
  }
}

// The site's ledger follows the same once-per-model rule as the coordinator's (privacy), and
// refuses what privacy::Charge::Validate refuses, before anything is recorded.
TEST(LocalLedger, ChargesAModelOnceAndRefusesInvalidCharges) {
  const std::string path = fedsyn::testing::ScratchDir("local_ledger_charges") + "/ledger.db";
  auto ledger = LocalLedger::Open(path);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  const privacy::Charge with_model{1'000'000, true, 2'000'000, "model-a", 1e-6};
  EXPECT_EQ(*(*ledger)->BeginRelease("r-1", "heart", with_model, 10'000'000), 3'000'000);
  EXPECT_EQ(*(*ledger)->BeginRelease("r-2", "heart", with_model, 10'000'000), 1'000'000)
      << "the model was paid for by r-1";
  EXPECT_EQ(*(*ledger)->BeginRelease("r-3", "adult", with_model, 10'000'000), 3'000'000)
      << "another dataset's budget pays for it again";
  // A refused release gives its model payment back: the next release of the model pays.
  ASSERT_TRUE((*ledger)->SetState("r-1", SiteReleaseState::kRefused).ok());
  EXPECT_EQ(*(*ledger)->BeginRelease("r-4", "heart", with_model, 10'000'000), 3'000'000);
  const privacy::Charge anonymous{1'000'000, true, 2'000'000, "", 1e-6};
  EXPECT_EQ((*ledger)->BeginRelease("r-5", "heart", anonymous, 10'000'000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*ledger)->Spent("heart"), 4'000'000) << "r-2 and r-4; nothing for r-5";
}

}  // namespace
}  // namespace fedsyn::site
