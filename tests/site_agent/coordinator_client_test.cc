// The agent's client against a hostile or broken coordinator, through the connection seam
// (ClientOptions::dial): for every request the client makes, replies that are not a Cap'n Proto
// message, a message of the wrong type, a frame over the size limit, or a connection that drops
// after the request, each come back as an error status — never a crash, a hang or a success.
#include "site_agent/coordinator_client.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/codec.h"
#include "tests/support/fake_connections.h"

namespace fedsyn::site {
namespace {

// Answers the hello properly, then every later request with `hostile` (or drops if empty).
class ScriptedConnection : public net::FrameConnection {
 public:
  explicit ScriptedConnection(std::optional<std::string> hostile) : hostile_(std::move(hostile)) {}
  absl::Status WriteFrame(std::string_view payload, net::Deadline) override {
    auto request = protocol::DecodeSiteRequest(payload);
    if (!request.ok()) return request.status();
    if (std::holds_alternative<protocol::Hello>(*request)) {
      protocol::Welcome welcome{protocol::kProtocolVersion, "cleveland", {{"heart", "", 10, 0}}};
      replies_.Push(protocol::EncodeSiteResponse(welcome));
    } else if (hostile_) {
      replies_.Push(*hostile_);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ReadFrame(size_t max_bytes, net::Deadline) override {
    return replies_.Read(max_bytes);
  }

 private:
  std::optional<std::string> hostile_;
  testing::ReplyQueue replies_;
};

TEST(CoordinatorClient, EveryRequestRefusesWhatAHostileCoordinatorAnswers) {
  const std::vector<std::pair<const char*, std::optional<std::string>>> answers = {
      {"garbage", std::string("\x01\x02\x03 not capnp at all")},
      {"words of zeros", std::string(64, '\0')},
      // No request after the hello is answered by a welcome.
      {"wrong type", protocol::EncodeSiteResponse(protocol::Welcome{})},
      {"oversized", std::string(protocol::kMaxMessageBytes + 8, '\0')},
      {"dropped", std::nullopt},
  };
  const SiteKit kit;  // unused: the dial below replaces the TLS connection
  for (const auto& [what, answer] : answers) {
    SCOPED_TRACE(what);
    ClientOptions options;
    options.connect_attempts = 1;
    options.dial = [answer = answer]() -> absl::StatusOr<std::unique_ptr<net::FrameConnection>> {
      return std::unique_ptr<net::FrameConnection>(new ScriptedConnection(answer));
    };
    auto client = CoordinatorClient::Connect(kit, options, [] { return 0.5; });
    ASSERT_TRUE(client.ok()) << client.status();
    auto& c = **client;
    protocol::Reserve reserve{"r-1", "heart", {1, false}, 1, privacy::ReleaseMode::kSynthetic};
    EXPECT_FALSE(c.Reserve(reserve).ok());
    EXPECT_FALSE(c.State("r-1").ok());
    EXPECT_FALSE(c.Upload("r-1", "1,2\n", 1024).ok());
    EXPECT_FALSE(c.UploadModel("r-1", "model").ok());
    EXPECT_FALSE(c.Commit("r-1", 1, std::string(64, 'a')).ok());
    EXPECT_FALSE(c.Heartbeat().ok());
    EXPECT_FALSE(c.OpenAudit("r-1", "heart").ok());
    EXPECT_FALSE(c.CommitCanaries("r-1", std::string(64, 'a')).ok());
    EXPECT_FALSE(c.RevealCanaries({"r-1", {true}, std::string(64, 'b'), {0}}).ok());
  }
}

// A welcome that is not a welcome ends the connection attempt with an error.
TEST(CoordinatorClient, AHostileHelloAnswerIsRefused) {
  class Garbage : public net::FrameConnection {
   public:
    absl::Status WriteFrame(std::string_view, net::Deadline) override { return absl::OkStatus(); }
    absl::StatusOr<std::string> ReadFrame(size_t, net::Deadline) override {
      return std::string(8, '\xff');
    }
  };
  ClientOptions options;
  options.connect_attempts = 2;
  options.backoff_base = std::chrono::milliseconds(1);
  options.dial = []() -> absl::StatusOr<std::unique_ptr<net::FrameConnection>> {
    return std::unique_ptr<net::FrameConnection>(new Garbage());
  };
  EXPECT_FALSE(CoordinatorClient::Connect(SiteKit{}, options, [] { return 0.5; }).ok());
}

// Chunks are cut deterministically (a resumed upload must cut the same ones): each is the
// longest run of whole lines within the limit. Checked against a line-by-line greedy cut on
// random texts, at the edges (a row exactly the limit, no final newline) and for a row too long.
TEST(CoordinatorClientChunks, EachChunkIsTheLongestRunOfWholeLinesThatFits) {
  const auto greedy = [](const std::string& rows, size_t limit) {
    std::vector<std::string> chunks;
    std::string current;
    size_t start = 0;
    while (start < rows.size()) {
      size_t end = rows.find('\n', start);
      end = end == std::string::npos ? rows.size() : end + 1;
      if (current.size() + (end - start) > limit) chunks.push_back(std::exchange(current, ""));
      current.append(rows, start, end - start);
      start = end;
    }
    if (!current.empty()) chunks.push_back(current);
    return chunks;
  };
  uint64_t state = 12345;
  const auto next = [&state](uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  for (int trial = 0; trial < 300; ++trial) {
    const size_t limit = 8 + next(40);
    std::string rows;
    const size_t lines = next(30);
    for (size_t l = 0; l < lines; ++l) {
      rows += std::string(next(limit), static_cast<char>('a' + l % 26));  // with '\n' <= limit
      if (l + 1 < lines || next(2) == 0) rows += '\n';
    }
    const auto chunks = CoordinatorClient::SplitChunks(rows, limit);
    ASSERT_TRUE(chunks.ok()) << chunks.status();
    EXPECT_EQ(*chunks, greedy(rows, limit)) << "limit " << limit << " rows " << rows;
  }
  EXPECT_EQ(*CoordinatorClient::SplitChunks("abc\ndef\n", 4),
            (std::vector<std::string>{"abc\n", "def\n"}));
  EXPECT_EQ(*CoordinatorClient::SplitChunks("abc\ndef", 4),
            (std::vector<std::string>{"abc\n", "def"}));
  EXPECT_TRUE(CoordinatorClient::SplitChunks("", 4)->empty());
  EXPECT_EQ(CoordinatorClient::SplitChunks("ab\nabcdef\nab\n", 4).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CoordinatorClient::SplitChunks("ab\nabcde", 4).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedsyn::site
