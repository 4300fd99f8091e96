// Mutual-TLS transport: TLS 1.3 only, both sides present certificates from the federation CA.
// Above this layer connections are synchronous with a deadline on every operation: one thread
// per authenticated session, no callbacks. Underneath, a listener runs every socket of its
// connections on one shared io_context (asynchronously, one strand per connection), so a
// connection that has not authenticated costs one descriptor and no thread: plain TCP floods
// and slow handshakes cannot exhaust threads or descriptors beyond the listener's caps. The
// transport knows nothing of messages: it moves length-prefixed frames of bytes.
#ifndef FEDSYN_COMMON_NET_TLS_H_
#define FEDSYN_COMMON_NET_TLS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/net/frame_connection.h"

// What the applications see of the transport; Asio and OpenSSL stay behind it, in tls.cc and
// tls_impl.h (which only tls.cc and tests include).
namespace fedsyn::net {

struct TlsFiles {
  std::string ca_file;    // the federation CA: the only trust anchor
  std::string cert_file;  // our certificate (PEM)
  std::string key_file;   // its private key (PEM, unencrypted: protect it with file permissions)
  // Servers only, optional: the CA's revocation list. A client whose certificate it revokes is
  // refused at the handshake; the file is re-read when it changes (common/net/revocation.h).
  std::string crl_file;
};

// What `--check-config` verifies of a program's TLS files before it serves, one message per
// problem, each naming its file (empty: all is well): each file exists and parses; the private
// key is not readable by group or others and belongs to the certificate; the CA signed the
// certificate; the certificate is valid now and for `warn_days` more days; the CRL, if named,
// is signed by the CA and not past its next update.
std::vector<std::string> CheckTlsFiles(const TlsFiles& files, int warn_days = 30);
// A service's `--check-config`: CheckTlsFiles, and for each file the service creates
// (`created`: what it is, e.g. "database", and its path) that its folder exists.
std::vector<std::string> CheckServiceFiles(
    const TlsFiles& files, const std::vector<std::pair<std::string, std::string>>& created);

// Who is on the other end, read from its verified certificate's subject.
struct PeerIdentity {
  std::string common_name;          // the site id, or the admin's name
  std::string organizational_unit;  // the role: "site", "admin" or "coordinator"
  std::string certificate_serial;   // upper-case hex, as the CA's index prints it
  int64_t certificate_not_after_unix = 0;
};

enum class Role { kServer, kClient };

// The loaded certificates and trust anchor (an OpenSSL context; opaque here, tls_impl.h).
class TlsContext;

// TLS 1.3 only; peer verification against `files.ca_file` required in both directions
// (servers refuse clients without a certificate, and with `files.crl_file` those it revokes).
// Returns InvalidArgument naming the file that cannot be loaded.
absl::StatusOr<std::shared_ptr<TlsContext>> MakeTlsContext(const TlsFiles& files, Role role);

// An authenticated connection: frames, and who is on the other end.
class PeerConnection : public FrameConnection {
 public:
  virtual const PeerIdentity& peer() const = 0;
  virtual std::string remote_address() const = 0;
  // Closes the connection; safe from any thread, to interrupt a blocked operation.
  virtual void Close() = 0;
};

// Dials host:port, verifies the server certificate against the CA and `host` (SAN), and
// completes the handshake, all within `deadline`. Unavailable on failure (retryable),
// DeadlineExceeded on timeout. A non-empty `source_address` is the local address to connect
// from (a multi-homed host; the load bench's many loopback "hosts").
absl::StatusOr<std::unique_ptr<PeerConnection>> DialTls(const std::string& host, uint16_t port,
                                                        std::shared_ptr<TlsContext> context,
                                                        Deadline deadline,
                                                        const std::string& source_address = "");

// Caps that keep a listener serving under abuse. Every accepted connection, authenticated or
// still handshaking, counts until it is closed. Connections beyond a cap are closed at accept,
// before any TLS byte or allocation, and counted in one rate-limited log line.
struct ListenerLimits {
  // Total open connections. Each costs one descriptor (plus a session thread once
  // authenticated); Bind lowers this to fit the process's descriptor limit.
  size_t max_connections = 256;
  // Open connections from one IP address: one client cannot take every slot.
  size_t max_connections_per_address = 16;
};

// A listener serving authenticated connections (ListenTls); see TlsListener in tls_impl.h.
class FrameListener {
 public:
  virtual ~FrameListener() = default;
  virtual void Start() = 0;
  // Stops accepting, closes every open connection and joins all threads.
  virtual void Stop() = 0;
  virtual uint16_t port() const = 0;
  virtual const ListenerLimits& limits() const = 0;
  // Connections open now (handshaking or authenticated).
  virtual size_t open_connections() = 0;
  // Failed accept() calls so far (EMFILE and the like).
  virtual uint64_t accept_errors() const = 0;
};

// Runs on a thread of its own for every authenticated connection.
using SessionHandler = std::function<void(PeerConnection& connection)>;

// Binds host:port (port 0 picks a free port) for mutual TLS under `limits`; Start() accepts.
// Handshakes must finish within `handshake_deadline`.
absl::StatusOr<std::unique_ptr<FrameListener>> ListenTls(const std::string& host, uint16_t port,
                                                         std::shared_ptr<TlsContext> context,
                                                         Deadline handshake_deadline,
                                                         ListenerLimits limits,
                                                         SessionHandler handler);

// "host:port" -> (host, port). InvalidArgument for anything else.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& address);

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_TLS_H_
