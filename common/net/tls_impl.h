// The mutual-TLS transport's Asio side (common/net/tls.h is what applications see): only
// tls.cc and tests include this.
#ifndef FEDSYN_COMMON_NET_TLS_IMPL_H_
#define FEDSYN_COMMON_NET_TLS_IMPL_H_

// clang-format off
// <utility> must come before Asio: Boost 1.74's awaitable.hpp uses std::exchange without
// including it, which breaks C++20 builds with g++ 12.
#include <utility>
// clang-format on

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "boost/asio.hpp"
#include "boost/asio/ssl.hpp"
#include "common/base/status.h"
#include "common/net/frame_connection.h"
#include "common/net/revocation.h"
#include "common/net/tls.h"

namespace fedsyn::net {

class TlsContext {
 public:
  explicit TlsContext(boost::asio::ssl::context::method method) : ssl_(method) {}
  // Asio's streams take the context by non-const reference.
  boost::asio::ssl::context& ssl() { return ssl_; }
  // The CRL a server checks clients against (null: none configured).
  RevocationWatcher* revocations() { return revocations_.get(); }
  void set_revocations(std::unique_ptr<RevocationWatcher> watcher) {
    revocations_ = std::move(watcher);
  }

 private:
  std::unique_ptr<RevocationWatcher> revocations_;  // outlives ssl_'s callbacks: declared first
  boost::asio::ssl::context ssl_;
};

class TlsConnection : public PeerConnection {
 public:
  // Dials host:port, verifies the server certificate against the CA and `host` (SAN), and
  // completes the handshake, all within `deadline`. Unavailable on failure (retryable),
  // DeadlineExceeded on timeout. A client connection runs its socket on an io_context and
  // thread of its own. A non-empty `source_address` is the local address to connect from.
  static absl::StatusOr<std::unique_ptr<TlsConnection>> Connect(
      const std::string& host, uint16_t port, std::shared_ptr<TlsContext> context,
      Deadline deadline, const std::string& source_address = "");

  ~TlsConnection() override;
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Reads one frame: a 4-byte big-endian length, then that many bytes; the header must arrive
  // within `deadline`, and the whole body within BodyTime(length) after it, at most `deadline`.
  // A length above
  // `max_bytes` is refused (InvalidArgument) before anything is read or allocated, and the body
  // is allocated in steps as its bytes arrive (kFrameReadStep, then doubling), never from the
  // announced length: a peer that announces a large frame and sends nothing costs one step of
  // memory, and one that sends N bytes at most 2N.
  absl::StatusOr<std::string> ReadFrame(size_t max_bytes, Deadline deadline) override;
  absl::Status WriteFrame(std::string_view payload, Deadline deadline) override;

  const PeerIdentity& peer() const override { return peer_; }
  std::string remote_address() const override { return remote_address_; }
  // Closes the socket and waits until it is closed; safe to call from any thread that is not
  // running the connection's io_context, to interrupt a blocked operation.
  void Close() override;

  static constexpr size_t kFrameReadStep = 64 * 1024;
  // How long a body of `bytes` may take once its header is in: 10 s plus the time at 16 KiB/s
  // (a 1 MiB chunk over a slow 128 kbit/s link: 74 s). A long idle deadline is for the gaps
  // between requests (heartbeats every minute); without this bound a peer trickling a small
  // frame one byte a second would stay within it and hold its connection and session thread
  // for as long as it liked.
  static Deadline BodyTime(size_t bytes) {
    return std::chrono::seconds(10) + std::chrono::milliseconds(bytes * 1000 / (16 * 1024));
  }

 private:
  friend class TlsListener;
  class IoThread;
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  TlsConnection(std::unique_ptr<IoThread> own_io, Strand strand,
                boost::asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context);
  // Starts one asynchronous operation on the connection's strand and waits for its completion
  // until `deadline`; past it, closes the socket (which aborts the operation) and waits for the
  // aborted completion, so no handler outlives the buffers it writes into.
  template <typename StartOperation>
  absl::Status RunUntil(StartOperation start, std::chrono::steady_clock::time_point deadline,
                        const char* what);
  void CloseOnStrand();
  absl::Status ReadPeerIdentity();
  // What a failed server handshake says in the log: the TLS error, and when the client's
  // certificate was the reason, which check refused it ("certificate revoked", "... expired").
  std::string DescribeHandshakeFailure(const boost::system::error_code& ec);

  std::unique_ptr<IoThread> own_io_;  // clients only; declared first so it outlives stream_
  std::shared_ptr<TlsContext> context_;
  Strand strand_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  PeerIdentity peer_;
  std::string remote_address_;
};

// Accepts TLS connections on host:port and hands each authenticated one to `handler` on a
// thread of its own. Handshakes run asynchronously on the listener's io thread with a deadline;
// failures (no certificate, wrong CA, expired, plain TCP, old TLS) are logged with the peer
// address and the reason (rate-limited), and never reach the handler. Accept errors such as
// EMFILE are logged once and retried after a growing pause instead of spinning. A handler that
// throws ends only its own connection: the exception is logged and the listener keeps serving.
class TlsListener : public FrameListener {
 public:
  using Handler = SessionHandler;

  // Binds (port 0 picks a free port; see port()). Call Start() to accept.
  static absl::StatusOr<std::unique_ptr<TlsListener>> Bind(const std::string& host, uint16_t port,
                                                           std::shared_ptr<TlsContext> context,
                                                           Deadline handshake_deadline,
                                                           ListenerLimits limits, Handler handler);
  ~TlsListener() override;

  void Start() override;
  // Stops accepting, closes every open connection and joins all threads.
  void Stop() override;
  uint16_t port() const override { return port_; }
  const ListenerLimits& limits() const override { return limits_; }
  // Connections open now (handshaking or authenticated).
  size_t open_connections() override;
  // Failed accept() calls so far (EMFILE and the like); each starts or extends a pause.
  uint64_t accept_errors() const override { return accept_errors_; }

 private:
  class RateLimitedLog;
  struct Session {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  TlsListener(std::shared_ptr<TlsContext> context, Deadline handshake_deadline,
              ListenerLimits limits, Handler handler);
  void AcceptNext();
  void OnAcceptError(const boost::system::error_code& error);
  // Admits a freshly accepted socket under the caps and starts its handshake.
  void Admit(TlsConnection::Strand strand, boost::asio::ip::tcp::socket socket);
  void StartHandshake(std::shared_ptr<TlsConnection> connection, const std::string& address);
  void StartSession(std::shared_ptr<TlsConnection> connection, const std::string& address);
  void RunSession(TlsConnection& connection);
  void Release(const std::shared_ptr<TlsConnection>& connection, const std::string& address);
  // Joins the threads of sessions that have ended (called on each accept), so a long-running
  // server does not accumulate finished threads.
  void ReapFinishedSessions();

  std::shared_ptr<TlsContext> context_;
  Deadline handshake_deadline_;
  ListenerLimits limits_;
  Handler handler_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  Deadline accept_pause_{0};
  std::atomic<uint64_t> accept_errors_ = 0;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_ = false;
  std::thread io_thread_;
  std::unique_ptr<RateLimitedLog> refusals_;

  std::mutex mutex_;                                            // guards everything below
  std::map<std::shared_ptr<TlsConnection>, std::string> open_;  // connection -> peer address
  std::map<std::string, size_t> open_per_address_;
  std::list<Session> sessions_;
};

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_TLS_IMPL_H_
