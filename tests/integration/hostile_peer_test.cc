// Issue #12's attacks replayed against the real coordinator over mutual TLS (F1, F2, F3, F5):
// after each, the coordinator still serves another site and every budget is exactly what was
// granted. (The listener's own tests are in tests/net/listener_test.cc; F7-F12 through the
// session code in tests/coordinator/site_session_test.cc and tests/data.)
#include <malloc.h>

#include <filesystem>

#include "tests/integration/federation_fixture.h"
#include "tests/support/raw_tls.h"

namespace fedsyn::testing_federation {
namespace {

namespace p = ::fedsyn::protocol;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

class HostilePeer : public Federation {
 protected:
  // A greeted raw session of `site`.
  std::unique_ptr<net::PeerConnection> Greeted(const std::string& site) {
    auto connection = RawSiteConnection(site);
    if (!connection) return nullptr;
    const auto welcome = Ask(*connection, p::Hello{p::kProtocolVersion, "hostile"});
    EXPECT_TRUE(std::holds_alternative<p::Welcome>(welcome));
    return connection;
  }

  static p::SiteResponse Ask(net::PeerConnection& connection, const p::SiteRequest& request) {
    if (!connection.WriteFrame(p::EncodeSiteRequest(request), milliseconds(3000)).ok())
      return p::Error{absl::StatusCode::kUnavailable, "write failed"};
    auto reply = connection.ReadFrame(p::kMaxMessageBytes, milliseconds(5000));
    if (!reply.ok()) return p::Error{absl::StatusCode::kUnavailable, "no reply"};
    auto decoded = p::DecodeSiteResponse(*reply);
    return decoded.ok() ? *decoded : p::Error{absl::StatusCode::kDataLoss, "bad reply"};
  }

  static absl::StatusCode CodeOf(const p::SiteResponse& response) {
    const auto* error = std::get_if<p::Error>(&response);
    return error ? error->code : absl::StatusCode::kOk;
  }

  // A reservation as an agent states it (replace-one, a mechanism its charge covers).
  static p::Reserve Stated(p::Reserve reserve) {
    reserve.relation = privacy::NeighbouringRelation::kReplaceOne;
    reserve.mechanism =
        privacy::MetricMechanismParams{privacy::NoiseMetric::kL2, 1e-7, 3.0, 8, -11};
    return reserve;
  }

  // A legitimate release from va: it commits, and va's spent grows by exactly its charge.
  void ExpectALegitimateReleaseIsExact() {
    const int64_t before = Spent("va");
    auto submitted = Submit("va");
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    EXPECT_TRUE(submitted->committed);
    EXPECT_EQ(Spent("va"), before + 6'001'382);
  }
};

// F1 (and F4, F6): hostile decoders, each the upload of a codes-mode reservation that named
// its hash. Each is refused with DataLoss on a session that stays usable; the coordinator keeps
// serving. The decoders are the fuzz seed corpus's hostile files (tests/fuzz/corpus).
TEST_F(HostilePeer, HostileDecodersAreRefusedAndTheCoordinatorServesOn) {
  auto session = Greeted("cleveland");
  ASSERT_NE(session, nullptr);
  int64_t granted = 0;
  int uploads = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(FEDSYN_FUZZ_CORPUS_DIR "/model_bundle")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("F", 0) != 0) continue;  // the hostile ones: F1_..., F4_..., F6_...
    const std::string bytes = *data::ReadFileToString(entry.path().string());
    p::Reserve reserve = Stated(p::Reserve{"r-hostile-" + std::to_string(uploads),
                                           "heart",
                                           {100'000, true},
                                           10,
                                           privacy::ReleaseMode::kCodes});
    reserve.charge.model_sha256 = privacy::Sha256Hex(bytes);
    reserve.charge.model_micros = 100'000;
    reserve.charge.model_delta = 1e-6;
    const auto reserved = Ask(*session, reserve);
    ASSERT_TRUE(std::holds_alternative<p::Reserved>(reserved)) << name;
    granted += std::get<p::Reserved>(reserved).charged_micros;
    const auto refused = Ask(*session, p::UploadModel{reserve.release_id, bytes});
    EXPECT_EQ(CodeOf(refused), absl::StatusCode::kDataLoss) << name;
    ++uploads;
  }
  EXPECT_GE(uploads, 10);
  EXPECT_TRUE(std::holds_alternative<p::HeartbeatReply>(Ask(*session, p::Heartbeat{})))
      << "the attacker's own session is still served";
  EXPECT_EQ(Spent("cleveland"), granted) << "exactly what was reserved, nothing more";
  ExpectStillServing();
  ExpectALegitimateReleaseIsExact();
}

// F2: charges at and beyond the representable range. Each is refused before any write; the
// budget stays at 0 and a legitimate release is charged exactly.
TEST_F(HostilePeer, OverflowingChargesAreRefusedAndBudgetsStayExact) {
  auto session = Greeted("cleveland");
  ASSERT_NE(session, nullptr);
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  int n = 0;
  for (const auto& [charge, model] :
       std::vector<std::pair<int64_t, int64_t>>{{kMax, 0},
                                                {kMax, 1'000'000},
                                                {1'000'000, kMax},
                                                {kMax, kMax},
                                                {-1, 0},
                                                {std::numeric_limits<int64_t>::min(), 0},
                                                {1'000'000, -5'000'000}}) {
    p::Reserve reserve = Stated(p::Reserve{"r-overflow-" + std::to_string(n++),
                                           "heart",
                                           {charge, model != 0},
                                           10,
                                           privacy::ReleaseMode::kSynthetic});
    if (model != 0) {
      reserve.charge.model_sha256 = std::string(64, 'a');
      reserve.charge.model_micros = model;
      reserve.charge.model_delta = 1e-6;
    }
    const auto reply = Ask(*session, reserve);
    EXPECT_NE(CodeOf(reply), absl::StatusCode::kOk) << charge << " + " << model;
    EXPECT_EQ(Spent("cleveland"), 0) << charge << " + " << model;
  }
  ExpectStillServing();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit("cleveland").ok());
  EXPECT_EQ(Spent("cleveland"), 3 * 6'001'382);
  EXPECT_EQ(Submit("cleveland").status().code(), absl::StatusCode::kResourceExhausted)
      << "the limit still holds: 4 x 6.0 > 20";
}

// F3: a plain-TCP flood from one address (another loopback address stands for the attacker's
// host). Beyond the per-address cap each connection is closed at accept; the sites are served.
TEST_F(HostilePeer, APlainTcpFloodDoesNotStopTheSites) {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> flood;
  for (int i = 0; i < 300; ++i) {
    auto socket = testing::PlainConnectionFrom(io, "127.0.0.2", server_->site_port());
    ASSERT_NE(socket, nullptr) << i;
    flood.push_back(std::move(socket));
  }
  ExpectStillServing();
  ExpectALegitimateReleaseIsExact();
  for (const char* site : {"cleveland", "hungarian", "switzerland"}) EXPECT_EQ(Spent(site), 0);
}

// Every request type, its frame written one byte per TLS record, is answered as if sent whole;
// the same frames cut off halfway by a dropped connection charge nothing and leave the
// coordinator serving.
TEST_F(HostilePeer, FragmentedAndCutOffFramesOfEveryRequestType) {
  const net::TlsFiles switzerland{g_dir + "/pki/ca.pem", g_dir + "/pki/sites/switzerland/site.pem",
                                  g_dir + "/pki/sites/switzerland/site.key"};
  const std::vector<p::SiteRequest> requests = {
      p::Heartbeat{},
      p::ReleaseStateQuery{"frag-1"},
      p::AuditJobQuery{"frag-1", "heart"},
      p::CanaryCommitment{"frag-1", std::string(64, 'a')},
      Stated(
          p::Reserve{"frag-1", "heart", {1'000'000, false}, 2, privacy::ReleaseMode::kSynthetic}),
      p::UploadChunk{"frag-1", 0, "63,1,1,145,233,1,2,150,0,2.3,3,0,6,0\n"},
      p::UploadModel{"frag-1", "not a model"},
      p::Commit{"frag-1", 1, std::string(64, 'f')},
      p::CanaryReveal{"frag-1", {true}, std::string(64, 'b'), {0}},
  };
  testing::RawTlsClient whole(switzerland, server_->site_port());
  testing::RawTlsClient fragmented(switzerland, server_->site_port());
  const std::string hello = p::EncodeSiteRequest(p::Hello{p::kProtocolVersion, "hostile"});
  ASSERT_TRUE(p::DecodeSiteResponse(whole.RoundTrip(hello)).ok());
  ASSERT_TRUE(p::DecodeSiteResponse(fragmented.FragmentedRoundTrip(hello)).ok());
  for (size_t i = 0; i < requests.size(); ++i) {
    // Fragmented first: its answers must match what the whole frames get next on another id.
    p::SiteRequest renamed = requests[i];
    std::visit(
        [](auto& m) {
          if constexpr (requires { m.release_id; }) m.release_id = "frag-2";
        },
        renamed);
    const auto in_pieces =
        p::DecodeSiteResponse(fragmented.FragmentedRoundTrip(p::EncodeSiteRequest(requests[i])));
    const auto at_once = p::DecodeSiteResponse(whole.RoundTrip(p::EncodeSiteRequest(renamed)));
    ASSERT_TRUE(in_pieces.ok() && at_once.ok()) << i;
    EXPECT_EQ(in_pieces->index(), at_once->index()) << "request " << i;
    EXPECT_EQ(CodeOf(*in_pieces), CodeOf(*at_once)) << "request " << i;
  }
  EXPECT_EQ(Spent("switzerland"), 2'000'000) << "frag-1 and frag-2, reserved once each";
  for (size_t i = 0; i < requests.size(); ++i) {
    testing::RawTlsClient cut(switzerland, server_->site_port());
    ASSERT_TRUE(p::DecodeSiteResponse(cut.RoundTrip(hello)).ok());
    p::SiteRequest renamed = requests[i];
    std::visit(
        [](auto& m) {
          if constexpr (requires { m.release_id; }) m.release_id = "cut-off";
        },
        renamed);
    const std::string framed = testing::RawTlsClient::Framed(p::EncodeSiteRequest(renamed));
    cut.Write(framed.substr(0, framed.size() / 2));
  }  // each dropped here, mid-frame
  EXPECT_EQ(Spent("switzerland"), 2'000'000) << "a cut-off reservation charges nothing";
  ExpectStillServing();
  ExpectALegitimateReleaseIsExact();
}

// F5: authenticated sessions announce 8 MiB frames and send almost nothing. Memory grows by
// what arrived, not by what was announced; the coordinator serves on.
TEST_F(HostilePeer, AnnouncedFramesDoNotHoldTheirAnnouncedMemory) {
  StopCoordinator();
  config_.max_connections_per_address = 64;  // all of this runs from 127.0.0.1
  StartCoordinator();
  const auto in_use = [] {
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
  };
  std::vector<std::unique_ptr<testing::RawTlsClient>> sessions;
  for (int i = 0; i < 30; ++i) {
    sessions.push_back(std::make_unique<testing::RawTlsClient>(
        net::TlsFiles{g_dir + "/pki/ca.pem", g_dir + "/pki/sites/switzerland/site.pem",
                      g_dir + "/pki/sites/switzerland/site.key"},
        server_->site_port()));
    const auto welcome = p::DecodeSiteResponse(
        sessions.back()->RoundTrip(p::EncodeSiteRequest(p::Hello{p::kProtocolVersion, "hostile"})));
    ASSERT_TRUE(welcome.ok() && std::holds_alternative<p::Welcome>(*welcome));
  }
  const size_t before = in_use();
  for (auto& s : sessions) s->StartFrame(8 << 20, 100);
  std::this_thread::sleep_for(milliseconds(300));
  const size_t grown = in_use() - std::min(in_use(), before);
  EXPECT_LT(grown, size_t{16} << 20) << grown;
  sessions.clear();
  ExpectStillServing();
  ExpectALegitimateReleaseIsExact();
}

}  // namespace
}  // namespace fedsyn::testing_federation
