// The canary audit's core: canaries are valid, unusual records; a reveal must match its
// commitment; with the noise switched off by a test-only hook (a mechanism with negligible noise
// while the claim says epsilon 1 — an accounting bug) the audit finds the leak, and with the real
// mechanism at a modest epsilon its lower bound stays at or below the claim in repeated runs.
#include "coordinator/canary_audit.h"

#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "common/privacy/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/memorising_release.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::coordinator {
namespace {

using testing::SeededRandom;

TEST(CanaryAudit, RevealMustMatchTheCommitment) {
  SeededRandom rng(1);
  // 128 canaries: 64 pairs, one bit each.
  const std::string bits = privacy::DrawInclusionBits(64, [&rng] { return rng.NextU64(); });
  const std::string salt = privacy::RandomHex([&rng] { return rng.NextU64(); }, 4);
  const std::string commitment = privacy::Commitment(bits, salt);
  EXPECT_TRUE(CheckReveal(commitment, bits, salt, 128).ok());
  std::string flipped = bits;
  flipped[10] = flipped[10] == '1' ? '0' : '1';
  EXPECT_EQ(CheckReveal(commitment, flipped, salt, 128).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckReveal(commitment, bits, salt + "0", 128).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckReveal(commitment, bits.substr(1), salt, 128).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckReveal(commitment, bits, salt, 127).code(), absl::StatusCode::kInvalidArgument)
      << "an odd number of canaries is not pairs";
  std::string letters = bits;
  letters[0] = 'x';
  EXPECT_EQ(CheckReveal(privacy::Commitment(letters, salt), letters, salt, 128).code(),
            absl::StatusCode::kInvalidArgument);
  // Bits that match their commitment but were not drawn fairly (all ones: p = 2^-63).
  const std::string all_ones(64, '1');
  const absl::Status loaded = CheckReveal(privacy::Commitment(all_ones, salt), all_ones, salt, 128);
  EXPECT_EQ(loaded.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.message()), ::testing::HasSubstr("not plausible"));
  const int ones = static_cast<int>(std::count(bits.begin(), bits.end(), '1'));
  EXPECT_GT(ones, 16);
  EXPECT_LT(ones, 48);
}

// Fair bits pass the plausibility test at its stated rate; loaded bits fail it. 2,000 honest
// draws of 50 bits: each fails with probability < 1e-6, so any failure here is a bug.
TEST(CanaryAudit, PlausibilityOfRevealedBits) {
  SeededRandom rng(9);
  for (int i = 0; i < 2000; ++i) {
    EXPECT_TRUE(privacy::PlausibleFairBits(
        privacy::DrawInclusionBits(50, [&rng] { return rng.NextU64(); })));
  }
  EXPECT_FALSE(privacy::PlausibleFairBits(std::string(50, '1')));
  EXPECT_FALSE(privacy::PlausibleFairBits(std::string(50, '0')));
  EXPECT_FALSE(privacy::PlausibleFairBits(std::string(45, '1') + std::string(5, '0')));
  EXPECT_TRUE(
      privacy::PlausibleFairBits(std::string(35, '1') + std::string(15, '0')));  // p ~ 0.007
  EXPECT_TRUE(privacy::PlausibleFairBits(std::string(20, '1')));  // too few bits to tell
}

TEST(CanaryAudit, CanariesAreValidRecordsFromSparseCornersOfTheDomain) {
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

class CanaryAuditOfARelease : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    heart_ = new fedsyn::testing::EncodedHeart(fedsyn::testing::LoadEncodedHeart("cleveland"));
    records_ = new data::Table(
        data::ReadCsvTable(fedsyn::testing::HeartFile("cleveland"), heart_->schema)->table);
  }
  static void TearDownTestSuite() {
    delete heart_;
    delete records_;
  }

  // One audited release: the site's records plus the included canaries, through the mechanism
  // at `epsilon_per_unit`; returns the verdict against `claimed` (delta 0).
  static CanaryVerdict AuditOnce(uint64_t seed, double epsilon_per_unit, double claimed) {
    SeededRandom rng(seed);
    const data::Schema& schema = heart_->schema;
    const data::Table canaries = MakeCanaries(schema, 100, rng);
    const std::string bits = privacy::DrawInclusionBits(50, [&rng] { return rng.NextU64(); });
    data::Table input = *records_;
    for (size_t j = 0; j < bits.size(); ++j) {
      const int64_t included = privacy::IncludedCanaryIndex(static_cast<int64_t>(j), bits[j]);
      input.rows.push_back(canaries.rows[static_cast<size_t>(included)]);
    }
    // The site trains on its input too, canaries included (in the clear: the audit here is
    // of the release mechanism and its claim).
    const data::Table released =
        fedsyn::testing::MemorisingRelease(*heart_, input, epsilon_per_unit, seed, rng);
    const CanaryScores scores = ScoreCanaries(canaries, released, data::Table{}, schema);
    return JudgeCanaries(scores, bits, claimed, 0.0);
  }

  static fedsyn::testing::EncodedHeart* heart_;
  static data::Table* records_;
};
fedsyn::testing::EncodedHeart* CanaryAuditOfARelease::heart_ = nullptr;
data::Table* CanaryAuditOfARelease::records_ = nullptr;

TEST_F(CanaryAuditOfARelease, FindsTheLeakWhenTheNoiseIsSwitchedOff) {
  // The test-only hook: eps_d = 1e4 makes the noise negligible, while the claim says 1.
  const CanaryVerdict v = AuditOnce(3, 1e4, 1.0);
  std::printf("noise off: lower bound %.3f (claim 1), nearest-row AUC %.3f, density AUC %.3f\n",
              v.empirical_lower_bound, v.nearest_row.auc.estimate, v.density_ratio.auc.estimate);
  EXPECT_TRUE(v.exceeds_claim);
  EXPECT_GT(v.empirical_lower_bound, 1.0);
  EXPECT_GT(std::max(v.nearest_row.auc.estimate, v.density_ratio.auc.estimate), 0.9);
}

TEST_F(CanaryAuditOfARelease, StaysWithinAnHonestClaimInRepeatedRuns) {
  // eps_d = 0.2 with R = 10: a release epsilon of about 4 per record.
  const double claim = fedsyn::testing::MemorisingReleaseEpsilon(0.2);
  for (uint64_t seed = 10; seed < 15; ++seed) {
    const CanaryVerdict v = AuditOnce(seed, 0.2, claim);
    std::printf("seed %llu: lower bound %.3f (claim %.4f)\n", static_cast<unsigned long long>(seed),
                v.empirical_lower_bound, claim);
    EXPECT_FALSE(v.exceeds_claim) << "seed " << seed;
    EXPECT_LE(v.empirical_lower_bound, claim);
  }
}

}  // namespace
}  // namespace fedsyn::coordinator
