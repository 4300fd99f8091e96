// The canary-audit protocol both sides follow: ids, salts, commitments, bits, positions, the
// reveal check and the canaries themselves.
#include "common/audit/canary_protocol.h"

#include <algorithm>
#include <map>
#include <random>

#include "common/data/table_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::audit {
namespace {

using fedsyn::testing::SeededRandom;

TEST(CanaryProtocol, ReleaseIdsAreFreshAndPassTheirOwnCheck) {
  SeededRandom rng(4);
  const auto words = [&rng] { return rng.NextU64(); };
  const std::string id = NewReleaseId(words);
  EXPECT_EQ(id.size(), 2u + 32u);
  EXPECT_EQ(id.rfind("r-", 0), 0u);
  EXPECT_TRUE(IsValidReleaseId(id));
  EXPECT_NE(NewReleaseId(words), id);
  EXPECT_EQ(NewSalt(words).size(), 64u);
  EXPECT_FALSE(IsValidReleaseId(""));
  EXPECT_FALSE(IsValidReleaseId("../x"));
  EXPECT_FALSE(IsValidReleaseId("a b"));
  EXPECT_FALSE(IsValidReleaseId(std::string(65, 'a')));
  EXPECT_TRUE(IsValidReleaseId(std::string(64, 'a')));
}

TEST(CanaryProtocol, EachPairIncludesExactlyTheCanaryItsBitPicks) {
  EXPECT_EQ(IncludedCanaryIndex(0, false), 0);
  EXPECT_EQ(IncludedCanaryIndex(0, true), 1);
  EXPECT_EQ(IncludedCanaryIndex(3, true), 7);
  EXPECT_EQ(IncludedCanaryFlags({false, true}), (std::vector<bool>{true, false, false, true}));
  EXPECT_TRUE(IncludedCanaryFlags({}).empty());
}

// The text the commitment hashes and the ledgers store, and back; anything else is refused.
TEST(CanaryProtocol, InclusionBitsAndPositionsHaveOneStoredForm) {
  const InclusionBits bits = {false, true, true, false};
  EXPECT_EQ(InclusionBitsText(bits), "0110");
  EXPECT_EQ(ParseInclusionBits("0110"), bits);
  EXPECT_EQ(ParseInclusionBits(""), InclusionBits{});
  EXPECT_FALSE(ParseInclusionBits("01x0").has_value());
  EXPECT_FALSE(ParseInclusionBits("0 1").has_value());
  EXPECT_EQ(CommitToBits(bits, "ab"), Commitment("0110", "ab"));
  const std::vector<int64_t> positions = {3, 17, 40};
  EXPECT_EQ(JoinPositions(positions), "3,17,40");
  EXPECT_EQ(JoinPositions({}), "");
  EXPECT_EQ(ParsePositions("3,17,40"), positions);
  EXPECT_EQ(ParsePositions(""), std::vector<int64_t>{});
  EXPECT_EQ(ParsePositions("9,2"), (std::vector<int64_t>{9, 2})) << "an invalid reveal, as sent";
  for (const char* bad :
       {"3,,17", "3,17,", ",3", "-1", "3,-2", "1e3", " 3", "3;4", "99999999999999999999"}) {
    EXPECT_FALSE(ParsePositions(bad).has_value()) << bad;
  }
}

TEST(CanaryProtocol, AuditStatesAndStatusesHaveOneNameEach) {
  for (const AuditState state :
       {AuditState::kIssued, AuditState::kCommitted, AuditState::kRevealed, AuditState::kInvalid})
    EXPECT_EQ(ParseAuditState(AuditStateName(state)), state);
  for (const AuditStatus status :
       {AuditStatus::kPending, AuditStatus::kPassed, AuditStatus::kFailed})
    EXPECT_EQ(ParseAuditStatus(AuditStatusName(status)), status);
  EXPECT_FALSE(ParseAuditState("Issued").has_value());
  EXPECT_FALSE(ParseAuditStatus("").has_value());
}

TEST(CanaryProtocol, RevealMustMatchTheCommitment) {
  SeededRandom rng(1);
  // 128 canaries: 64 pairs, one bit each.
  const InclusionBits bits = DrawInclusionBits(64, [&rng] { return rng.NextU64(); });
  const std::string salt = NewSalt([&rng] { return rng.NextU64(); });
  const std::string commitment = CommitToBits(bits, salt);
  EXPECT_TRUE(CheckReveal(commitment, bits, salt, 128).ok());
  InclusionBits flipped = bits;
  flipped[10] = !flipped[10];
  EXPECT_EQ(CheckReveal(commitment, flipped, salt, 128).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckReveal(commitment, bits, salt + "0", 128).code(),
            absl::StatusCode::kInvalidArgument);
  const InclusionBits shorter(bits.begin() + 1, bits.end());
  EXPECT_EQ(CheckReveal(commitment, shorter, salt, 128).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckReveal(commitment, bits, salt, 127).code(), absl::StatusCode::kInvalidArgument)
      << "an odd number of canaries is not pairs";
  // Bits that match their commitment but were not drawn fairly (all ones: p = 2^-63).
  const InclusionBits all_ones(64, true);
  const absl::Status loaded = CheckReveal(CommitToBits(all_ones, salt), all_ones, salt, 128);
  EXPECT_EQ(loaded.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.message()), ::testing::HasSubstr("not plausible"));
  const int ones = static_cast<int>(std::count(bits.begin(), bits.end(), true));
  EXPECT_GT(ones, 16);
  EXPECT_LT(ones, 48);
}

// `ones` true bits followed by `zeros` false ones.
InclusionBits Bits(int ones, int zeros) {
  InclusionBits bits(static_cast<size_t>(ones), true);
  bits.resize(static_cast<size_t>(ones + zeros), false);
  return bits;
}

// Fair bits pass the plausibility test at its stated rate; loaded bits fail it. 2,000 honest
// draws of 50 bits: each fails with probability < 1e-6, so any failure here is a bug.
TEST(CanaryProtocol, PlausibilityOfRevealedBits) {
  SeededRandom rng(9);
  for (int i = 0; i < 2000; ++i) {
    EXPECT_TRUE(PlausibleFairBits(DrawInclusionBits(50, [&rng] { return rng.NextU64(); })));
  }
  EXPECT_FALSE(PlausibleFairBits(Bits(50, 0)));
  EXPECT_FALSE(PlausibleFairBits(Bits(0, 50)));
  EXPECT_FALSE(PlausibleFairBits(Bits(45, 5)));
  EXPECT_TRUE(PlausibleFairBits(Bits(35, 15)));  // p ~ 0.007
  EXPECT_TRUE(PlausibleFairBits(Bits(20, 0)));   // too few bits to tell
}

TEST(CanaryProtocol, CanariesAreValidRecordsFromSparseCornersOfTheDomain) {
  const data::Schema schema = *data::Schema::LoadFile(fedsyn::testing::HeartSchemaPath());
  SeededRandom rng(2);
  const data::Table canaries = MakeCanaries(schema, 200, rng);
  ASSERT_EQ(canaries.num_rows(), 200);
  auto reread =
      data::ParseCsvTable(data::FormatCsvTable(canaries, schema, data::FormulaCells::kKeep), schema,
                          "canaries", data::OutputCsvFormat());
  ASSERT_TRUE(reread.ok()) << reread.status();
  EXPECT_EQ(reread->report.TotalClamped(), 0);
  EXPECT_EQ(reread->report.TotalMissing(), 0);
  for (const data::Row& row : canaries.rows) {
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      const data::ColumnSpec& column = schema.columns[c];
      if (!column.IsNumeric()) continue;
      const double position = (*row[c] - column.min) / (column.max - column.min);
      EXPECT_TRUE(position <= 0.051 || position >= 0.949) << column.name << " " << *row[c];
    }
  }
}

TEST(CanaryPositions, AreDeterminedByTheSaltAndValid) {
  const std::string salt(64, '7');
  const std::vector<int64_t> positions = CanaryPositions(salt, 400, 50);
  ASSERT_EQ(positions.size(), 50u);
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  EXPECT_EQ(std::adjacent_find(positions.begin(), positions.end()), positions.end()) << "distinct";
  EXPECT_LT(positions.back(), 400);
  EXPECT_EQ(CanaryPositions(salt, 400, 50), positions) << "the coordinator recomputes them";
  EXPECT_NE(CanaryPositions(std::string(64, '8'), 400, 50), positions) << "another salt";
  EXPECT_EQ(CanaryPositions(salt, 3, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(CanaryPositions(salt, 3, 0).empty());
  EXPECT_TRUE(CanaryPositions(salt, 3, 4).empty()) << "more canaries than rows";
}

TEST(CanaryPositions, EveryPlacementIsEquallyLikelyOverSalts) {
  // 2 canaries among 5 rows: 10 placements. Chi-square with 9 degrees of freedom at
  // alpha = 1e-6 (critical value 46.9) over 20,000 random salts.
  std::mt19937_64 salts(3);
  std::map<std::string, int> counts;
  for (int trial = 0; trial < 20000; ++trial) {
    ++counts[JoinPositions(CanaryPositions(NewSalt([&] { return salts(); }), 5, 2))];
  }
  ASSERT_EQ(counts.size(), 10u);
  double chi2 = 0;
  for (const auto& [placement, n] : counts) chi2 += (n - 2000.0) * (n - 2000.0) / 2000.0;
  std::printf("placements chi-square %.2f (critical 46.9)\n", chi2);
  EXPECT_LT(chi2, 46.9);
  // Power: a generator that favoured the end (canaries appended) would put ~all mass on "3,4";
  // one off by a slot would never produce "0,1".
  EXPECT_LT(counts["3,4"], 2300);
  EXPECT_GT(counts["0,1"], 1700);
}

// Rows tagged by one cell (first + i), to follow them through selection and placement.
data::Table Tagged(double first, int count) {
  data::Table t;
  for (int i = 0; i < count; ++i) t.rows.push_back({first + i});
  return t;
}

double Tag(const data::Row& row) { return *row.front(); }

TEST(CanaryPlacement, TheBitsPickOneCanaryPerPairInPairOrder) {
  const InclusionBits bits = {false, true, true};
  auto included = SelectIncludedCanaries(Tagged(0, 6), bits, "job x");
  ASSERT_TRUE(included.ok()) << included.status();
  ASSERT_EQ(included->num_rows(), 3);
  EXPECT_EQ(Tag(included->rows[0]), 0);
  EXPECT_EQ(Tag(included->rows[1]), 3);
  EXPECT_EQ(Tag(included->rows[2]), 5);
  const auto mismatched = SelectIncludedCanaries(Tagged(0, 5), bits, "job x");
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(mismatched.status().message()), ::testing::HasSubstr("job x"));
}

TEST(CanaryPlacement, CanariesLandAtTheSaltsPositionsAndRecordsKeepTheirOrder) {
  const std::string salt(64, '3');
  data::Table records = Tagged(0, 20);
  const std::vector<int64_t> positions = PlaceCanaries(salt, Tagged(1000, 4), records);
  EXPECT_EQ(positions, CanaryPositions(salt, 24, 4)) << "what the coordinator recomputes";
  ASSERT_EQ(records.num_rows(), 24);
  int next_canary = 0, next_record = 0;
  for (int64_t slot = 0; slot < 24; ++slot) {
    const bool canary = std::find(positions.begin(), positions.end(), slot) != positions.end();
    EXPECT_EQ(Tag(records.rows[static_cast<size_t>(slot)]),
              canary ? 1000 + next_canary++ : next_record++)
        << slot;
  }
  data::Table few = Tagged(0, 3);
  EXPECT_TRUE(PlaceCanaries(salt, data::Table{}, few).empty());
  EXPECT_EQ(few.num_rows(), 3);
}

}  // namespace
}  // namespace fedsyn::audit
