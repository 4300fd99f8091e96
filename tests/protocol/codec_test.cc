#include "protocol/codec.h"

#include <random>

#include "gtest/gtest.h"

namespace fedsyn::protocol {
namespace {

TEST(Codec, SiteRequestsRoundTrip) {
  const std::vector<SiteRequest> requests = {
      Hello{1, "fedsyn-agent 0.1"},
      Reserve{"r-1", "heart", {6'001'382, false}, 303, privacy::ReleaseMode::kModelOnly},
      UploadChunk{"r-1", 7, std::string("a,b\n1,2\n\0binary", 15)},
      Commit{"r-1", 303, std::string(64, 'f')},
      Heartbeat{},
      ReleaseStateQuery{"r-1"},
      UploadModel{"r-1", std::string("FSYNMDL\0\x01\xff", 10)},
      AuditJobQuery{"r-1", "heart"},
      CanaryCommitment{"r-1", std::string(64, 'a')},
      CanaryReveal{"r-1", {false, true, true, false}, std::string(64, 'b'), {4, 9}},
  };
  for (const SiteRequest& request : requests) {
    auto decoded = DecodeSiteRequest(EncodeSiteRequest(request));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->index(), request.index());
  }
  auto reserve = DecodeSiteRequest(EncodeSiteRequest(requests[1]));
  const auto& r = std::get<Reserve>(*reserve);
  EXPECT_EQ(r.release_id, "r-1");
  EXPECT_EQ(r.dataset, "heart");
  EXPECT_EQ(r.charge.release_micros, 6'001'382);
  EXPECT_EQ(r.rows, 303);
  EXPECT_EQ(r.mode, privacy::ReleaseMode::kModelOnly);
  auto chunk = DecodeSiteRequest(EncodeSiteRequest(requests[2]));
  EXPECT_EQ(std::get<UploadChunk>(*chunk).rows, std::get<UploadChunk>(requests[2]).rows);
  EXPECT_EQ(std::get<UploadChunk>(*chunk).index, 7u);
  auto model = DecodeSiteRequest(EncodeSiteRequest(requests[6]));
  EXPECT_EQ(std::get<UploadModel>(*model).model, std::get<UploadModel>(requests[6]).model)
      << "binary-safe";
  EXPECT_EQ(std::get<UploadModel>(*model).release_id, "r-1");
  const auto reveal = std::get<CanaryReveal>(*DecodeSiteRequest(EncodeSiteRequest(requests[9])));
  EXPECT_EQ(reveal.bits, (audit::InclusionBits{false, true, true, false}));
  EXPECT_EQ(reveal.salt, std::string(64, 'b'));
  EXPECT_EQ(reveal.positions, (std::vector<int64_t>{4, 9}));
  const auto open = std::get<AuditJobQuery>(*DecodeSiteRequest(EncodeSiteRequest(requests[7])));
  EXPECT_EQ(open.release_id, "r-1");
  EXPECT_EQ(open.dataset, "heart");
  const auto job =
      std::get<AuditJob>(*DecodeSiteResponse(EncodeSiteResponse(AuditJob{"r-1", "1,2\n", 1})));
  EXPECT_EQ(job.canaries, "1,2\n");
  EXPECT_EQ(job.count, 1u);
}

TEST(Codec, SiteResponsesRoundTrip) {
  Welcome welcome{1, "cleveland", {{"heart", "[dataset]\nname=\"x\"", 10'000'000, 6'000'000}}};
  auto decoded = DecodeSiteResponse(EncodeSiteResponse(welcome));
  ASSERT_TRUE(decoded.ok());
  const auto& w = std::get<Welcome>(*decoded);
  EXPECT_EQ(w.site_id, "cleveland");
  ASSERT_EQ(w.datasets.size(), 1u);
  EXPECT_EQ(w.datasets[0].limit_micros, 10'000'000);
  EXPECT_EQ(w.datasets[0].schema_toml, welcome.datasets[0].schema_toml);

  Error error{absl::StatusCode::kResourceExhausted, "over budget", 123};
  auto e = DecodeSiteResponse(EncodeSiteResponse(error));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<Error>(*e).code, absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(std::get<Error>(*e).remaining_micros, 123);
  for (const SiteResponse& r : std::vector<SiteResponse>{
           Reserved{"r", 5, true}, ChunkAck{"r", 3}, Committed{}, HeartbeatReply{},
           ReleaseState{"r", ReleaseProgress::kReserved, 2}, ModelStored{"r"}}) {
    auto back = DecodeSiteResponse(EncodeSiteResponse(r));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->index(), r.index());
  }
}

// Every enumerant of every closed set the wire carries comes back as itself.
TEST(Codec, EveryEnumerantRoundTrips) {
  for (const privacy::ReleaseMode mode :
       {privacy::ReleaseMode::kSynthetic, privacy::ReleaseMode::kCodes,
        privacy::ReleaseMode::kModelOnly}) {
    const Reserve reserve{"r", "heart", {5, true}, 3, mode};
    EXPECT_EQ(std::get<Reserve>(*DecodeSiteRequest(EncodeSiteRequest(reserve))).mode, mode);
  }
  for (const ReleaseProgress progress :
       {ReleaseProgress::kUnknown, ReleaseProgress::kReserved, ReleaseProgress::kCommitted}) {
    const auto back = DecodeSiteResponse(EncodeSiteResponse(ReleaseState{"r", progress, 4}));
    EXPECT_EQ(std::get<ReleaseState>(*back).state, progress);
    EXPECT_EQ(std::get<ReleaseState>(*back).next_index, 4u);
  }
  for (const audit::AuditState state :
       {audit::AuditState::kIssued, audit::AuditState::kCommitted, audit::AuditState::kRevealed,
        audit::AuditState::kInvalid}) {
    const auto back = DecodeSiteResponse(EncodeSiteResponse(AuditStateReply{"r", state}));
    EXPECT_EQ(std::get<AuditStateReply>(*back).state, state);
  }
  for (const audit::AuditStatus status :
       {audit::AuditStatus::kPending, audit::AuditStatus::kPassed, audit::AuditStatus::kFailed}) {
    ReleaseInfo info;
    info.audit = status;
    const auto back = DecodeAdminResponse(EncodeAdminResponse(std::vector<ReleaseInfo>{info}));
    EXPECT_EQ(std::get<std::vector<ReleaseInfo>>(*back).at(0).audit, status);
  }
}

// `a` and `b` encode the same message but for one enum field; returns `a` with that field's
// byte set to `value` (an enumerant no version of the schema has).
std::string WithForeignEnumerant(const std::string& a, const std::string& b, char value) {
  EXPECT_EQ(a.size(), b.size());
  std::string patched = a;
  int differing = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      patched[i] = value;
      ++differing;
    }
  }
  EXPECT_EQ(differing, 1) << "the two encodings should differ in the enum's low byte only";
  return patched;
}

// A newer or hostile peer's enumerant is refused by name, never read as some default state.
TEST(Codec, RefusesUnknownEnumerants) {
  const std::string mode = WithForeignEnumerant(
      EncodeSiteRequest(Reserve{"r", "heart", {5, true}, 3, privacy::ReleaseMode::kCodes}),
      EncodeSiteRequest(Reserve{"r", "heart", {5, true}, 3, privacy::ReleaseMode::kModelOnly}), 9);
  const auto reserve = DecodeSiteRequest(mode);
  ASSERT_FALSE(reserve.ok());
  EXPECT_EQ(reserve.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(reserve.status().message().find("release mode"), std::string::npos) << reserve.status();
  const std::string progress = WithForeignEnumerant(
      EncodeSiteResponse(ReleaseState{"r", ReleaseProgress::kReserved, 2}),
      EncodeSiteResponse(ReleaseState{"r", ReleaseProgress::kCommitted, 2}), 7);
  EXPECT_EQ(DecodeSiteResponse(progress).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string state = WithForeignEnumerant(
      EncodeSiteResponse(AuditStateReply{"r", audit::AuditState::kCommitted}),
      EncodeSiteResponse(AuditStateReply{"r", audit::AuditState::kRevealed}), 5);
  EXPECT_EQ(DecodeSiteResponse(state).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Codec, RelationAndMechanismRoundTrip) {
  Reserve reserve{"r", "heart", {5, true}, 3, privacy::ReleaseMode::kCodes};
  const auto unstated = std::get<Reserve>(*DecodeSiteRequest(EncodeSiteRequest(reserve)));
  EXPECT_FALSE(unstated.relation.has_value()) << "what an older agent sends";
  EXPECT_FALSE(unstated.mechanism.has_value()) << "a model-only release states none";
  for (const privacy::NeighbouringRelation relation :
       {privacy::NeighbouringRelation::kReplaceOne, privacy::NeighbouringRelation::kAddRemove}) {
    reserve.relation = relation;
    EXPECT_EQ(std::get<Reserve>(*DecodeSiteRequest(EncodeSiteRequest(reserve))).relation, relation);
  }
  reserve.mechanism = privacy::MetricMechanismParams{privacy::NoiseMetric::kL1, 0.5, 3.0, 8, -11};
  const auto back = std::get<Reserve>(*DecodeSiteRequest(EncodeSiteRequest(reserve)));
  ASSERT_TRUE(back.mechanism.has_value());
  EXPECT_EQ(back.mechanism->metric, privacy::NoiseMetric::kL1);
  EXPECT_EQ(back.mechanism->epsilon_per_unit, 0.5);
  EXPECT_EQ(back.mechanism->clip_radius, 3.0);
  EXPECT_EQ(back.mechanism->dimension, 8);
  EXPECT_EQ(back.mechanism->grid_exponent, -11);
  // A dimension a mechanism refuses stays refused (no wrap to a valid one).
  reserve.mechanism->dimension = 4097;
  EXPECT_GT(std::get<Reserve>(*DecodeSiteRequest(EncodeSiteRequest(reserve))).mechanism->dimension,
            4096);
}

TEST(Codec, ModelChargeFieldsRoundTrip) {
  Reserve reserve{"r", "heart", {5, true}, 3, privacy::ReleaseMode::kCodes};
  reserve.charge.model_sha256 = "abc";
  reserve.charge.model_micros = 42;
  reserve.charge.model_delta = 1e-5;
  const auto back = std::get<Reserve>(*DecodeSiteRequest(EncodeSiteRequest(reserve)));
  EXPECT_EQ(back.charge.model_sha256, "abc");
  EXPECT_EQ(back.charge.model_micros, 42);
  EXPECT_EQ(back.charge.model_delta, 1e-5);
  EXPECT_TRUE(back.charge.model_private);
  const auto reserved =
      std::get<Reserved>(*DecodeSiteResponse(EncodeSiteResponse(Reserved{"r", 5, true, 77})));
  EXPECT_EQ(reserved.charged_micros, 77);
}

TEST(Codec, AdminMessagesRoundTrip) {
  auto request = DecodeAdminRequest(EncodeAdminRequest({kProtocolVersion, AdminQuery::kBudgets}));
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->query, AdminQuery::kBudgets);
  std::vector<ReleaseInfo> releases = {{"r1", "va", "heart", ReleaseProgress::kCommitted, 5, 200,
                                        "ab", 17, true, privacy::ReleaseMode::kCodes,
                                        audit::AuditStatus::kFailed, true}};
  auto response = DecodeAdminResponse(EncodeAdminResponse(releases));
  ASSERT_TRUE(response.ok());
  const auto& back = std::get<std::vector<ReleaseInfo>>(*response);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].site_id, "va");
  EXPECT_EQ(back[0].rows, 200);
  EXPECT_EQ(back[0].state, ReleaseProgress::kCommitted);
  EXPECT_EQ(back[0].mode, privacy::ReleaseMode::kCodes);
  EXPECT_EQ(back[0].audit, audit::AuditStatus::kFailed);
  EXPECT_TRUE(back[0].approved);
  const auto show =
      DecodeAdminRequest(EncodeAdminRequest({kProtocolVersion, AdminQuery::kAudit, "r-7"}));
  ASSERT_TRUE(show.ok());
  EXPECT_EQ(show->query, AdminQuery::kAudit);
  EXPECT_EQ(show->release_id, "r-7");
  AuditInfo audit;
  audit.release_id = "r-7";
  audit.state = audit::AuditState::kRevealed;
  audit.canaries = 40;
  audit.included = 20;
  audit.status = audit::AuditStatus::kFailed;
  audit.claimed_micros = 1'500'000;
  audit.lower_bound_micros = 2'100'000;
  audit.approved = true;
  audit.approved_by = "alice";
  audit.verdict_json = "{\"a\":1}";
  const auto audits = std::get<std::vector<AuditInfo>>(
      *DecodeAdminResponse(EncodeAdminResponse(std::vector<AuditInfo>{audit})));
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].state, audit::AuditState::kRevealed);
  EXPECT_EQ(audits[0].status, audit::AuditStatus::kFailed);
  EXPECT_EQ(audits[0].included, 20);
  EXPECT_EQ(audits[0].lower_bound_micros, 2'100'000);
  EXPECT_EQ(audits[0].approved_by, "alice");
  EXPECT_EQ(audits[0].verdict_json, "{\"a\":1}");
  std::vector<SiteStatus> sites = {{"va", true, 9, 2, 200, 5, 10, 1, 2, 3}};
  const auto status =
      std::get<std::vector<SiteStatus>>(*DecodeAdminResponse(EncodeAdminResponse(sites)));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].audits_passed, 1);
  EXPECT_EQ(status[0].audits_failed, 2);
  EXPECT_EQ(status[0].audits_pending, 3);
}

TEST(Codec, RefusesMalformedInputWithoutCrashing) {
  EXPECT_EQ(DecodeSiteRequest("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeSiteRequest("1234567").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeSiteRequest(std::string(kMaxMessageBytes + 8, '\0')).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A segment table claiming a huge segment.
  std::string lying("\0\0\0\0\xff\xff\xff\x0f", 8);
  EXPECT_EQ(DecodeSiteRequest(lying).status().code(), absl::StatusCode::kInvalidArgument);
  // An unknown union member (a discriminant from a future version) is refused by name.
  std::string hello = EncodeSiteRequest(Heartbeat{});
  std::string future = hello;
  // Root struct data section starts at word 2 (after the segment table and root pointer); the
  // union discriminant is its first 16 bits.
  future[16] = 42;
  auto unknown = DecodeSiteRequest(future);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown site request type");
}

// Random bytes and random mutations of valid messages: decoding must fail cleanly or
// succeed, never crash or hang (a cheap stand-in for the fuzz target in tests/fuzz).
TEST(Codec, SurvivesRandomAndMutatedInput) {
  std::mt19937_64 rng(1);
  const std::string valid =
      EncodeSiteRequest(Reserve{"r-1", "heart", {5, false}, 3, privacy::ReleaseMode::kSynthetic});
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    rejected += !DecodeSiteRequest(bytes).ok();
    (void)DecodeSiteResponse(bytes);
    std::string noise((rng() % 16 + 1) * 8, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    (void)DecodeSiteRequest(noise);
    (void)DecodeAdminRequest(noise);
  }
  // Mutations hit the segment table and pointers often enough that many must be refused.
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace fedsyn::protocol
