// The canary audit's scoring and judging (the protocol's parts are tested in
// tests/audit/canary_protocol_test.cc): with the noise switched off by a test-only hook (a
// mechanism with negligible noise while the claim says epsilon 1 — an accounting bug) the audit
// finds the leak, and with the real mechanism at a modest epsilon its lower bound stays at or below
// the claim in repeated runs.
#include "coordinator/canary_audit.h"

#include "common/audit/canary_protocol.h"
#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/memorising_release.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::coordinator {
namespace {

using testing::SeededRandom;

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
    const data::Table canaries = audit::MakeCanaries(schema, 100, rng);
    const audit::InclusionBits bits =
        audit::DrawInclusionBits(50, [&rng] { return rng.NextU64(); });
    data::Table input = *records_;
    for (size_t j = 0; j < bits.size(); ++j) {
      const int64_t included = audit::IncludedCanaryIndex(static_cast<int64_t>(j), bits[j]);
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
