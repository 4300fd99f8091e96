#include "coordinator/export.h"
#include "coordinator/site_session.h"

#include "common/privacy/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::coordinator {
namespace {

using ::testing::HasSubstr;
namespace p = ::fedsyn::protocol;

constexpr char kRow1[] = "63,1,1,145,233,1,2,150,0,2.3,3,0,6,0\n";
constexpr char kRow2[] = "67,1,4,160,286,0,2,108,1,1.5,2,3,3,2\n";

class SiteSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = data::Schema::LoadFile(testing::DemoDataDir() +
                                         "/heart_disease_uci/heart_disease.schema.toml");
    ASSERT_TRUE(schema.ok());
    config_.datasets.push_back({"heart", *schema});
    ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 10'000'000).ok());
    ASSERT_TRUE(storage_->SetLimit("va", "heart", 10'000'000).ok());
  }
  SiteSession Greeted(const std::string& site) {
    SiteSession session(site, *storage_, config_, [] { return 1000; });
    EXPECT_TRUE(
        std::holds_alternative<p::Welcome>(session.Handle(p::Hello{p::kProtocolVersion, "test"})));
    return session;
  }
  static p::Error ErrorOf(const p::SiteResponse& r) {
    EXPECT_TRUE(std::holds_alternative<p::Error>(r))
        << "expected an error, got alternative " << r.index();
    return std::holds_alternative<p::Error>(r) ? std::get<p::Error>(r) : p::Error{};
  }

  CoordinatorConfig config_;
  std::unique_ptr<Storage> storage_ = NewInMemoryStorage();
};

TEST_F(SiteSessionTest, HelloFirstAndOnlyInOurProtocolVersion) {
  SiteSession session("cleveland", *storage_, config_, [] { return 1; });
  EXPECT_EQ(ErrorOf(session.Handle(p::Heartbeat{})).code, absl::StatusCode::kFailedPrecondition);
  const p::Error wrong = ErrorOf(session.Handle(p::Hello{99, "future"}));
  EXPECT_EQ(wrong.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.message,
              HasSubstr("protocol version 99 is not supported; this coordinator speaks version 1"));
  const p::SiteResponse welcome = session.Handle(p::Hello{p::kProtocolVersion, "test"});
  ASSERT_TRUE(std::holds_alternative<p::Welcome>(welcome));
  const auto& w = std::get<p::Welcome>(welcome);
  EXPECT_EQ(w.site_id, "cleveland");
  ASSERT_EQ(w.datasets.size(), 1u);
  EXPECT_EQ(w.datasets[0].limit_micros, 10'000'000);
  EXPECT_THAT(w.datasets[0].schema_toml, HasSubstr("name = \"heart_disease\""));
  EXPECT_TRUE(std::holds_alternative<p::HeartbeatReply>(session.Handle(p::Heartbeat{})));
}

TEST_F(SiteSessionTest, UploadCommitAndExportOnlyCommittedRows) {
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(
      session.Handle(p::Reserve{"r1", "heart", 2'000'000, 2, "synthetic", false})));
  auto ack = session.Handle(p::UploadChunk{"r1", 0, kRow1});
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(ack)) << ErrorOf(ack).message;
  EXPECT_EQ(std::get<p::ChunkAck>(session.Handle(p::UploadChunk{"r1", 1, kRow2})).next_index, 2u);
  const std::string content = std::string(kRow1) + kRow2;

  // An uncommitted release is not exported.
  auto before = ExportPooledCsv(*storage_, config_, "heart", false);
  ASSERT_TRUE(before.ok());
  EXPECT_THAT(*before, ::testing::StartsWith("age,sex,cp,"));
  EXPECT_EQ(before->find('\n') + 1, before->size()) << "only the header line";

  EXPECT_EQ(ErrorOf(session.Handle(p::Commit{"r1", 2, privacy::Sha256Hex("tampered")})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(session.Handle(p::Commit{"r1", 3, privacy::Sha256Hex(content)})).code,
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(std::holds_alternative<p::Committed>(
      session.Handle(p::Commit{"r1", 2, privacy::Sha256Hex(content)})));
  auto exported = ExportPooledCsv(*storage_, config_, "heart", true);
  ASSERT_TRUE(exported.ok());
  EXPECT_THAT(*exported, HasSubstr("site,age,sex"));
  EXPECT_THAT(*exported, HasSubstr("cleveland,63,1,1,145"));
  EXPECT_THAT(*exported, HasSubstr("cleveland,67,1,4,160"));
}

TEST_F(SiteSessionTest, RowsOutsideTheSchemaAreRefusedAndNothingIsStored) {
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(
      session.Handle(p::Reserve{"r1", "heart", 1'000'000, 1, "synthetic", false})));
  for (const char* bad :
       {"63,1,1,nan,233,1,2,150,0,2.3,3,0,6,0\n", "63,1,1,inf,233,1,2,150,0,2.3,3,0,6,0\n",
        "63,1,1,145,233,1,2,150,0,2.3,3,0,6,9\n", "999,1,1,145,233,1,2,150,0,2.3,3,0,6,0\n",
        "63,1,1\n"}) {
    EXPECT_EQ(ErrorOf(session.Handle(p::UploadChunk{"r1", 0, bad})).code,
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ((*storage_->GetRelease("r1"))->next_chunk, 0u);
}

TEST_F(SiteSessionTest, BudgetRefusalCarriesTheRemainder) {
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(
      session.Handle(p::Reserve{"r1", "heart", 7'000'000, 1, "synthetic", false})));
  const p::Error refused =
      ErrorOf(session.Handle(p::Reserve{"r2", "heart", 7'000'000, 1, "synthetic", false}));
  EXPECT_EQ(refused.code, absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.remaining_micros, 3'000'000);
  auto replay = session.Handle(p::Reserve{"r1", "heart", 7'000'000, 1, "synthetic", false});
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(replay));
  EXPECT_TRUE(std::get<p::Reserved>(replay).replayed);
}

TEST_F(SiteSessionTest, RefusesBadReservations) {
  SiteSession session = Greeted("cleveland");
  EXPECT_EQ(ErrorOf(session.Handle(p::Reserve{"../etc", "heart", 1, 1, "synthetic", false})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(session.Handle(p::Reserve{"r1", "adult", 1, 1, "synthetic", false})).code,
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(session.Handle(p::Reserve{"r1", "heart", 0, 1, "synthetic", false})).code,
            absl::StatusCode::kInvalidArgument);
  const p::Error codes = ErrorOf(session.Handle(p::Reserve{"r1", "heart", 1, 1, "codes", false}));
  EXPECT_EQ(codes.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(codes.message, HasSubstr("DP-trained model"));
  // A private model must say what its epsilon is.
  EXPECT_EQ(ErrorOf(session.Handle(p::Reserve{"r1", "heart", 1, 1, "codes", true})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(storage_->ListReleases()->empty());
  p::Reserve private_codes{"r1", "heart", 1'000'000, 1, "codes", true};
  private_codes.model_sha256 = "abc";
  private_codes.model_epsilon_micros = 2'000'000;
  auto granted = session.Handle(private_codes);
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(granted))
      << "codes mode is allowed for a DP-trained model";
  EXPECT_EQ(std::get<p::Reserved>(granted).charged_micros, 3'000'000);
}

TEST_F(SiteSessionTest, ASiteCannotActOnAnotherSitesRelease) {
  SiteSession cleveland = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(
      cleveland.Handle(p::Reserve{"r1", "heart", 1'000'000, 1, "synthetic", false})));
  SiteSession va = Greeted("va");
  EXPECT_EQ(ErrorOf(va.Handle(p::UploadChunk{"r1", 0, kRow1})).code, absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(va.Handle(p::Commit{"r1", 1, privacy::Sha256Hex(kRow1)})).code,
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(va.Handle(p::Reserve{"r1", "heart", 1'000'000, 1, "synthetic", false})).code,
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::get<p::ReleaseState>(va.Handle(p::ReleaseStateQuery{"r1"})).state, "unknown");
  EXPECT_EQ(std::get<p::ReleaseState>(cleveland.Handle(p::ReleaseStateQuery{"r1"})).state,
            "reserved");
}

}  // namespace
}  // namespace fedsyn::coordinator
