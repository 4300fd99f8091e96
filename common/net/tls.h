// Mutual-TLS transport: TLS 1.3 only, both sides present certificates from the federation CA.
// Connections are synchronous with a deadline on every operation (each owns a private
// io_context and runs it for at most the deadline), which keeps sessions simple: one thread
// per connection, no callbacks above this layer. The transport knows nothing of messages: it
// moves length-prefixed frames of bytes.
#ifndef FEDSYN_COMMON_NET_TLS_H_
#define FEDSYN_COMMON_NET_TLS_H_

// clang-format off
// <utility> must come before Asio: Boost 1.74's awaitable.hpp uses std::exchange without
// including it, which breaks C++20 builds with g++ 12.
#include <utility>
// clang-format on

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "boost/asio.hpp"
#include "boost/asio/ssl.hpp"
#include "common/base/status.h"

namespace fedsyn::net {

using Deadline = std::chrono::milliseconds;

struct TlsFiles {
  std::string ca_file;    // the federation CA: the only trust anchor
  std::string cert_file;  // our certificate (PEM)
  std::string key_file;   // its private key (PEM, unencrypted: protect it with file permissions)
};

// Who is on the other end, read from its verified certificate's subject.
struct PeerIdentity {
  std::string common_name;          // the site id, or the admin's name
  std::string organizational_unit;  // the role: "site", "admin" or "coordinator"
};

enum class Role { kServer, kClient };

// TLS 1.3 only; peer verification against `files.ca_file` required in both directions
// (servers refuse clients without a certificate). Returns InvalidArgument naming the file
// that cannot be loaded.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsFiles& files,
                                                                          Role role);

class TlsConnection {
 public:
  // Dials host:port, verifies the server certificate against the CA and `host` (SAN), and
  // completes the handshake, all within `deadline`. Unavailable on failure (retryable),
  // DeadlineExceeded on timeout.
  static absl::StatusOr<std::unique_ptr<TlsConnection>> Connect(
      const std::string& host, uint16_t port, std::shared_ptr<boost::asio::ssl::context> context,
      Deadline deadline);

  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Reads one frame: a 4-byte big-endian length, then that many bytes. A length above
  // `max_bytes` is refused (InvalidArgument) before anything is allocated: it protects the
  // reader's memory against a peer that announces a huge frame.
  absl::StatusOr<std::string> ReadFrame(size_t max_bytes, Deadline deadline);
  absl::Status WriteFrame(std::string_view payload, Deadline deadline);

  const PeerIdentity& peer() const { return peer_; }
  std::string remote_address() const { return remote_address_; }
  // Closes the socket; safe to call from another thread to interrupt a blocked operation.
  void Close();

 private:
  friend class TlsListener;
  explicit TlsConnection(std::shared_ptr<boost::asio::ssl::context> context);
  template <typename StartOperation>
  absl::Status RunWithDeadline(StartOperation start, Deadline deadline, const char* what);
  absl::Status Handshake(boost::asio::ssl::stream_base::handshake_type type, Deadline deadline);

  std::shared_ptr<boost::asio::ssl::context> context_;
  boost::asio::io_context io_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  PeerIdentity peer_;
  std::string remote_address_;
  std::mutex close_mutex_;
};

// Accepts TLS connections on host:port and hands each authenticated one to `handler` on a
// thread of its own. Handshake failures (no certificate, wrong CA, expired, plain TCP, old
// TLS) are logged with the peer address and the reason, and never reach the handler.
class TlsListener {
 public:
  using Handler = std::function<void(TlsConnection& connection)>;

  // Binds (port 0 picks a free port; see port()). Call Start() to accept.
  static absl::StatusOr<std::unique_ptr<TlsListener>> Bind(
      const std::string& host, uint16_t port, std::shared_ptr<boost::asio::ssl::context> context,
      Deadline handshake_deadline, Handler handler);
  ~TlsListener();

  void Start();
  // Stops accepting, closes every open connection and joins all threads.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  TlsListener(std::shared_ptr<boost::asio::ssl::context> context, Deadline handshake_deadline,
              Handler handler);
  void AcceptLoop();
  void Serve(boost::asio::ip::tcp::socket socket);

  std::shared_ptr<boost::asio::ssl::context> context_;
  Deadline handshake_deadline_;
  Handler handler_;
  boost::asio::io_context accept_io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_ = false;
  std::thread accept_thread_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  // Joins the threads of connections that have ended (called on each accept), so a
  // long-running server does not accumulate finished threads.
  void ReapFinishedWorkers();

  std::mutex mutex_;  // guards connections_ and workers_
  std::list<TlsConnection*> connections_;
  std::list<Worker> workers_;
};

// "host:port" -> (host, port). InvalidArgument for anything else.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& address);

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_TLS_H_
