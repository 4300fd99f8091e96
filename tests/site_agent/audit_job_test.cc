// The site's side of a canary audit without the network: which canaries an audit job includes,
// where they land in the release (uniformly random, records' order kept), and the ledger that
// keeps the job's secrets across restarts.
#include "site_agent/audit_job.h"

#include <map>

#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::site {
namespace {

data::Table Numbered(int count, double offset) {
  data::Table table;
  for (int i = 0; i < count; ++i) table.rows.push_back({offset + i});
  return table;
}

TEST(AuditJob, IncludesExactlyTheCanariesItsBitsChoose) {
  AuditJobRecord job{"r-1", "heart", "a,1\nb,2\nc,3\nd,4\n", "0110"};
  EXPECT_EQ(IncludedCanaryRows(job), "b,2\nc,3\n");
  job.bits = "0000";
  EXPECT_EQ(IncludedCanaryRows(job), "");
  const data::Schema schema = fedsyn::testing::LoadEncodedHeart("cleveland").schema;
  AuditJobRecord heart{"r-2", "heart",
                       "29,0,1,94,126,0,0,71,0,0,1,0,3,4\n77,1,4,200,564,1,2,202,1,6.2,3,3,7,0\n",
                       "11"};
  auto both = IncludedCanaries(heart, schema);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->num_rows(), 2);
  heart.bits = "111";  // more bits than canaries: the job is damaged
  EXPECT_EQ(IncludedCanaries(heart, schema).status().code(), absl::StatusCode::kDataLoss);
}

TEST(AuditJob, CanariesLandAtUniformlyRandomPositionsAndRecordsKeepTheirOrder) {
  fedsyn::testing::SeededRandom rng(5);
  data::Table records = Numbered(50, 0);
  const std::string positions = InsertAtRandomPositions(records, Numbered(7, 1000), rng);
  ASSERT_EQ(records.num_rows(), 57);
  std::vector<int> canary_slots;
  double last_record = -1, next_canary = 1000;
  for (int i = 0; i < 57; ++i) {
    const double v = *records.rows[static_cast<size_t>(i)][0];
    if (v >= 1000) {
      EXPECT_EQ(v, next_canary++) << "canaries in their order";
      canary_slots.push_back(i);
    } else {
      EXPECT_GT(v, last_record) << "records in their order";
      last_record = v;
    }
  }
  std::string expected;
  for (int slot : canary_slots) expected += (expected.empty() ? "" : ",") + std::to_string(slot);
  EXPECT_EQ(positions, expected);

  // 3 records + 2 canaries: all 10 placements equally likely. Chi-square with 9 degrees of
  // freedom at alpha = 1e-6 (critical value 46.9) over 20,000 draws.
  std::map<std::string, int> counts;
  for (int trial = 0; trial < 20000; ++trial) {
    data::Table small = Numbered(3, 0);
    ++counts[InsertAtRandomPositions(small, Numbered(2, 1000), rng)];
  }
  ASSERT_EQ(counts.size(), 10u);
  double chi2 = 0;
  for (const auto& [placement, n] : counts) chi2 += (n - 2000.0) * (n - 2000.0) / 2000.0;
  std::printf("placements chi-square %.2f (critical 46.9)\n", chi2);
  EXPECT_LT(chi2, 46.9);
  // Power: appending canaries at the end (an obvious tell) would put all mass on "3,4".
  EXPECT_LT(counts["3,4"], 2300);
}

TEST(AuditJob, TheLedgerKeepsAJobsSecretsAcrossRestarts) {
  const std::string path = fedsyn::testing::ScratchDir("audit_job_ledger") + "/ledger.db";
  AuditJobRecord job{"r-9", "heart", "1\n2\n", "10", std::string(64, 'a'), "c0ffee"};
  {
    auto ledger = LocalLedger::Open(path);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_TRUE((*ledger)->AddAuditJob(job).ok());
    EXPECT_EQ((*ledger)->AddAuditJob(job).code(), absl::StatusCode::kAlreadyExists);
    ASSERT_TRUE((*ledger)->SetAuditJobPositions("r-9", "4").ok());
  }
  auto reopened = LocalLedger::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto found = (*reopened)->FindAuditJob("r-9");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->bits, "10");
  EXPECT_EQ((*found)->salt, std::string(64, 'a'));
  EXPECT_EQ((*found)->commitment, "c0ffee");
  EXPECT_EQ((*found)->positions, "4");
  EXPECT_EQ((*found)->state, "committed");
  ASSERT_TRUE((*reopened)->SetAuditJobState("r-9", "revealed").ok());
  EXPECT_EQ((*(*reopened)->FindAuditJob("r-9"))->state, "revealed");
  EXPECT_FALSE((*reopened)->FindAuditJob("r-8")->has_value());
}

}  // namespace
}  // namespace fedsyn::site
