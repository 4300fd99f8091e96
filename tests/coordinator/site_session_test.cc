#include "coordinator/site_session.h"

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>

#include "common/audit/canary_protocol.h"
#include "common/base/logging.h"
#include "common/base/names.h"
#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "common/privacy/digest.h"
#include "common/privacy/metric_mechanism.h"
#include "coordinator/admin.h"
#include "coordinator/decoder.h"
#include "coordinator/export.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::coordinator {
namespace {

using ::testing::HasSubstr;
namespace p = ::fedsyn::protocol;

constexpr char kRow1[] = "63,1,1,145,233,1,2,150,0,2.3,3,0,6,0\n";
constexpr char kRow2[] = "67,1,4,160,286,0,2,108,1,1.5,2,3,3,2\n";

// A published decoder for the session's checks. Untrained parameters suffice: the session
// judges what a decoder is (table, DP-trained, federation domains, the dataset it was trained
// for), not how good it is.
std::string PublishedDecoder(const data::Schema& schema, bool model_private, int latent_dim,
                             const std::string& dataset = "heart") {
  model::ModelBundle bundle;
  bundle.training = {{"parameters", {{"dataset", dataset}}}};
  bundle.schema = schema;
  bundle.transformer = *data::Transformer::FromSchema(schema);
  bundle.vae = *model::Vae::Create(model::TableVaeSpec(*bundle.transformer, latent_dim, {16}), 1);
  bundle.model_private = model_private;
  bundle.model_epsilon = 1.0;
  bundle.model_delta = 1e-5;
  return *model::PublishedModelBytes(bundle);
}

// A reservation as the agent states it: replace-one, and a mechanism whose per-row epsilon
// (eps_d 1e-7: 3 micro-epsilon after rounding up) every test charge covers.
p::Reserve Stated(p::Reserve reserve) {
  reserve.relation = privacy::NeighbouringRelation::kReplaceOne;
  reserve.mechanism = privacy::MetricMechanismParams{privacy::NoiseMetric::kL2, 1e-7, 3.0, 8, -11};
  return reserve;
}

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
  // Everything a release needs to be exported when it carries no canaries: an operator's
  // approval (the gate holds back unaudited releases).
  void Approve(const std::string& id) {
    ASSERT_TRUE(storage_->Approve({id, "test operator", "unaudited test release", 1}).ok());
  }
  SiteSession Greeted(const std::string& site) {
    SiteSession session(
        site, *storage_, config_, [] { return 1000; }, rng_);
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
  testing::SeededRandom rng_{7};
};

// F8: a peer-chosen string cannot forge a log line. The session logs the hello's agent version
// through a logger set up as the binaries set theirs up.
TEST_F(SiteSessionTest, PeerTextInTheLogIsEscapedAndShort) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  base::UseEscapingFormatter(*logger);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  SiteSession session(
      "cleveland", *storage_, config_, [] { return 1000; }, rng_);
  const std::string forged =
      "1.0\n2026-11-30T00:00:00.000 info site va: committed r-forged (1000 rows)\x1b[2J" +
      std::string(5000, 'A');
  EXPECT_TRUE(
      std::holds_alternative<p::Welcome>(session.Handle(p::Hello{p::kProtocolVersion, forged})));
  spdlog::set_default_logger(previous);
  const std::string log = captured.str();
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_THAT(log, HasSubstr("site cleveland: connected (agent 1.0\\n2026"));
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "no terminal escapes";
  EXPECT_LT(log.size(), 300u) << "the version is cut short";
  EXPECT_THAT(log, HasSubstr("bytes)"));
}

TEST(LogEscaping, EscapesEverythingButPrintableAscii) {
  EXPECT_EQ(base::EscapeForLog("plain text 1.0"), "plain text 1.0");
  EXPECT_EQ(base::EscapeForLog("a\nb\rc\td\\e"), "a\\nb\\rc\\td\\\\e");
  EXPECT_EQ(base::EscapeForLog(std::string("\x00\x1b\x7f\xc3\xa9", 5)),
            "\\x00\\x1b\\x7f\\xc3\\xa9");
  EXPECT_EQ(base::EscapeForLog("abcdef", 3), "abc...(+3 bytes)");
  EXPECT_EQ(base::Truncated("a\nbcdef", 3), "a\nb...(+4 bytes)");
  EXPECT_EQ(base::Truncated("abc", 3), "abc");
}

TEST_F(SiteSessionTest, HelloFirstAndOnlyInOurProtocolVersion) {
  SiteSession session(
      "cleveland", *storage_, config_, [] { return 1; }, rng_);
  EXPECT_EQ(ErrorOf(session.Handle(p::Heartbeat{})).code, absl::StatusCode::kFailedPrecondition);
  const p::Error wrong = ErrorOf(session.Handle(p::Hello{99, "future"}));
  EXPECT_EQ(wrong.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.message,
              HasSubstr("protocol version 99 is not supported; this coordinator speaks version 2"));
  // A version-1 agent (modes and bits as text) is refused before it can say anything else.
  const p::Error old = ErrorOf(session.Handle(p::Hello{1, "fedsyn-agent 0.1"}));
  EXPECT_EQ(old.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(old.message,
              HasSubstr("protocol version 1 is not supported; this coordinator speaks version 2"));
  EXPECT_EQ(ErrorOf(session.Handle(p::Heartbeat{})).code, absl::StatusCode::kFailedPrecondition)
      << "still no hello";
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
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {2'000'000, false}, 2, privacy::ReleaseMode::kSynthetic}))));
  auto ack = session.Handle(p::UploadChunk{"r1", 0, kRow1});
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(ack)) << ErrorOf(ack).message;
  EXPECT_EQ(std::get<p::ChunkAck>(session.Handle(p::UploadChunk{"r1", 1, kRow2})).next_index, 2u);
  const std::string content = std::string(kRow1) + kRow2;

  // An uncommitted release is not exported.
  auto before = ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(before.ok());
  EXPECT_THAT(before->csv, ::testing::StartsWith("age,sex,cp,"));
  EXPECT_EQ(before->csv.find('\n') + 1, before->csv.size()) << "only the header line";
  EXPECT_TRUE(before->held_back.empty()) << "not committed: not even a candidate";

  EXPECT_EQ(ErrorOf(session.Handle(p::Commit{"r1", 2, privacy::Sha256Hex("tampered")})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(session.Handle(p::Commit{"r1", 3, privacy::Sha256Hex(content)})).code,
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(std::holds_alternative<p::Committed>(
      session.Handle(p::Commit{"r1", 2, privacy::Sha256Hex(content)})));
  auto held = ExportPooledCsv(*storage_, config_, "heart", true, rng_);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->held_back, std::vector<std::string>{"r1"}) << "unaudited: held back";
  EXPECT_THAT(held->csv, ::testing::Not(HasSubstr("63,1,1,145")));
  Approve("r1");
  auto exported = ExportPooledCsv(*storage_, config_, "heart", true, rng_);
  ASSERT_TRUE(exported.ok());
  EXPECT_TRUE(exported->held_back.empty());
  EXPECT_THAT(exported->csv, HasSubstr("site,age,sex"));
  EXPECT_THAT(exported->csv, HasSubstr("cleveland,63,1,1,145"));
  EXPECT_THAT(exported->csv, HasSubstr("cleveland,67,1,4,160"));
}

// F10: a site's rows carry categories a spreadsheet would run; the export neutralises them (and
// the column names) unless asked to keep them, and never alters a number.
TEST_F(SiteSessionTest, TheExportNeutralisesFormulaLikeTextButNotNumbers) {
  auto schema = data::Schema::Parse(R"toml(
[dataset]
name = "formulas"
[[column]]
name = "@who"
type = "categorical"
categories = ["=HYPERLINK(\"http://x\")", "-1", "plain"]
[[column]]
name = "delta"
type = "integer"
min = -1000
max = 1000
)toml",
                                    "formulas.toml");
  ASSERT_TRUE(schema.ok()) << schema.status();
  config_.datasets.push_back({"formulas", *schema});
  ASSERT_TRUE(storage_->SetLimit("cleveland", "formulas", 10'000'000).ok());
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(Stated(
      p::Reserve{"r1", "formulas", {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic}))));
  const std::string rows = "\"=HYPERLINK(\"\"http://x\"\")\",-5\n-1,-1000\n";
  auto ack = session.Handle(p::UploadChunk{"r1", 0, rows});
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(ack)) << ErrorOf(ack).message;
  ASSERT_TRUE(std::holds_alternative<p::Committed>(
      session.Handle(p::Commit{"r1", 2, privacy::Sha256Hex(rows)})));
  Approve("r1");
  auto neutral = ExportPooledCsv(*storage_, config_, "formulas", false, rng_);
  ASSERT_TRUE(neutral.ok()) << neutral.status();
  EXPECT_THAT(neutral->csv, ::testing::StartsWith("'@who,delta\n"));
  EXPECT_THAT(neutral->csv, HasSubstr("\"'=HYPERLINK(\"\"http://x\"\")\",-5\n"));
  EXPECT_THAT(neutral->csv, HasSubstr("\n-1,-1000\n"));
  auto reread = data::ParseCsvTable(neutral->csv, *schema, "export", data::OutputCsvFormat());
  ASSERT_TRUE(reread.ok()) << reread.status();
  EXPECT_EQ(reread->table.num_rows(), 2);
  auto kept =
      ExportPooledCsv(*storage_, config_, "formulas", false, rng_, data::FormulaCells::kKeep);
  ASSERT_TRUE(kept.ok());
  EXPECT_THAT(kept->csv, ::testing::StartsWith("@who,delta\n"));
  EXPECT_THAT(kept->csv, HasSubstr("\"=HYPERLINK("));
}

// F7: a reservation of a few rows cannot carry megabytes: padding is refused before storage.
TEST_F(SiteSessionTest, ChunksCannotCarryMoreBytesThanTheirRowsNeed) {
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic}))));
  const std::string blank_lines = std::string(kRow1) + std::string(100'000, '\n');
  const std::string long_numeral = "63.0" + std::string(50'000, '0') + std::string(kRow1).substr(2);
  for (const std::string& padded : {blank_lines, long_numeral}) {
    const p::Error refused = ErrorOf(session.Handle(p::UploadChunk{"r1", 0, padded}));
    EXPECT_EQ(refused.code, absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.message, HasSubstr("more than such rows can take"));
  }
  EXPECT_EQ((*storage_->GetRelease("r1"))->next_chunk, 0u) << "nothing stored";
  auto ack = session.Handle(p::UploadChunk{"r1", 0, std::string(kRow1) + kRow2});
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(ack)) << ErrorOf(ack).message;
}

// F7: a full disk fails the upload as retryable (Unavailable, naming the database) and is
// logged; once space is back the same chunk is accepted. The disk is "full" through the file
// size limit (RLIMIT_FSIZE), the closest a test can get without a filesystem of its own.
TEST_F(SiteSessionTest, AFullDiskIsRetryableAndLogged) {
  const std::string dir = testing::ScratchDir("site_session_disk_full");
  auto sqlite = OpenSqliteStorage(dir + "/coordinator.db");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  storage_ = std::move(*sqlite);
  ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 10'000'000).ok());
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(Stated(
      p::Reserve{"r1", "heart", {1'000'000, false}, 4000, privacy::ReleaseMode::kSynthetic}))));
  std::string rows;
  for (int i = 0; i < 4000; ++i) rows += i % 2 ? kRow1 : kRow2;

  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing us
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &original), 0);
  rlimit full = original;
  full.rlim_cur = 64 * 1024;  // the database and its WAL hold less; 4000 rows need more
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &full), 0);
  const p::SiteResponse refused = session.Handle(p::UploadChunk{"r1", 0, rows});
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &original), 0);
  spdlog::set_default_logger(previous);

  const p::Error error = ErrorOf(refused);
  EXPECT_EQ(error.code, absl::StatusCode::kUnavailable) << error.message;
  EXPECT_THAT(error.message, HasSubstr(dir + "/coordinator.db"));
  EXPECT_THAT(captured.str(), HasSubstr("request failed on the coordinator's side"));
  EXPECT_THAT(captured.str(), HasSubstr("coordinator.db"));
  auto retried = session.Handle(p::UploadChunk{"r1", 0, rows});
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(retried)) << ErrorOf(retried).message;
  EXPECT_EQ((*storage_->GetRelease("r1"))->rows_received, 4000);
}

TEST_F(SiteSessionTest, RowsOutsideTheSchemaAreRefusedAndNothingIsStored) {
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}))));
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
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {7'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}))));
  const p::Error refused = ErrorOf(session.Handle(
      Stated(p::Reserve{"r2", "heart", {7'000'000, false}, 1, privacy::ReleaseMode::kSynthetic})));
  EXPECT_EQ(refused.code, absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.remaining_micros, 3'000'000);
  auto replay = session.Handle(
      Stated(p::Reserve{"r1", "heart", {7'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}));
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(replay));
  EXPECT_TRUE(std::get<p::Reserved>(replay).replayed);
}

TEST_F(SiteSessionTest, RefusesBadReservations) {
  SiteSession session = Greeted("cleveland");
  EXPECT_EQ(ErrorOf(session.Handle(Stated(p::Reserve{
                        "../etc", "heart", {1, false}, 1, privacy::ReleaseMode::kSynthetic})))
                .code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(session.Handle(Stated(p::Reserve{
                        "r1", "adult", {1, false}, 1, privacy::ReleaseMode::kSynthetic})))
                .code,
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(session.Handle(Stated(p::Reserve{
                        "r1", "heart", {0, false}, 1, privacy::ReleaseMode::kSynthetic})))
                .code,
            absl::StatusCode::kInvalidArgument);
  const p::Error codes = ErrorOf(session.Handle(
      Stated(p::Reserve{"r1", "heart", {1, false}, 1, privacy::ReleaseMode::kCodes})));
  EXPECT_EQ(codes.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(codes.message, HasSubstr("DP-trained model"));
  // A private model must say what its epsilon is.
  EXPECT_EQ(ErrorOf(session.Handle(Stated(
                        p::Reserve{"r1", "heart", {1, true}, 1, privacy::ReleaseMode::kCodes})))
                .code,
            absl::StatusCode::kInvalidArgument);
  // The claim must be stated under replace-one, with a valid mechanism the charge covers.
  p::Reserve unstated =
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic});
  unstated.relation.reset();
  const p::Error add_remove = ErrorOf(session.Handle(unstated));
  EXPECT_EQ(add_remove.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(add_remove.message, HasSubstr("replace-one"));
  unstated.relation = privacy::NeighbouringRelation::kAddRemove;
  EXPECT_EQ(ErrorOf(session.Handle(unstated)).code, absl::StatusCode::kFailedPrecondition)
      << "a release publishes its row count: add/remove is not its relation";
  p::Reserve no_mechanism{"r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic};
  no_mechanism.relation = privacy::NeighbouringRelation::kReplaceOne;
  EXPECT_EQ(ErrorOf(session.Handle(no_mechanism)).code, absl::StatusCode::kInvalidArgument);
  p::Reserve undercharged =
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic});
  undercharged.mechanism->epsilon_per_unit = 1.0;  // 6.0 per row with R = 3: the charge says 1
  const p::Error uncovered = ErrorOf(session.Handle(undercharged));
  EXPECT_EQ(uncovered.code, absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(uncovered.message, HasSubstr("does not cover"));
  EXPECT_TRUE(storage_->ListReleases()->empty());
  p::Reserve private_codes =
      Stated(p::Reserve{"r1", "heart", {1'000'000, true}, 1, privacy::ReleaseMode::kCodes});
  private_codes.charge.model_sha256 = "abc";
  private_codes.charge.model_micros = 2'000'000;
  auto granted = session.Handle(private_codes);
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(granted))
      << "codes mode is allowed for a DP-trained model";
  EXPECT_EQ(std::get<p::Reserved>(granted).charged_micros, 3'000'000);
}

// A model-only release (a DP model's samples: the marginal generator, a VAE's prior) claims its
// model's epsilon and nothing of its own: no release charge, no mechanism, a private model.
TEST_F(SiteSessionTest, ModelOnlyReleasesChargeTheirModelOnceAndNothingElse) {
  SiteSession session = Greeted("va");
  auto model_only = [](const std::string& id, const std::string& model) {
    p::Reserve r{id, "heart", {0, true}, 50, privacy::ReleaseMode::kModelOnly};
    r.relation = privacy::NeighbouringRelation::kReplaceOne;
    r.charge.model_sha256 = model;
    r.charge.model_micros = 1'500'000;
    r.charge.model_delta = 1e-6;
    return r;
  };
  struct Refused {
    const char* why;
    p::Reserve reserve;
    const char* message;
  };
  std::vector<Refused> refused;
  refused.push_back({"a release charge", model_only("m1", "aa"), "charges no epsilon of its own"});
  refused.back().reserve.charge.release_micros = 1;
  refused.push_back({"a mechanism", model_only("m1", "aa"), "states no mechanism"});
  refused.back().reserve.mechanism =
      privacy::MetricMechanismParams{privacy::NoiseMetric::kL2, 1.0, 3.0, 8, -11};
  refused.push_back({"a non-private model", model_only("m1", "aa"), "differential privacy"});
  refused.back().reserve.charge.model_private = false;
  refused.push_back({"no model epsilon", model_only("m1", "aa"), "positive epsilon"});
  refused.back().reserve.charge.model_micros = 0;
  for (const Refused& r : refused) {
    const p::Error error = ErrorOf(session.Handle(r.reserve));
    EXPECT_THAT(error.message, HasSubstr(r.message)) << r.why;
  }
  // Another mode may not skip its own charge.
  EXPECT_THAT(ErrorOf(session.Handle(Stated(p::Reserve{
                          "m1", "heart", {0, false}, 1, privacy::ReleaseMode::kSynthetic})))
                  .message,
              HasSubstr("positive charge"));
  EXPECT_TRUE(storage_->ListReleases()->empty());

  const auto first = session.Handle(model_only("m1", "model-a"));
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(first)) << ErrorOf(first).message;
  EXPECT_EQ(std::get<p::Reserved>(first).charged_micros, 1'500'000) << "the model's epsilon";
  const auto again = session.Handle(model_only("m2", "model-a"));
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(again));
  EXPECT_EQ(std::get<p::Reserved>(again).charged_micros, 0)
      << "more samples of a paid-for model are free";
  EXPECT_EQ((**storage_->GetRelease("m1")).mechanism, "");
  // Its rows are records of the federation schema, validated as synthetic rows are.
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadChunk{"m1", 0, "0.5,-1,0.25\n"})).code,
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SiteSessionTest, CodesModeTakesItsCheckedDecoderFirstThenValidatesEveryCode) {
  const data::Schema& schema = config_.datasets[0].schema;
  const std::string decoder = PublishedDecoder(schema, /*model_private=*/true, 4);
  // Room for the six reservations below (each model pays its epsilon once).
  ASSERT_TRUE(storage_->SetLimit("cleveland", "heart", 20'000'000).ok());
  SiteSession session = Greeted("cleveland");
  auto reserve_codes = [&](const std::string& id, const std::string& model, uint32_t k = 4) {
    p::Reserve r =
        Stated(p::Reserve{id, "heart", {1'000'000, true}, 2, privacy::ReleaseMode::kCodes});
    r.mechanism->dimension = static_cast<int>(k);
    r.charge.model_sha256 = privacy::Sha256Hex(model);
    r.charge.model_micros = 1'000'000;
    return session.Handle(r);
  };
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserve_codes("r1", decoder)));
  const std::string codes = "0.5,-1,0.25,2\n-0.125,0,1,3.5\n";

  // Codes before the decoder: refused, nothing stored.
  const p::Error early = ErrorOf(session.Handle(p::UploadChunk{"r1", 0, codes}));
  EXPECT_EQ(early.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.message, HasSubstr("upload its decoder before the codes"));
  // Not the reserved model.
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadModel{"r1", PublishedDecoder(schema, true, 3)})).code,
            absl::StatusCode::kInvalidArgument);
  // A synthetic release takes no model.
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r2", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}))));
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadModel{"r2", decoder})).code,
            absl::StatusCode::kFailedPrecondition);
  // The reservation claimed a DP model, but the decoder says otherwise: refused.
  const std::string clear = PublishedDecoder(schema, /*model_private=*/false, 4);
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserve_codes("r3", clear)));
  const p::Error not_private = ErrorOf(session.Handle(p::UploadModel{"r3", clear}));
  EXPECT_EQ(not_private.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(not_private.message, HasSubstr("without differential privacy"));
  // A decoder over other domains: refused.
  std::string other_toml = schema.toml_text;
  other_toml.replace(other_toml.find("max = 100"), 9, "max = 110");  // age bound differs
  const std::string foreign = PublishedDecoder(*data::Schema::Parse(other_toml, "other"), true, 4);
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserve_codes("r4", foreign)));
  EXPECT_THAT(ErrorOf(session.Handle(p::UploadModel{"r4", foreign})).message,
              HasSubstr("'age' has other bounds"));
  // Damaged bytes whose hash was reserved: refused by the parser.
  const std::string damaged = decoder.substr(0, decoder.size() / 2);
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserve_codes("r5", damaged)));
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadModel{"r5", damaged})).code,
            absl::StatusCode::kDataLoss);
  // A decoder trained for another dataset: its epsilon was charged there, not here.
  const std::string adult = PublishedDecoder(schema, true, 3, "adult");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserve_codes("r6", adult)));
  const p::Error elsewhere = ErrorOf(session.Handle(p::UploadModel{"r6", adult}));
  EXPECT_EQ(elsewhere.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(elsewhere.message, HasSubstr("not trained for dataset heart"));
  // A decoder of another latent dimension than the reserved mechanism's: the codes would not be
  // that mechanism's output, so its epsilon would not describe them.
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserve_codes("r7", decoder, 8)));
  const p::Error other_k = ErrorOf(session.Handle(p::UploadModel{"r7", decoder}));
  EXPECT_EQ(other_k.code, absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other_k.message, HasSubstr("latent dimension (4) differs"));
  for (const char* refused : {"r3", "r4", "r5", "r6", "r7"}) {
    EXPECT_FALSE(
        storage_->ModelBytes((*storage_->GetRelease(refused))->charge.model_sha256)->has_value())
        << refused;
  }

  auto stored = session.Handle(p::UploadModel{"r1", decoder});
  ASSERT_TRUE(std::holds_alternative<p::ModelStored>(stored)) << ErrorOf(stored).message;
  EXPECT_TRUE(std::holds_alternative<p::ModelStored>(session.Handle(p::UploadModel{"r1", decoder})))
      << "a resumed upload sends it again";
  // Every row must hold latent_dim finite numbers.
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadChunk{"r1", 0, "0.5,-1,0.25\n"})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadChunk{"r1", 0, "0.5,-1,inf,2\n"})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(session.Handle(p::UploadChunk{"r1", 0, kRow1})).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*storage_->GetRelease("r1"))->next_chunk, 0u);

  // A fresh session (a reconnect) finds the stored decoder.
  SiteSession again = Greeted("cleveland");
  auto ack = again.Handle(p::UploadChunk{"r1", 0, codes});
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(ack)) << ErrorOf(ack).message;
  ASSERT_TRUE(std::holds_alternative<p::Committed>(
      again.Handle(p::Commit{"r1", 2, privacy::Sha256Hex(codes)})));

  // The export decodes the codes into records of the federation schema.
  Approve("r1");
  auto exported = ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(exported.ok()) << exported.status();
  auto records = data::ParseCsvTable(exported->csv, schema, "export", data::OutputCsvFormat());
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->report.rows, 2);
  EXPECT_EQ(records->report.TotalClamped(), 0);
  EXPECT_THAT(exported->csv, ::testing::Not(HasSubstr("0.5,-1"))) << "codes never exported raw";
}

// The export feeds the decoder a posterior draw of each code's centre when the release's
// mechanism is on record (post-processing), the code itself for releases recorded without one.
TEST_F(SiteSessionTest, ExportDecodingUsesTheReleasesMechanismForPosteriorDraws) {
  const data::Schema& schema = config_.datasets[0].schema;
  const std::string decoder = PublishedDecoder(schema, /*model_private=*/true, 4);
  const std::string mechanism =
      privacy::FormatMechanismParams({privacy::NoiseMetric::kL2, 0.5, 3.0, 4, -11});
  const std::string codes = "40,0,0,0\n-1,2,0.5,7\n";
  for (const std::string& stated : {mechanism, std::string()}) {
    auto rows = DecodeCodesRows(decoder, codes, schema, stated, rng_);
    ASSERT_TRUE(rows.ok()) << rows.status();
    auto records = data::ParseCsvTable(*rows, schema, "decoded", data::HeaderlessCsvFormat());
    ASSERT_TRUE(records.ok()) << records.status();
    EXPECT_EQ(records->report.rows, 2);
  }
  EXPECT_FALSE(DecodeCodesRows(decoder, codes, schema, "l2 nonsense", rng_).ok());
  const std::string three_dims =
      privacy::FormatMechanismParams({privacy::NoiseMetric::kL2, 0.5, 3.0, 3, -11});
  EXPECT_TRUE(DecodeCodesRows(decoder, codes, schema, three_dims, rng_).ok())
      << "a mechanism that does not describe the codes falls back to decoding them as they are";
  // A code no mechanism draw could produce is refused, not decoded.
  EXPECT_EQ(DecodeCodesRows(decoder, "1e200,0,0,0\n", schema, mechanism, rng_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SiteSessionTest, CanaryAuditsOpenBeforeTheReservationCommitFirstAndRevealAfter) {
  config_.datasets[0].audit_canaries = 8;
  const data::Schema& schema = config_.datasets[0].schema;
  SiteSession session = Greeted("cleveland");
  const auto job = session.Handle(p::AuditJobQuery{"r1", "heart"});
  ASSERT_TRUE(std::holds_alternative<p::AuditJob>(job)) << ErrorOf(job).message;
  const p::AuditJob& canaries = std::get<p::AuditJob>(job);
  EXPECT_EQ(canaries.count, 8u);
  auto parsed =
      data::ParseCsvTable(canaries.canaries, schema, "canaries", data::HeaderlessCsvFormat());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->report.rows, 8);
  EXPECT_EQ(parsed->report.TotalClamped(), 0);
  EXPECT_EQ(std::get<p::AuditJob>(session.Handle(p::AuditJobQuery{"r1", "heart"})).canaries,
            canaries.canaries)
      << "asked again: the same canaries";
  EXPECT_EQ(ErrorOf(session.Handle(p::AuditJobQuery{"r1", "adult"})).code,
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(session.Handle(p::AuditJobQuery{"bad id!", "heart"})).code,
            absl::StatusCode::kInvalidArgument);
  // No reservation before the commitment; none for an id that is already reserved.
  EXPECT_EQ(ErrorOf(session.Handle(Stated(p::Reserve{
                        "r1", "heart", {1'000'000, false}, 3, privacy::ReleaseMode::kSynthetic})))
                .code,
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r2", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}))));
  EXPECT_EQ(ErrorOf(session.Handle(p::AuditJobQuery{"r2", "heart"})).code,
            absl::StatusCode::kFailedPrecondition)
      << "canaries after the model was chosen could not be in it";
  const audit::InclusionBits bits = {false, true, true, false};  // 4 pairs
  const std::string salt = std::string(64, 'c');
  ASSERT_TRUE(std::holds_alternative<p::AuditStateReply>(
      session.Handle(p::CanaryCommitment{"r1", audit::CommitToBits(bits, salt)})));
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 6, privacy::ReleaseMode::kSynthetic}))));
  const std::string rows = std::string(kRow1) + kRow2 + kRow1 + kRow2 + kRow1 + kRow2;
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(session.Handle(p::UploadChunk{"r1", 0, rows})));
  // Reveal only after the commit of the release, and it must match.
  EXPECT_EQ(ErrorOf(session.Handle(p::CanaryReveal{"r1", bits, salt, {0, 1, 2, 3}})).code,
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(std::holds_alternative<p::Committed>(
      session.Handle(p::Commit{"r1", 6, privacy::Sha256Hex(rows)})));
  // Another site sees nothing of it.
  SiteSession va = Greeted("va");
  EXPECT_EQ(ErrorOf(va.Handle(p::AuditJobQuery{"r1", "heart"})).code,
            absl::StatusCode::kAlreadyExists)
      << "the id is taken; nothing of it is shown";
  EXPECT_EQ(ErrorOf(va.Handle(p::CanaryReveal{"r1", bits, salt, {0, 1, 2, 3}})).code,
            absl::StatusCode::kNotFound);
  const p::Error mismatch =
      ErrorOf(session.Handle(p::CanaryReveal{"r1", {true, true, true, false}, salt, {0, 1, 2, 3}}));
  EXPECT_EQ(mismatch.code, absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.message, HasSubstr("do not match the commitment"));
  EXPECT_EQ((*storage_->GetAudit("r1"))->state, AuditState::kInvalid);
  // An invalid audit fails the release at the gate and cannot be approved into the export.
  EXPECT_EQ(storage_->Approve({"r1", "op", "why", 1}).code(),
            absl::StatusCode::kFailedPrecondition);
  auto pooled = ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(pooled.ok());
  EXPECT_THAT(pooled->held_back, ::testing::Contains("r1"));
  // Without audits declared the job is empty and nothing is recorded.
  config_.datasets[0].audit_canaries = 0;
  EXPECT_EQ(std::get<p::AuditJob>(session.Handle(p::AuditJobQuery{"r3", "heart"})).count, 0u);
  EXPECT_FALSE(storage_->GetAudit("r3")->has_value());
}

TEST_F(SiteSessionTest, ARevealedAuditsCanaryRowsNeverReachTheExport) {
  config_.datasets[0].audit_canaries = 4;
  SiteSession session = Greeted("cleveland");
  const auto job = session.Handle(p::AuditJobQuery{"r1", "heart"});
  ASSERT_TRUE(std::holds_alternative<p::AuditJob>(job));
  const audit::InclusionBits bits = {false, true};  // 2 pairs
  const std::string salt = std::string(64, 'e');
  ASSERT_TRUE(std::holds_alternative<p::AuditStateReply>(
      session.Handle(p::CanaryCommitment{"r1", audit::CommitToBits(bits, salt)})));
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 4, privacy::ReleaseMode::kSynthetic}))));
  // The two included canaries' rows sit where the salt puts them among 4 rows.
  const std::vector<int64_t> positions = audit::CanaryPositions(salt, 4, 2);
  ASSERT_EQ(positions.size(), 2u);
  const std::string canary_row = "29,0,1,94,126,0,0,71,0,0,1,0,3,4\n";
  std::string rows;
  for (int64_t slot = 0, record = 0; slot < 4; ++slot) {
    const bool canary = slot == positions[0] || slot == positions[1];
    rows += canary ? canary_row : (record++ == 0 ? kRow1 : kRow2);
  }
  ASSERT_TRUE(std::holds_alternative<p::ChunkAck>(session.Handle(p::UploadChunk{"r1", 0, rows})));
  ASSERT_TRUE(std::holds_alternative<p::Committed>(
      session.Handle(p::Commit{"r1", 4, privacy::Sha256Hex(rows)})));
  ASSERT_TRUE(std::holds_alternative<p::AuditStateReply>(
      session.Handle(p::CanaryReveal{"r1", bits, salt, positions})));
  // The dashboard reads it through the admin handler: revealed, two of four canaries in, not
  // judged yet; in full by id; an unknown id is NotFound.
  const auto listed =
      HandleAdminRequest({p::kProtocolVersion, p::AdminQuery::kAudits}, *storage_, {});
  ASSERT_TRUE(std::holds_alternative<std::vector<p::AuditInfo>>(listed));
  const auto& audits = std::get<std::vector<p::AuditInfo>>(listed);
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].state, audit::AuditState::kRevealed);
  EXPECT_EQ(audits[0].canaries, 4);
  EXPECT_EQ(audits[0].included, 2);
  EXPECT_EQ(audits[0].status, audit::AuditStatus::kPending);
  EXPECT_EQ(audits[0].claimed_micros, -1) << "not judged";
  const auto one =
      HandleAdminRequest({p::kProtocolVersion, p::AdminQuery::kAudit, "r1"}, *storage_, {});
  ASSERT_TRUE(std::holds_alternative<std::vector<p::AuditInfo>>(one));
  EXPECT_EQ(std::get<std::vector<p::AuditInfo>>(one).at(0).release_id, "r1");
  const auto unknown =
      HandleAdminRequest({p::kProtocolVersion, p::AdminQuery::kAudit, "nope"}, *storage_, {});
  ASSERT_TRUE(std::holds_alternative<p::Error>(unknown));
  EXPECT_EQ(std::get<p::Error>(unknown).code, absl::StatusCode::kNotFound);
  // Revealed but not judged: still pending, held back; an approval lets it through without
  // its canary rows.
  auto pending = ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->held_back, std::vector<std::string>{"r1"});
  Approve("r1");
  auto pooled = ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  EXPECT_EQ(pooled->canary_rows_removed, 2);
  EXPECT_THAT(pooled->csv, HasSubstr(kRow1));
  EXPECT_THAT(pooled->csv, HasSubstr(kRow2));
  EXPECT_THAT(pooled->csv, ::testing::Not(HasSubstr("29,0,1,94")));
}

// The admin API speaks the same version; an older CLI is refused with both numbers, and the
// release list carries modes and states as the enums the CLI names.
TEST_F(SiteSessionTest, TheAdminApiRefusesAnotherVersionAndListsTypedReleases) {
  const auto old = HandleAdminRequest({1, p::AdminQuery::kReleases}, *storage_, {});
  ASSERT_TRUE(std::holds_alternative<p::Error>(old));
  EXPECT_EQ(std::get<p::Error>(old).code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::get<p::Error>(old).message,
              HasSubstr("protocol version 1 is not supported; this coordinator speaks version 2"));
  SiteSession session = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(session.Handle(
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}))));
  const auto listed =
      HandleAdminRequest({p::kProtocolVersion, p::AdminQuery::kReleases}, *storage_, {});
  ASSERT_TRUE(std::holds_alternative<std::vector<p::ReleaseInfo>>(listed));
  const auto& releases = std::get<std::vector<p::ReleaseInfo>>(listed);
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0].state, p::ReleaseProgress::kReserved);
  EXPECT_EQ(releases[0].mode, privacy::ReleaseMode::kSynthetic);
  EXPECT_EQ(releases[0].audit, audit::AuditStatus::kPending);
}

TEST_F(SiteSessionTest, ASiteCannotActOnAnotherSitesRelease) {
  SiteSession cleveland = Greeted("cleveland");
  ASSERT_TRUE(std::holds_alternative<p::Reserved>(cleveland.Handle(
      Stated(p::Reserve{"r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic}))));
  SiteSession va = Greeted("va");
  EXPECT_EQ(ErrorOf(va.Handle(p::UploadChunk{"r1", 0, kRow1})).code, absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(va.Handle(p::Commit{"r1", 1, privacy::Sha256Hex(kRow1)})).code,
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(va.Handle(Stated(p::Reserve{
                        "r1", "heart", {1'000'000, false}, 1, privacy::ReleaseMode::kSynthetic})))
                .code,
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::get<p::ReleaseState>(va.Handle(p::ReleaseStateQuery{"r1"})).state,
            p::ReleaseProgress::kUnknown);
  EXPECT_EQ(std::get<p::ReleaseState>(cleveland.Handle(p::ReleaseStateQuery{"r1"})).state,
            p::ReleaseProgress::kReserved);
}

// Names that reach paths and logs (issue #12, F9): refused at config load, before any report
// could be written outside its folder.
TEST(CoordinatorConfig, DatasetNamesAndSiteIdsMustBeSafe) {
  EXPECT_TRUE(base::IsSafeName("heart_disease-2"));
  for (const char* bad : {"", "../x", "a/b", "a b", "x\n", "caf\xc3\xa9"})
    EXPECT_FALSE(base::IsSafeName(bad)) << bad;
  EXPECT_FALSE(base::IsSafeName(std::string(65, 'a')));
  const std::string dir = testing::ScratchDir("coordinator_config_names");
  const std::string schema =
      testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
  auto load = [&](const std::string& dataset, const std::string& site) {
    const std::string path = dir + "/coordinator.toml";
    std::ofstream(path) << "ca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n"
                        << "[[dataset]]\nname = \"" << dataset << "\"\nschema = \"" << schema
                        << "\"\n[[site]]\nid = \"" << site << "\"\nbudgets = { \"" << dataset
                        << "\" = 10.0 }\n";
    return LoadCoordinatorConfig(path);
  };
  EXPECT_TRUE(load("heart", "cleveland").ok()) << load("heart", "cleveland").status();
  EXPECT_EQ(load("../x", "cleveland").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(load("heart", "../../etc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(load(std::string(300, 'h'), "cleveland").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CoordinatorConfig, ConnectionCapsAreReadAndBounded) {
  const std::string dir = testing::ScratchDir("coordinator_config_caps");
  const std::string schema =
      testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
  auto load = [&](const std::string& caps) {
    const std::string path = dir + "/coordinator.toml";
    std::ofstream(path) << "ca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n"
                        << caps << "\n[[dataset]]\nname = \"heart\"\nschema = \"" << schema
                        << "\"\n";
    return LoadCoordinatorConfig(path);
  };
  auto defaults = load("");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->max_connections, 256);
  EXPECT_EQ(defaults->max_connections_per_address, 16);
  auto set = load("max_connections = 40\nmax_connections_per_address = 4");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->max_connections, 40);
  EXPECT_EQ(set->max_connections_per_address, 4);
  for (const char* bad : {"max_connections = 0", "max_connections = -5",
                          "max_connections = 10\nmax_connections_per_address = 11",
                          "max_connections_per_address = 0", "max_connections = 10000000"}) {
    EXPECT_EQ(load(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// A misspelt key is an error naming the file, its line and the key, at the top level and in
// [[dataset]] and [[site]] tables: ignored, it would leave its default in force unannounced.
TEST(CoordinatorConfig, UnknownKeysAreNamedWithTheirLine) {
  const std::string dir = testing::ScratchDir("coordinator_config_keys");
  const std::string schema =
      testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
  const std::string path = dir + "/coordinator.toml";
  auto load = [&](const std::string& top, const std::string& dataset, const std::string& site) {
    std::ofstream(path) << "ca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n"
                        << top << "\n[[dataset]]\nname = \"heart\"\nschema = \"" << schema << "\"\n"
                        << dataset << "\n[[site]]\nid = \"va\"\nbudgets = { heart = 1.0 }\n"
                        << site << "\n";
    return LoadCoordinatorConfig(path);
  };
  ASSERT_TRUE(load("", "", "").ok()) << load("", "", "").status();
  const auto misspelt = load("max_conections = 40", "", "");
  EXPECT_EQ(misspelt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(misspelt.status().message()),
              HasSubstr(path + ":4: unknown key 'max_conections' (known: listen,"));
  EXPECT_THAT(std::string(load("", "audit_canary = 10", "").status().message()),
              HasSubstr("unknown key 'audit_canary' in [[dataset]]"));
  EXPECT_THAT(std::string(load("", "", "budget = 2.0").status().message()),
              HasSubstr("unknown key 'budget' in [[site]]"));
}

}  // namespace
}  // namespace fedsyn::coordinator
