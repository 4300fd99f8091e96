#include "common/privacy/budget.h"

#include <cmath>

#include "common/privacy/guarantee.h"
#include "gtest/gtest.h"

namespace fedsyn::privacy {
namespace {

TEST(Budget, ChargesRoundUpNeverDown) {
  EXPECT_EQ(*EpsilonToChargeMicros(1.0), 1'000'000);
  EXPECT_EQ(*EpsilonToChargeMicros(0.0), 0);
  EXPECT_EQ(*EpsilonToChargeMicros(1.0000001), 1'000'001);
  EXPECT_EQ(*EpsilonToChargeMicros(3.0013810679), 3'001'382);
  EXPECT_GE(*EpsilonToChargeMicros(0.1 + 0.2), 300'000);
}

TEST(Budget, RejectsUnrepresentableEpsilons) {
  EXPECT_FALSE(EpsilonToChargeMicros(-0.1).ok());
  EXPECT_FALSE(EpsilonToChargeMicros(NAN).ok());
  EXPECT_FALSE(EpsilonToChargeMicros(INFINITY).ok());
  EXPECT_FALSE(EpsilonToChargeMicros(2e9).ok());
}

TEST(Budget, FormatsExactDecimals) {
  EXPECT_EQ(FormatMicros(1'234'567), "1.234567");
  EXPECT_EQ(FormatMicros(5), "0.000005");
  EXPECT_EQ(FormatMicros(-2'500'000), "-2.500000");
}

TEST(ResolveDelta, DefaultsToTheSmallerOfOneInAMillionAndATenthOfOneOverN) {
  std::string warning = "stale";
  EXPECT_EQ(*ResolveDelta(std::nullopt, 303, &warning), 1e-6);
  EXPECT_TRUE(warning.empty());
  EXPECT_DOUBLE_EQ(*ResolveDelta(std::nullopt, 1'000'000, &warning), 1e-7);
}

TEST(ResolveDelta, RefusesADeltaOfOneOverNOrMoreAndNamesN) {
  std::string warning;
  auto refused = ResolveDelta(1e-3, 1000, &warning);  // exactly 1/n
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(refused.status().message()).find("n = 1000"), std::string::npos);
  EXPECT_EQ(ResolveDelta(1e-2, 303, &warning).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ResolveDelta(0.0, 303, &warning).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveDelta(std::nullopt, 0, &warning).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResolveDelta, WarnsBetweenATenthOfOneOverNAndOneOverN) {
  std::string warning;
  EXPECT_EQ(*ResolveDelta(5e-4, 1000, &warning), 5e-4);
  EXPECT_NE(warning.find("1/(10n)"), std::string::npos);
  EXPECT_EQ(*ResolveDelta(1e-5, 1000, &warning), 1e-5);
  EXPECT_TRUE(warning.empty());
}

}  // namespace
}  // namespace fedsyn::privacy

namespace fedsyn::privacy {
namespace {

TEST(Charge, IsMadeOnceFromTheGuaranteeRoundingUp) {
  auto charge = Charge::Make(6.0000001, /*model_private=*/true, 1.5, 1e-6, "m");
  ASSERT_TRUE(charge.ok()) << charge.status();
  EXPECT_EQ(charge->release_micros, 6'000'001);
  EXPECT_EQ(charge->model_micros, 1'500'000);
  EXPECT_EQ(*charge->ClaimedMicros(), 7'500'001);
  EXPECT_TRUE(charge->Validate().ok());
  // A model trained in the clear has no model part, whatever epsilon the file states.
  auto clear = Charge::Make(2.0, /*model_private=*/false, 9.0, 1e-5, "m");
  ASSERT_TRUE(clear.ok());
  EXPECT_EQ(clear->model_micros, 0);
  EXPECT_EQ(clear->model_delta, 0);
  EXPECT_EQ(*clear->ClaimedMicros(), 2'000'000);
  EXPECT_EQ(Charge::Make(1.0, true, 0.0, 1e-6).status().code(), absl::StatusCode::kInvalidArgument)
      << "a private model states a positive epsilon";
  EXPECT_EQ(Charge::Make(1.0, true, 1.0, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Charge::Make(-1.0, false, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Charge::Make(NAN, false, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// What a ledger accepts from a peer: every flaw a hostile reservation could carry is refused.
TEST(Charge, ValidateRefusesWhatNoHonestSiteSends) {
  const Charge good{1'000'000, true, 2'000'000, "m", 1e-6};
  EXPECT_TRUE(good.Validate().ok());
  std::vector<Charge> bad(7, good);
  bad[0].release_micros = -1;
  bad[1].model_micros = kMaxChargeMicros + 1;
  bad[2].model_micros = 0;       // private without epsilon
  bad[3].model_sha256 = "";      // private without a model to charge once
  bad[4].model_delta = 1.0;      // a delta that promises nothing
  bad[5].model_private = false;  // not private, yet an epsilon
  bad[6].release_micros = kMaxChargeMicros + 1;
  for (size_t i = 0; i < bad.size(); ++i)
    EXPECT_EQ(bad[i].Validate().code(), absl::StatusCode::kInvalidArgument) << i;
}

// The once-per-model rule: the model's epsilon is due on its first charged release only.
TEST(Charge, TheModelPartIsDueOnceAndSumsAreOverflowChecked) {
  const Charge charge{1'000'000, true, 2'000'000, "m", 1e-6};
  EXPECT_EQ(*ModelPartDue(charge, /*model_paid_before=*/false), 2'000'000);
  EXPECT_EQ(*ModelPartDue(charge, /*model_paid_before=*/true), 0);
  EXPECT_EQ(*TotalDue(charge, 2'000'000), 3'000'000);
  const Charge clear{1'000'000, false, 0, "", 0};
  EXPECT_EQ(*ModelPartDue(clear, false), 0) << "nothing to pay for a model in the clear";
  EXPECT_EQ(ModelPartDue(Charge{1, true, 5, "", 0}, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  const Charge huge{INT64_MAX, false, 0, "", 0};
  EXPECT_EQ(TotalDue(huge, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((Charge{INT64_MAX, true, 1, "m", 0}).ClaimedMicros().status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Budget, EmpiricalBoundsRoundDownAndMicrosReadBack) {
  EXPECT_EQ(*LowerBoundMicros(1.7469999), 1'746'999);
  EXPECT_EQ(*LowerBoundMicros(0), 0);
  EXPECT_EQ(LowerBoundMicros(-0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LowerBoundMicros(INFINITY).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_DOUBLE_EQ(MicrosToEpsilon(1'500'000), 1.5);
  EXPECT_DOUBLE_EQ(MicrosToEpsilon(*EpsilonToChargeMicros(0.25)), 0.25);
}

}  // namespace
}  // namespace fedsyn::privacy

namespace fedsyn::privacy {
namespace {

// The guarantee in epsilon and its charge in micro-epsilon say the same thing: per-person
// release epsilon is L times a row's, the total adds the model's (basic composition).
TEST(Guarantee, ComposesBasicallyAndItsChargeAgrees) {
  Guarantee g;
  g.epsilon_codes = 1.5;
  g.epsilon_labels = 0.5;
  g.rows_per_person = 3;
  g.model_private = true;
  g.epsilon_model = 2.0;
  g.delta_model = 1e-6;
  EXPECT_DOUBLE_EQ(g.EpsilonRelease(), 6.0);
  EXPECT_DOUBLE_EQ(g.EpsilonTotal(), 8.0);
  EXPECT_NE(g.Describe().find("eps_total = 8 per person"), std::string::npos) << g.Describe();
  const Charge charge =
      *Charge::Make(g.EpsilonRelease(), g.model_private, g.epsilon_model, g.delta_model, "m");
  EXPECT_EQ(*charge.ClaimedMicros(), 8'000'000);
  g.model_private = false;
  EXPECT_NE(g.Describe().find("MODEL NOT PRIVATE"), std::string::npos);
}

}  // namespace
}  // namespace fedsyn::privacy
