#include "common/net/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <future>
#include <limits>
#include <stdexcept>

#include "common/net/frame.h"
#include "common/net/openssl_handles.h"
#include "common/net/tls_impl.h"
#include "spdlog/spdlog.h"

namespace fedsyn::net {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string SubjectField(X509* cert, int nid) {
  char buffer[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

// Runs `work` on `executor` and waits until it has run. The promise is owned by the handler as
// well: the waiting thread can wake and return while set_value is still finishing its notify, and
// a promise on the waiter's stack would then be destroyed under it — the likely cause of an
// abort on a corrupted mutex seen once with 64 concurrent connections on a loaded machine.
template <typename Executor, typename Work>
void RunAndWait(const Executor& executor, Work work) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  asio::dispatch(executor, [done, work = std::move(work)]() mutable {
    work();
    done->set_value();
  });
  finished.wait();
}

}  // namespace

std::string TlsConnection::DescribeHandshakeFailure(const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(stream_.native_handle());
  if (verify == X509_V_OK) return ec.message();
  return ec.message() + " (" + X509_verify_cert_error_string(verify) + ")";
}

absl::StatusOr<std::shared_ptr<TlsContext>> MakeTlsContext(const TlsFiles& files, Role role) {
  auto loaded = std::make_shared<TlsContext>(role == Role::kServer ? ssl::context::tls_server
                                                                   : ssl::context::tls_client);
  ssl::context* context = &loaded->ssl();
  // TLS 1.3 only: older versions allow weaker suites and renegotiation.
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_3_VERSION);
  boost::system::error_code ec;
  context->load_verify_file(files.ca_file, ec);
  if (ec)
    return absl::InvalidArgumentError("cannot load CA certificate " + files.ca_file + ": " +
                                      ec.message());
  context->use_certificate_chain_file(files.cert_file, ec);
  if (ec)
    return absl::InvalidArgumentError("cannot load certificate " + files.cert_file + ": " +
                                      ec.message());
  context->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec)
    return absl::InvalidArgumentError("cannot load private key " + files.key_file + ": " +
                                      ec.message());
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError("private key " + files.key_file + " does not match " +
                                      files.cert_file);
  }
  // Both directions authenticate: a server without a client certificate refuses the handshake.
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  if (role == Role::kServer && !files.crl_file.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<RevocationWatcher> watcher,
                     RevocationWatcher::Open(files.crl_file, files.ca_file));
    RevocationWatcher* revocations = watcher.get();
    loaded->set_revocations(std::move(watcher));
    // The chain has been verified by then (`preverified`); the CA signs end certificates
    // directly, so the one to look up is the peer's own (depth 0).
    context->set_verify_callback([revocations](bool preverified, ssl::verify_context& verify) {
      X509_STORE_CTX* store = verify.native_handle();
      if (!preverified || X509_STORE_CTX_get_error_depth(store) != 0) return preverified;
      if (revocations->IsRevoked(
              SerialHex(X509_get0_serialNumber(X509_STORE_CTX_get_current_cert(store))))) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
        return false;
      }
      return true;
    });
  }
  return loaded;
}

// A client connection's io_context and the thread that runs it until the connection ends.
class TlsConnection::IoThread {
 public:
  IoThread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

TlsConnection::TlsConnection(std::unique_ptr<IoThread> own_io, Strand strand, tcp::socket socket,
                             std::shared_ptr<TlsContext> context)
    : own_io_(std::move(own_io)),
      context_(std::move(context)),
      strand_(std::move(strand)),
      stream_(std::move(socket), context_->ssl()) {}

TlsConnection::~TlsConnection() {
  // A client closes its socket while its own io thread still runs; a server connection is
  // destroyed only once no handler refers to it, so its socket simply closes with it.
  if (own_io_) Close();
}

void TlsConnection::CloseOnStrand() {
  boost::system::error_code ignored;
  stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.lowest_layer().close(ignored);
}

void TlsConnection::Close() {
  RunAndWait(strand_, [this] { CloseOnStrand(); });
}

template <typename StartOperation>
absl::Status TlsConnection::RunUntil(StartOperation start,
                                     std::chrono::steady_clock::time_point deadline,
                                     const char* what) {
  struct Outcome {
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    boost::system::error_code error;
  };
  auto outcome = std::make_shared<Outcome>();
  asio::dispatch(strand_, [&start, outcome] {
    start([outcome](const boost::system::error_code& ec, auto&&...) {
      std::lock_guard lock(outcome->mutex);
      outcome->error = ec;
      outcome->done = true;
      outcome->finished.notify_all();
    });
  });
  std::unique_lock lock(outcome->mutex);
  if (!outcome->finished.wait_until(lock, deadline, [&] { return outcome->done; })) {
    lock.unlock();
    Close();  // aborts the pending operation
    lock.lock();
    outcome->finished.wait(lock, [&] { return outcome->done; });
    return absl::DeadlineExceededError(std::string(what) + ": no progress within the deadline");
  }
  if (outcome->error)
    return absl::UnavailableError(std::string(what) + ": " + outcome->error.message());
  return absl::OkStatus();
}

absl::Status TlsConnection::ReadPeerIdentity() {
  X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
  if (cert == nullptr) return absl::UnauthenticatedError("peer presented no certificate");
  peer_.common_name = SubjectField(cert, NID_commonName);
  peer_.organizational_unit = SubjectField(cert, NID_organizationalUnitName);
  peer_.certificate_serial = SerialHex(X509_get0_serialNumber(cert));
  peer_.certificate_not_after_unix = UnixTime(X509_get0_notAfter(cert));
  X509_free(cert);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsConnection>> TlsConnection::Connect(
    const std::string& host, uint16_t port, std::shared_ptr<TlsContext> context, Deadline deadline,
    const std::string& source_address) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::unique_ptr<TlsConnection> connection;
  {
    // The strand and the moved-from socket hold references into the io_context's services: they
    // must go before the connection (which owns the io_context) can. Left in the function's
    // scope, they outlived a connection destroyed on a failed connect or handshake and touched
    // its freed services — the heap corruption behind docs/reliability.md's crash under 64
    // retrying clients (found by ASan with
    // Listener.SixtyFourClientsRefusedAndRetryingAreAllServed).
    auto io = std::make_unique<IoThread>();
    Strand strand = asio::make_strand(io->io());
    tcp::socket socket(strand);
    connection.reset(
        new TlsConnection(std::move(io), strand, std::move(socket), std::move(context)));
  }
  tcp::resolver resolver(connection->own_io_->io());
  boost::system::error_code ec;
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return absl::UnavailableError("cannot resolve " + host + ": " + ec.message());
  ssl::stream<tcp::socket>& stream = connection->stream_;
  if (source_address.empty()) {
    RETURN_IF_ERROR(connection->RunUntil(
        [&](auto handler) { asio::async_connect(stream.lowest_layer(), endpoints, handler); },
        until, "connect"));
  } else {
    // A bound socket connects to one endpoint of the source's family (a range connect would
    // close the socket, and its binding, between attempts).
    const asio::ip::address source = asio::ip::make_address(source_address, ec);
    if (ec) return absl::InvalidArgumentError("bad source address " + source_address);
    auto target = std::find_if(endpoints.begin(), endpoints.end(), [&](const auto& e) {
      return e.endpoint().address().is_v4() == source.is_v4();
    });
    if (target == endpoints.end()) {
      return absl::UnavailableError("no address of " + host + " in the family of " +
                                    source_address);
    }
    auto& socket = stream.lowest_layer();
    socket.open(target->endpoint().protocol(), ec);
    if (!ec) socket.bind({source, 0}, ec);
    if (ec) return absl::UnavailableError("cannot bind to " + source_address + ": " + ec.message());
    const tcp::endpoint endpoint = target->endpoint();
    RETURN_IF_ERROR(connection->RunUntil(
        [&](auto handler) { socket.async_connect(endpoint, handler); }, until, "connect"));
  }
  // Verify the coordinator's name (SAN) as well as its CA, and send SNI.
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(host));
  RETURN_IF_ERROR(connection->RunUntil(
      [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); }, until,
      "TLS handshake"));
  RETURN_IF_ERROR(connection->ReadPeerIdentity());
  connection->remote_address_ = host + ":" + std::to_string(port);
  return connection;
}

absl::StatusOr<std::string> TlsConnection::ReadFrame(size_t max_bytes, Deadline deadline) {
  FrameHeader header;
  RETURN_IF_ERROR(
      RunUntil([&](auto handler) { asio::async_read(stream_, asio::buffer(header), handler); },
               std::chrono::steady_clock::now() + deadline, "read"));
  ASSIGN_OR_RETURN(const uint32_t size, DecodeFrameHeader(header, max_bytes));
  const auto body_deadline = std::chrono::steady_clock::now() + std::min(deadline, BodyTime(size));
  std::string payload;
  while (payload.size() < size) {
    const size_t offset = payload.size();
    // Each step is as large as what has arrived so far (at least kFrameReadStep): memory stays
    // within twice the bytes the peer has actually sent, and a 1 MiB chunk takes 5 round trips
    // to the io thread instead of 16.
    const size_t step = std::min<size_t>(std::max(kFrameReadStep, offset), size - offset);
    payload.resize(offset + step);
    RETURN_IF_ERROR(RunUntil(
        [&](auto handler) {
          asio::async_read(stream_, asio::buffer(payload.data() + offset, step), handler);
        },
        body_deadline, "read"));
  }
  return payload;
}

absl::Status TlsConnection::WriteFrame(std::string_view payload, Deadline deadline) {
  if (payload.size() > std::numeric_limits<uint32_t>::max())
    return absl::InvalidArgumentError("frame too large for its 4-byte length");
  const uint32_t size = static_cast<uint32_t>(payload.size());
  const FrameHeader header = EncodeFrameHeader(size);
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(header),
                                                     asio::buffer(payload.data(), size)};
  return RunUntil([&](auto handler) { asio::async_write(stream_, buffers, handler); },
                  std::chrono::steady_clock::now() + deadline, "write");
}

// One log line per second at most for a class of events an attacker can repeat at will (refused
// connections, failed handshakes); the line says how many were not logged since the last one.
class TlsListener::RateLimitedLog {
 public:
  void Warn(const std::string& message) {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) {
      ++suppressed_;
      return;
    }
    if (suppressed_ > 0) {
      spdlog::warn("{} ({} similar events not logged in the last second)", message, suppressed_);
    } else {
      spdlog::warn("{}", message);
    }
    last_ = now;
    suppressed_ = 0;
  }

 private:
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

TlsListener::TlsListener(std::shared_ptr<TlsContext> context, Deadline handshake_deadline,
                         ListenerLimits limits, Handler handler)
    : context_(std::move(context)),
      handshake_deadline_(handshake_deadline),
      limits_(limits),
      handler_(std::move(handler)),
      acceptor_(io_),
      accept_retry_(io_),
      refusals_(std::make_unique<RateLimitedLog>()) {}

absl::StatusOr<std::unique_ptr<TlsListener>> TlsListener::Bind(
    const std::string& host, uint16_t port, std::shared_ptr<TlsContext> context,
    Deadline handshake_deadline, ListenerLimits limits, Handler handler) {
  if (limits.max_connections == 0 || limits.max_connections_per_address == 0)
    return absl::InvalidArgumentError("connection limits must be at least 1");
  // Keep the connection cap inside the descriptor limit, with room for the database, logs, the
  // other listener and outgoing work: accepting until EMFILE is what the cap exists to avoid.
  constexpr rlim_t kReservedDescriptors = 128;
  rlimit descriptors{};
  if (getrlimit(RLIMIT_NOFILE, &descriptors) == 0 && descriptors.rlim_cur != RLIM_INFINITY) {
    const rlim_t room = descriptors.rlim_cur > 2 * kReservedDescriptors
                            ? (descriptors.rlim_cur - kReservedDescriptors) / 2
                            : 1;
    if (limits.max_connections > room) {
      spdlog::warn("listener on {}:{}: at most {} connections fit the descriptor limit of {}", host,
                   port, room, descriptors.rlim_cur);
      limits.max_connections = static_cast<size_t>(room);
    }
  }
  std::unique_ptr<TlsListener> listener(
      new TlsListener(std::move(context), handshake_deadline, limits, std::move(handler)));
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError("bad listen address " + host + ": " + ec.message());
  const tcp::endpoint endpoint(address, port);
  listener->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) listener->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener->acceptor_.bind(endpoint, ec);
  if (!ec) listener->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return absl::UnavailableError("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                  ec.message());
  listener->port_ = listener->acceptor_.local_endpoint().port();
  return listener;
}

TlsListener::~TlsListener() { Stop(); }

void TlsListener::Start() {
  work_.emplace(io_.get_executor());
  asio::post(io_, [this] { AcceptNext(); });
  io_thread_ = std::thread([this] { io_.run(); });
}

size_t TlsListener::open_connections() {
  std::lock_guard lock(mutex_);
  return open_.size();
}

void TlsListener::AcceptNext() {
  // Each connection's socket runs on a strand of its own: its handlers never run concurrently.
  TlsConnection::Strand strand = asio::make_strand(io_);
  acceptor_.async_accept(strand,
                         [this, strand](const boost::system::error_code& ec, tcp::socket socket) {
                           if (stopping_ || ec == asio::error::operation_aborted) return;
                           ReapFinishedSessions();
                           if (ec) {
                             OnAcceptError(ec);
                             return;
                           }
                           if (accept_pause_.count() > 0) {
                             spdlog::info("listener on port {}: accepting again", port_);
                             accept_pause_ = Deadline(0);
                           }
                           Admit(strand, std::move(socket));
                           AcceptNext();
                         });
}

void TlsListener::OnAcceptError(const boost::system::error_code& error) {
  // Out of descriptors (EMFILE, ENFILE) or memory: accepting again at once would fail again
  // and spin. Pause, doubling up to 2 s, and log only when the pause starts.
  ++accept_errors_;
  if (accept_pause_.count() == 0) {
    spdlog::error("listener on port {}: cannot accept ({}); pausing accepts until it clears", port_,
                  error.message());
    accept_pause_ = Deadline(50);
  } else {
    accept_pause_ = std::min<Deadline>(accept_pause_ * 2, std::chrono::seconds(2));
  }
  accept_retry_.expires_after(accept_pause_);
  accept_retry_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopping_) AcceptNext();
  });
}

void TlsListener::Admit(TlsConnection::Strand strand, tcp::socket socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  const std::string address = remote.address().to_string();
  std::string refusal;
  std::shared_ptr<TlsConnection> connection;
  {
    std::lock_guard lock(mutex_);
    const auto it = open_per_address_.find(address);
    const size_t from_address = it == open_per_address_.end() ? 0 : it->second;
    if (open_.size() >= limits_.max_connections) {
      refusal = "the listener's limit of " + std::to_string(limits_.max_connections) +
                " open connections is reached";
    } else if (from_address >= limits_.max_connections_per_address) {
      refusal = "the limit of " + std::to_string(limits_.max_connections_per_address) +
                " open connections per address is reached";
    } else {
      connection.reset(new TlsConnection(nullptr, strand, std::move(socket), context_));
      connection->remote_address_ = address + ":" + std::to_string(remote.port());
      open_.emplace(connection, address);
      ++open_per_address_[address];
    }
  }
  if (!connection) {
    // The socket closes as it goes out of scope, before any TLS byte.
    refusals_->Warn("refused connection from " + address + ": " + refusal);
    return;
  }
  StartHandshake(std::move(connection), address);
}

void TlsListener::StartHandshake(std::shared_ptr<TlsConnection> connection,
                                 const std::string& address) {
  auto timer = std::make_shared<asio::steady_timer>(connection->strand_);
  asio::dispatch(connection->strand_, [this, connection, timer, address] {
    // A peer that sends nothing (or too little) is closed at the deadline; the handshake then
    // completes with an error and releases its slot.
    timer->expires_after(handshake_deadline_);
    auto timed_out = std::make_shared<bool>(false);  // only touched on the strand
    timer->async_wait([connection, timed_out](const boost::system::error_code& ec) {
      if (ec) return;
      *timed_out = true;
      connection->CloseOnStrand();
    });
    connection->stream_.async_handshake(
        ssl::stream_base::server,
        [this, connection, timer, timed_out, address](const boost::system::error_code& ec) {
          timer->cancel();
          absl::Status handshake =
              *timed_out ? absl::DeadlineExceededError("no TLS handshake within the deadline")
              : ec       ? absl::UnavailableError("TLS handshake: " +
                                                  connection->DescribeHandshakeFailure(ec))
                         : connection->ReadPeerIdentity();
          if (!handshake.ok() || stopping_) {
            if (!handshake.ok()) {
              refusals_->Warn("refused connection from " + connection->remote_address_ + ": " +
                              std::string(handshake.message()));
            }
            connection->CloseOnStrand();
            Release(connection, address);
            return;
          }
          StartSession(connection, address);
        });
  });
}

void TlsListener::StartSession(std::shared_ptr<TlsConnection> connection,
                               const std::string& address) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  try {
    std::lock_guard lock(mutex_);
    sessions_.push_back({std::thread([this, connection, address, done] {
                           RunSession(*connection);
                           Release(connection, address);
                           *done = true;
                         }),
                         done});
  } catch (const std::exception& e) {
    // No thread to be had (resource limit): refuse this peer, keep serving the others.
    spdlog::error("cannot start a session for {}: {}; closing it", connection->remote_address_,
                  e.what());
    connection->CloseOnStrand();
    Release(connection, address);
  }
}

void TlsListener::RunSession(TlsConnection& connection) {
  // The last-resort guard: whatever the handler throws ends this connection only.
  try {
    handler_(connection);
  } catch (const std::exception& e) {
    spdlog::error("session with {} ended by an unexpected error: {}; closed it",
                  connection.remote_address_, e.what());
  } catch (...) {
    spdlog::error("session with {} ended by an unexpected non-standard exception; closed it",
                  connection.remote_address_);
  }
  connection.Close();
}

void TlsListener::Release(const std::shared_ptr<TlsConnection>& connection,
                          const std::string& address) {
  std::lock_guard lock(mutex_);
  if (open_.erase(connection) == 0) return;
  const auto it = open_per_address_.find(address);
  if (it != open_per_address_.end() && --it->second == 0) open_per_address_.erase(it);
}

void TlsListener::ReapFinishedSessions() {
  std::list<Session> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (*it->done) {
        finished.splice(finished.end(), sessions_, it++);
      } else {
        ++it;
      }
    }
  }
  for (Session& s : finished) s.thread.join();
}

void TlsListener::Stop() {
  if (stopping_.exchange(true)) return;
  if (!io_thread_.joinable()) return;  // never started
  RunAndWait(io_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
  // Close every connection (a session blocked in a read returns at once; a handshake aborts)
  // and join the session threads, until none is left. The io thread keeps running meanwhile:
  // it delivers the aborts. A handshake that completed just before stopping_ was set may still
  // start a session, hence the loop.
  for (;;) {
    std::vector<std::shared_ptr<TlsConnection>> open;
    std::list<Session> sessions;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [connection, address] : open_) open.push_back(connection);
      sessions.swap(sessions_);
    }
    if (open.empty() && sessions.empty()) break;
    for (const auto& connection : open) connection->Close();
    open.clear();
    for (Session& s : sessions) s.thread.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_thread_.join();
}

absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return absl::InvalidArgumentError("expected host:port, got " + address);
  unsigned port = 0;
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  const auto [ptr, error] = std::from_chars(begin, end, port);
  if (error != std::errc() || ptr != end || port > 65535) {
    return absl::InvalidArgumentError("bad port in " + address);
  }
  return std::make_pair(address.substr(0, colon), static_cast<uint16_t>(port));
}

absl::StatusOr<std::unique_ptr<PeerConnection>> DialTls(const std::string& host, uint16_t port,
                                                        std::shared_ptr<TlsContext> context,
                                                        Deadline deadline,
                                                        const std::string& source_address) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<TlsConnection> connection,
      TlsConnection::Connect(host, port, std::move(context), deadline, source_address));
  return connection;
}

absl::StatusOr<std::unique_ptr<FrameListener>> ListenTls(const std::string& host, uint16_t port,
                                                         std::shared_ptr<TlsContext> context,
                                                         Deadline handshake_deadline,
                                                         ListenerLimits limits,
                                                         SessionHandler handler) {
  ASSIGN_OR_RETURN(std::unique_ptr<TlsListener> listener,
                   TlsListener::Bind(host, port, std::move(context), handshake_deadline, limits,
                                     std::move(handler)));
  return listener;
}

}  // namespace fedsyn::net
