// The federation path without sockets: a coordinator in process behind net::FrameConnection.
// Every dial opens a new coordinator::SiteSession over the given storage, as the server does
// for each TLS connection, so the agent's code (CoordinatorClient, submit, resume, audit jobs)
// runs unchanged against the real session logic. Faults are injected by frame number: the
// connection can drop before the coordinator sees a request or after it handled it (the reply
// is lost), which are the two ways a network fails a request.
#ifndef FEDSYN_TESTS_SUPPORT_FAKE_CONNECTIONS_H_
#define FEDSYN_TESTS_SUPPORT_FAKE_CONNECTIONS_H_

#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/net/frame_connection.h"
#include "common/privacy/random.h"
#include "coordinator/site_session.h"
#include "protocol/codec.h"

namespace fedsyn::testing {

// The request's kind as the log names it.
inline std::string RequestKind(const protocol::SiteRequest& request) {
  static const char* const kNames[] = {
      "hello",        "reserve",     "uploadChunk", "commit",         "heartbeat",
      "releaseState", "uploadModel", "openAudit",   "commitCanaries", "revealCanaries"};
  static_assert(std::size(kNames) == std::variant_size_v<protocol::SiteRequest>,
                "one name per request type, in the variant's order");
  return kNames[request.index()];
}

// The replies a fake connection has ready, read in order as a peer's frames: Unavailable when
// none is left (the peer hung up), InvalidArgument for one over the reader's limit (what the TLS
// reader does with an announced length above it).
class ReplyQueue {
 public:
  void Push(std::string reply) { replies_.push_back(std::move(reply)); }
  absl::StatusOr<std::string> Read(size_t max_bytes) {
    if (replies_.empty()) return absl::UnavailableError("connection dropped");
    std::string reply = std::move(replies_.front());
    replies_.pop_front();
    if (reply.size() > max_bytes) return absl::InvalidArgumentError("frame over the limit");
    return reply;
  }

 private:
  std::deque<std::string> replies_;
};

class InProcessCoordinator {
 public:
  enum class Drop { kBeforeHandling, kAfterHandling };

  InProcessCoordinator(std::string site_id, coordinator::Storage& storage,
                       const coordinator::CoordinatorConfig& config,
                       privacy::RandomSource& canary_random)
      : site_id_(std::move(site_id)),
        storage_(storage),
        config_(config),
        canary_random_(canary_random) {}

  // Dials a new connection (a new session) each call.
  net::Dialer Dialer() {
    return [this]() -> absl::StatusOr<std::unique_ptr<net::FrameConnection>> {
      return std::unique_ptr<net::FrameConnection>(new Connection(*this));
    };
  }

  // The connection carrying frame number `frame` (0-based over every frame any connection
  // writes from now on) drops at it: before the coordinator handles it, or after (the reply
  // is lost). Once.
  void DropAtFrame(int64_t frame, Drop when) {
    drop_frame_ = frames_ + frame;
    drop_when_ = when;
  }
  // Runs as each request arrives, before the coordinator handles it.
  std::function<void(const protocol::SiteRequest&)> on_request;
  // Every request the coordinator handled, in order.
  const std::vector<std::string>& handled() const { return handled_; }
  // Request frames as they were written (a retried chunk must resend the same bytes).
  const std::vector<std::string>& frames() const { return frame_bytes_; }
  bool dropped() const { return dropped_; }

 private:
  class Connection : public net::FrameConnection {
   public:
    explicit Connection(InProcessCoordinator& owner)
        : owner_(owner),
          session_(
              owner.site_id_, owner.storage_, owner.config_, [] { return int64_t{1000}; },
              owner.canary_random_) {}

    absl::Status WriteFrame(std::string_view payload, net::Deadline) override {
      if (broken_) return absl::UnavailableError("connection dropped");
      const int64_t frame = owner_.frames_++;
      owner_.frame_bytes_.emplace_back(payload);
      const bool drop_here = frame == owner_.drop_frame_;
      if (drop_here && owner_.drop_when_ == Drop::kBeforeHandling) return Break();
      absl::StatusOr<protocol::SiteRequest> request = protocol::DecodeSiteRequest(payload);
      if (!request.ok()) return request.status();
      if (owner_.on_request) owner_.on_request(*request);
      owner_.handled_.push_back(RequestKind(*request));
      const std::string reply = protocol::EncodeSiteResponse(session_.Handle(*request));
      if (drop_here) {  // delivered and handled; the reply is lost with the connection
        (void)Break();
        return absl::OkStatus();
      }
      replies_.Push(reply);
      return absl::OkStatus();
    }

    absl::StatusOr<std::string> ReadFrame(size_t max_bytes, net::Deadline) override {
      return replies_.Read(max_bytes);
    }

   private:
    absl::Status Break() {
      broken_ = true;
      owner_.dropped_ = true;
      owner_.drop_frame_ = -1;
      return absl::UnavailableError("connection dropped");
    }

    InProcessCoordinator& owner_;
    coordinator::SiteSession session_;
    ReplyQueue replies_;
    bool broken_ = false;
  };

  std::string site_id_;
  coordinator::Storage& storage_;
  const coordinator::CoordinatorConfig& config_;
  privacy::RandomSource& canary_random_;
  int64_t frames_ = 0;
  int64_t drop_frame_ = -1;
  Drop drop_when_ = Drop::kBeforeHandling;
  bool dropped_ = false;
  std::vector<std::string> handled_;
  std::vector<std::string> frame_bytes_;
};

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_FAKE_CONNECTIONS_H_
