// `audit run` end to end at the coordinator: a site opens an audit over the site API, includes
// its chosen canaries in training and in its release at random positions, uploads, commits and
// reveals; RunAudits then judges the release from what arrived. With the noise switched off by
// the test-only hook (tests/support/memorising_release.h) while the reservation claims epsilon 1,
// the release fails and the gate keeps it out of the export until an operator approves it — and
// even then its canary rows stay out. The real mechanism at a modest epsilon passes.
// (An integration test: the test plays the site with the canary protocol of common/audit and
// the site agent's release step, and the coordinator's session, storage and audit judge it.)
#include "coordinator/audit_runner.h"

#include <filesystem>
#include <map>

#include "common/audit/canary_protocol.h"
#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "coordinator/export.h"
#include "coordinator/release_gate.h"
#include "coordinator/site_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "site_agent/release.h"
#include "tests/support/heart_data.h"
#include "tests/support/memorising_release.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::coordinator {
namespace {

namespace p = protocol;
using ::testing::HasSubstr;
using testing::SeededRandom;

class AuditRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    heart_ = new fedsyn::testing::EncodedHeart(fedsyn::testing::LoadEncodedHeart("cleveland"));
  }
  static void TearDownTestSuite() { delete heart_; }

  void SetUp() override {
    // 200 canaries, 100 pairs: enough for a one-run bound near 3 when every pair is guessed.
    config_.datasets.push_back({"heart", heart_->schema, /*audit_canaries=*/200});
    ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 50'000'000).ok());
  }

  // The site's whole audited release over the site API; returns the release id. `claimed` is
  // the release's epsilon as reserved; in codes mode the decoder says it was trained with DP at
  // epsilon 0.5 (it was not: part of the test-only hook), so the claim grows by 0.5.
  // `canaries_released` false: a dishonest site that trains on its canaries but releases real
  // records at their positions.
  std::string AuditedRelease(const std::string& id, double epsilon_per_unit, double claimed,
                             uint64_t seed,
                             privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic,
                             bool canaries_released = true) {
    SeededRandom site_rng(seed);
    SiteSession session(
        "cleveland", *storage_, config_, [] { return 1000; }, coordinator_rng_);
    EXPECT_TRUE(
        std::holds_alternative<p::Welcome>(session.Handle(p::Hello{p::kProtocolVersion, "t"})));
    const auto job = std::get<p::AuditJob>(session.Handle(p::AuditJobQuery{id, "heart"}));
    // The site's side of the canary protocol (common/audit): draw and commit the bits, place
    // the included canaries among the records.
    struct {
      audit::InclusionBits bits;
      std::string salt;
      std::vector<int64_t> positions;
    } record;
    record.bits = audit::DrawInclusionBits(static_cast<int>(job.count / 2),
                                           [&] { return site_rng.NextU64(); });
    record.salt = audit::NewSalt([&] { return site_rng.NextU64(); });
    EXPECT_TRUE(std::holds_alternative<p::AuditStateReply>(
        session.Handle(p::CanaryCommitment{id, audit::CommitToBits(record.bits, record.salt)})));
    data::Table input =
        data::ReadCsvTable(fedsyn::testing::HeartFile("cleveland"), heart_->schema)->table;
    data::Table issued =
        data::ParseCsvTable(job.canaries, heart_->schema, "canaries", data::HeaderlessCsvFormat())
            ->table;
    record.positions = audit::PlaceCanaries(
        record.salt, *audit::SelectIncludedCanaries(std::move(issued), record.bits, id), input);
    model::ModelBundle bundle = fedsyn::testing::MemorisingModel(*heart_, input, seed);
    if (!canaries_released) {
      const std::vector<int64_t> positions =
          audit::CanaryPositions(record.salt, input.num_rows(), record.bits.size());
      for (size_t j = 0; j < positions.size(); ++j)
        input.rows[static_cast<size_t>(positions[j])] = input.rows[j];  // a real record instead
    }
    const privacy::MetricMechanism mechanism =
        fedsyn::testing::MemorisingMechanism(epsilon_per_unit);
    p::Reserve reserve{
        id, "heart", {*privacy::EpsilonToChargeMicros(claimed), false}, input.num_rows(), mode};
    reserve.relation = privacy::NeighbouringRelation::kReplaceOne;
    // The mechanism the site states: the one it runs when honest; under the noise-off hook, one
    // that would justify its (false) claim.
    const double honest = mechanism.RecordEpsilon();
    reserve.mechanism = mechanism.params();
    if (honest > claimed) reserve.mechanism->epsilon_per_unit *= claimed / honest * (1 - 1e-9);
    std::string rows;
    if (mode == privacy::ReleaseMode::kCodes) {
      bundle.model_private = true;
      bundle.training = {{"parameters", {{"dataset", "heart"}, {"audit_job", id}}}};
      bundle.model_epsilon = 0.5;
      bundle.model_delta = 1e-5;
      const std::string decoder = *model::PublishedModelBytes(bundle);
      reserve.charge.model_private = true;
      reserve.charge.model_sha256 = privacy::Sha256Hex(decoder);
      reserve.charge.model_micros = 500'000;
      reserve.charge.model_delta = 1e-5;
      EXPECT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(reserve)));
      EXPECT_TRUE(
          std::holds_alternative<p::ModelStored>(session.Handle(p::UploadModel{id, decoder})));
      const auto codes = site::ReleaseTableCodes(bundle, input, mechanism, site_rng);
      rows = data::FormatMatrixCsv(codes->noised_codes, /*header=*/false);
    } else {
      EXPECT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(reserve)));
      const auto released =
          site::ReleaseTable(bundle, input, mechanism, data::DecodingMode::kArgmax,
                             privacy::CodeDecoding::kNoisedCode, site_rng);
      const std::string csv =
          data::FormatCsvTable(released->synthetic, heart_->schema, data::FormulaCells::kKeep);
      rows = csv.substr(csv.find('\n') + 1);
    }
    EXPECT_TRUE(std::holds_alternative<p::ChunkAck>(session.Handle(p::UploadChunk{id, 0, rows})));
    EXPECT_TRUE(std::holds_alternative<p::Committed>(
        session.Handle(p::Commit{id, input.num_rows(), privacy::Sha256Hex(rows)})));
    EXPECT_TRUE(std::holds_alternative<p::AuditStateReply>(
        session.Handle(p::CanaryReveal{id, record.bits, record.salt, record.positions})));
    return id;
  }

  AuditStatus StatusOf(const std::string& id) {
    return DecideGate(*storage_, **storage_->GetRelease(id))->status;
  }

  static fedsyn::testing::EncodedHeart* heart_;
  CoordinatorConfig config_;
  std::unique_ptr<Storage> storage_ = NewInMemoryStorage();
  SeededRandom coordinator_rng_{99};
};
fedsyn::testing::EncodedHeart* AuditRun::heart_ = nullptr;

TEST_F(AuditRun, ANoiselessReleaseFailsAndStaysOutOfTheExportUntilApproved) {
  const std::string id = AuditedRelease("leaky", /*epsilon_per_unit=*/1e4, /*claimed=*/1.0, 3);
  EXPECT_EQ(StatusOf(id), AuditStatus::kPending) << "revealed, not judged yet";
  AuditRunOptions options;
  options.report_dir = fedsyn::testing::ScratchDir("audit_run_leaky");
  auto run = RunAudits(*storage_, config_, options, coordinator_rng_, 2000);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->size(), 1u);
  EXPECT_EQ(run->at(0).failed(), 1);
  ASSERT_EQ(run->at(0).judged.size(), 1u);
  EXPECT_EQ(run->at(0).judged[0].verdict.release_id, id);
  EXPECT_EQ(run->at(0).judged[0].site_id, "cleveland");
  EXPECT_FALSE(run->at(0).judged[0].verdict.passed);
  EXPECT_FALSE(run->at(0).judged[0].verdict.reason.empty()) << "the CLI prints why";
  const auto verdict = *storage_->GetVerdict(id);
  ASSERT_TRUE(verdict.has_value());
  std::printf("noise off, claim 1: empirical lower bound %.3f; %s\n",
              verdict->lower_bound_micros / 1e6, verdict->reason.c_str());
  EXPECT_GT(verdict->lower_bound_micros, 1'000'000);
  EXPECT_THAT(verdict->reason, HasSubstr("exceeds the claimed 1.000"));
  EXPECT_EQ(StatusOf(id), AuditStatus::kFailed);
  // The downstream audit sees it too: a model trained on the pooled rows separates included
  // from excluded canaries.
  const DownstreamAudit& downstream = run->at(0).report.downstream;
  ASSERT_TRUE(downstream.ran);
  std::map<std::string, double> auc;
  for (const eval::NamedAttack& a : downstream.attacks) auc[a.name] = a.metrics.auc.estimate;
  ASSERT_EQ(auc.size(), 3u) << "the shared suite: loss threshold, shadow models, LiRA offline";
  std::printf("downstream: LiRA AUC %.3f, loss AUC %.3f, shadow AUC %.3f\n", auc.at("lira_offline"),
              auc.at("loss_threshold"), auc.at("shadow_models"));
  EXPECT_GT(auc.at("lira_offline"), 0.65);

  // A second run finds nothing new to judge: verdicts are final.
  EXPECT_TRUE(RunAudits(*storage_, config_, options, coordinator_rng_, 2001)->empty());

  // The reports: JSON with the same figures, HTML with the ROC plots inline.
  const std::string json = *data::ReadFileToString(run->at(0).json_path);
  EXPECT_THAT(json, HasSubstr("\"status\": \"failed\""));
  const nlohmann::json file = nlohmann::json::parse(json);
  EXPECT_EQ(file["downstream"]["attacks"]["lira_offline"]["auc"]["estimate"].get<double>(),
            auc.at("lira_offline"));
  ASSERT_EQ(file["releases"].size(), 1u);
  EXPECT_EQ(file["releases"][0]["empirical_lower_bound"].get<double>(),
            run->at(0).report.releases[0].verdict.empirical_lower_bound);
  const std::string html = *data::ReadFileToString(run->at(0).html_path);
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("ROC (log-log)"));
  EXPECT_THAT(html, HasSubstr("class=\"failed\""));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("src=\"http"))) << "self-contained";

  // The gate: a failed release is held back; an approval lets it through, canary rows removed.
  auto held = ExportPooledCsv(*storage_, config_, "heart", false, coordinator_rng_);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->held_back, std::vector<std::string>{id});
  ASSERT_TRUE(storage_->Approve({id, "dr. operator", "known test release", 3000}).ok());
  auto approved = ExportPooledCsv(*storage_, config_, "heart", false, coordinator_rng_);
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(approved->exported, std::vector<std::string>{id});
  const auto audit = **storage_->GetAudit(id);
  EXPECT_EQ(approved->canary_rows_removed, static_cast<int64_t>(audit.bits.size()))
      << "one included canary per pair";
  EXPECT_EQ(std::count(approved->csv.begin(), approved->csv.end(), '\n') - 1, 303)
      << "exactly the site's own 303 records' rows";
  const auto gate = *DecideGate(*storage_, **storage_->GetRelease(id));
  ASSERT_TRUE(gate.approval.has_value());
  EXPECT_EQ(gate.approval->approved_by, "dr. operator");
  EXPECT_EQ(gate.approval->reason, "known test release");
}

TEST_F(AuditRun, AnHonestReleasePassesAndIsExportedWithoutItsCanaryRows) {
  const double claimed = fedsyn::testing::MemorisingReleaseEpsilon(0.2);
  const std::string id = AuditedRelease("honest", /*epsilon_per_unit=*/0.2, claimed, 11);
  // The gate on the bound alone: at epsilon 4 per record an attack may legitimately reach a TPR
  // of ~0.3 at FPR 1/45 (e^4 x 1/45 > 1), which the default TPR threshold would (rightly) refuse.
  AuditRunOptions bound_only;
  bound_only.max_tpr_at_01pct_fpr = 1.0;
  auto run = RunAudits(*storage_, config_, bound_only, coordinator_rng_, 2000);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->size(), 1u);
  const auto verdict = **storage_->GetVerdict(id);
  std::printf("honest, claim %.3f: empirical lower bound %.3f; downstream %s\n", claimed,
              verdict.lower_bound_micros / 1e6,
              run->at(0).report.downstream.ToJson().dump().substr(0, 200).c_str());
  EXPECT_TRUE(verdict.passed) << verdict.reason;
  EXPECT_LE(verdict.lower_bound_micros / 1e6, claimed);
  EXPECT_TRUE(run->at(0).report.downstream.ran);
  auto pooled = ExportPooledCsv(*storage_, config_, "heart", false, coordinator_rng_);
  ASSERT_TRUE(pooled.ok());
  EXPECT_EQ(pooled->exported, std::vector<std::string>{id});
  EXPECT_EQ(std::count(pooled->csv.begin(), pooled->csv.end(), '\n') - 1, 303);
}

TEST_F(AuditRun, ANoiselessCodesReleaseIsScoredInItsLatentSpaceAndFails) {
  // Codes mode: the coordinator holds noised codes and the published decoder; it encodes the
  // canaries with that model and compares codes directly.
  const std::string id = AuditedRelease("leaky-codes", /*epsilon_per_unit=*/1e4, /*claimed=*/1.0, 4,
                                        privacy::ReleaseMode::kCodes);
  auto run = RunAudits(*storage_, config_, AuditRunOptions{}, coordinator_rng_, 2000);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->size(), 1u);
  const ReleaseAuditEntry& entry = run->at(0).report.releases[0];
  EXPECT_EQ(entry.ToJson()["scored_in"], "latent codes (the published encoder)");
  EXPECT_NEAR(entry.verdict.claimed_epsilon, 1.5, 1e-5) << "model 0.5 + release 1";
  const auto verdict = **storage_->GetVerdict(id);
  std::printf("codes, noise off, claim 1.5: lower bound %.3f, nearest-code AUC %.3f; %s\n",
              verdict.lower_bound_micros / 1e6, entry.verdict.nearest_row.auc.estimate,
              verdict.reason.c_str());
  EXPECT_FALSE(verdict.passed);
  EXPECT_GT(verdict.lower_bound_micros, 1'500'000);
  // The codes are not what the stated mechanism would give: the presence test says so too.
  ASSERT_TRUE(entry.presence.has_value());
  EXPECT_FALSE(entry.presence->passed);
  EXPECT_THAT(verdict.reason, HasSubstr("mechanism is not as stated"));
  // The gate and the export work on codes releases as on any other: held back, and once
  // approved exported as decoded records without the canary rows.
  auto held = ExportPooledCsv(*storage_, config_, "heart", false, coordinator_rng_);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->held_back, std::vector<std::string>{id});
  ASSERT_TRUE(storage_->Approve({id, "dr. operator", "codes test", 3000}).ok());
  auto approved = ExportPooledCsv(*storage_, config_, "heart", false, coordinator_rng_);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(std::count(approved->csv.begin(), approved->csv.end(), '\n') - 1, 303);
}

// The presence test in codes mode: an honest release (the stated mechanism at eps_d = 2) keeps
// its canaries' codes plus noise of the stated law and passes; a site that trained on its
// canaries but released real records at their positions fails as "canaries missing".
TEST_F(AuditRun, CodesWithoutTheirCanariesFailThePresenceTest) {
  ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 500'000'000).ok());  // two claims of ~40
  const double claim = fedsyn::testing::MemorisingReleaseEpsilon(2.0);
  const std::string honest = AuditedRelease("present", 2.0, claim, 6, privacy::ReleaseMode::kCodes);
  const std::string missing = AuditedRelease("missing", 2.0, claim, 7, privacy::ReleaseMode::kCodes,
                                             /*canaries_released=*/false);
  auto run = RunAudits(*storage_, config_, AuditRunOptions{}, coordinator_rng_, 2000);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->size(), 1u);
  std::map<std::string, PresenceTest> by_id;
  for (const ReleaseAuditEntry& entry : run->at(0).report.releases) {
    ASSERT_TRUE(entry.presence.has_value()) << entry.release_id;
    by_id[entry.release_id] = *entry.presence;
  }
  const PresenceTest& present_test = by_id.at(honest);
  const PresenceTest& missing_test = by_id.at(missing);
  std::printf("presence: honest KS %.3f, canaries missing KS %.3f (critical %.3f, %d pairs)\n",
              present_test.ks_statistic, missing_test.ks_statistic, present_test.critical_value,
              present_test.pairs);
  EXPECT_TRUE(present_test.passed);
  EXPECT_FALSE(missing_test.passed);
  EXPECT_THAT((**storage_->GetVerdict(missing)).reason, HasSubstr("canaries missing"));
  EXPECT_THAT((**storage_->GetVerdict(honest)).reason,
              ::testing::Not(HasSubstr("canaries missing")));
}

}  // namespace
}  // namespace fedsyn::coordinator
