// A connection as everything above the transport sees it: whole frames in, whole frames out,
// each with a deadline. TlsConnection implements it over mutual TLS; tests implement it in
// memory (tests/support/fake_connections.h) to drive the federation path without sockets.
#ifndef FEDSYN_COMMON_NET_FRAME_CONNECTION_H_
#define FEDSYN_COMMON_NET_FRAME_CONNECTION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace fedsyn::net {

using Deadline = std::chrono::milliseconds;

class FrameConnection {
 public:
  virtual ~FrameConnection() = default;
  // One frame of at most `max_bytes` (InvalidArgument above it, before anything is allocated
  // for it); Unavailable when the peer went away, DeadlineExceeded on timeout.
  virtual absl::StatusOr<std::string> ReadFrame(size_t max_bytes, Deadline deadline) = 0;
  virtual absl::Status WriteFrame(std::string_view payload, Deadline deadline) = 0;
};

// Opens a new connection to the peer (one attempt; callers retry with backoff).
using Dialer = std::function<absl::StatusOr<std::unique_ptr<FrameConnection>>()>;

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_FRAME_CONNECTION_H_
