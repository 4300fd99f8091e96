#include "common/net/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <charconv>

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

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsFiles& files, Role role) {
  auto context = std::make_shared<ssl::context>(role == Role::kServer ? ssl::context::tls_server
                                                                      : ssl::context::tls_client);
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
  return context;
}

TlsConnection::TlsConnection(std::shared_ptr<ssl::context> context)
    : context_(std::move(context)), stream_(io_, *context_) {}

TlsConnection::~TlsConnection() { Close(); }

void TlsConnection::Close() {
  std::lock_guard lock(close_mutex_);
  boost::system::error_code ignored;
  stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.lowest_layer().close(ignored);
}

template <typename StartOperation>
absl::Status TlsConnection::RunWithDeadline(StartOperation start, Deadline deadline,
                                            const char* what) {
  boost::system::error_code result = asio::error::would_block;
  start([&result](const boost::system::error_code& ec, auto&&...) { result = ec; });
  io_.restart();
  io_.run_for(deadline);
  if (result == asio::error::would_block) {
    Close();  // aborts the pending operation
    io_.restart();
    io_.run();
    return absl::DeadlineExceededError(std::string(what) + ": no progress within the deadline");
  }
  if (result) return absl::UnavailableError(std::string(what) + ": " + result.message());
  return absl::OkStatus();
}

absl::Status TlsConnection::Handshake(ssl::stream_base::handshake_type type, Deadline deadline) {
  RETURN_IF_ERROR(
      RunWithDeadline([this, type](auto handler) { stream_.async_handshake(type, handler); },
                      deadline, "TLS handshake"));
  X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
  if (cert == nullptr) return absl::UnauthenticatedError("peer presented no certificate");
  peer_.common_name = SubjectField(cert, NID_commonName);
  peer_.organizational_unit = SubjectField(cert, NID_organizationalUnitName);
  X509_free(cert);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsConnection>> TlsConnection::Connect(
    const std::string& host, uint16_t port, std::shared_ptr<ssl::context> context,
    Deadline deadline) {
  std::unique_ptr<TlsConnection> connection(new TlsConnection(std::move(context)));
  tcp::resolver resolver(connection->io_);
  boost::system::error_code ec;
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return absl::UnavailableError("cannot resolve " + host + ": " + ec.message());
  RETURN_IF_ERROR(connection->RunWithDeadline(
      [&](auto handler) {
        asio::async_connect(connection->stream_.lowest_layer(), endpoints, handler);
      },
      deadline, "connect"));
  // Verify the coordinator's name (SAN) as well as its CA, and send SNI.
  SSL_set_tlsext_host_name(connection->stream_.native_handle(), host.c_str());
  connection->stream_.set_verify_mode(ssl::verify_peer);
  connection->stream_.set_verify_callback(ssl::host_name_verification(host));
  RETURN_IF_ERROR(connection->Handshake(ssl::stream_base::client, deadline));
  connection->remote_address_ = host + ":" + std::to_string(port);
  return connection;
}

absl::StatusOr<std::string> TlsConnection::ReadFrame(size_t max_bytes, Deadline deadline) {
  unsigned char header[4];
  RETURN_IF_ERROR(RunWithDeadline(
      [&](auto handler) { asio::async_read(stream_, asio::buffer(header), handler); }, deadline,
      "read"));
  const uint32_t size = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                        (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (size > max_bytes) {
    return absl::InvalidArgumentError("frame of " + std::to_string(size) +
                                      " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  std::string payload(size, '\0');
  if (size > 0) {
    RETURN_IF_ERROR(RunWithDeadline(
        [&](auto handler) {
          asio::async_read(stream_, asio::buffer(payload.data(), size), handler);
        },
        deadline, "read"));
  }
  return payload;
}

absl::Status TlsConnection::WriteFrame(std::string_view payload, Deadline deadline) {
  const uint32_t size = static_cast<uint32_t>(payload.size());
  const unsigned char header[4] = {
      static_cast<unsigned char>(size >> 24), static_cast<unsigned char>(size >> 16),
      static_cast<unsigned char>(size >> 8), static_cast<unsigned char>(size)};
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(header),
                                                     asio::buffer(payload.data(), size)};
  return RunWithDeadline([&](auto handler) { asio::async_write(stream_, buffers, handler); },
                         deadline, "write");
}

TlsListener::TlsListener(std::shared_ptr<ssl::context> context, Deadline handshake_deadline,
                         Handler handler)
    : context_(std::move(context)),
      handshake_deadline_(handshake_deadline),
      handler_(std::move(handler)),
      acceptor_(accept_io_) {}

absl::StatusOr<std::unique_ptr<TlsListener>> TlsListener::Bind(
    const std::string& host, uint16_t port, std::shared_ptr<ssl::context> context,
    Deadline handshake_deadline, Handler handler) {
  std::unique_ptr<TlsListener> listener(
      new TlsListener(std::move(context), handshake_deadline, std::move(handler)));
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
  accept_thread_ = std::thread([this] {
    AcceptLoop();
    accept_io_.run();
  });
}

void TlsListener::AcceptLoop() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopping_) return;
    ReapFinishedWorkers();
    if (!ec) {
      std::lock_guard lock(mutex_);
      auto done = std::make_shared<std::atomic<bool>>(false);
      workers_.push_back({std::thread([this, done, s = std::move(socket)]() mutable {
                            Serve(std::move(s));
                            *done = true;
                          }),
                          done});
    }
    AcceptLoop();
  });
}

void TlsListener::Serve(tcp::socket socket) {
  TlsConnection connection(context_);
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  connection.remote_address_ =
      ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
  // Move the accepted descriptor onto the connection's own io_context.
  const auto protocol = remote.protocol();
  connection.stream_.lowest_layer().assign(protocol, socket.release(ec), ec);
  if (ec) return;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    connections_.push_back(&connection);
  }
  const absl::Status handshake =
      connection.Handshake(ssl::stream_base::server, handshake_deadline_);
  if (!handshake.ok()) {
    spdlog::warn("refused connection from {}: {}", connection.remote_address_,
                 std::string(handshake.message()));
  } else {
    handler_(connection);
  }
  connection.Close();
  std::lock_guard lock(mutex_);
  connections_.remove(&connection);
}

void TlsListener::ReapFinishedWorkers() {
  std::list<Worker> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (*it->done) {
        finished.splice(finished.end(), workers_, it++);
      } else {
        ++it;
      }
    }
  }
  for (Worker& w : finished) w.thread.join();
}

void TlsListener::Stop() {
  if (stopping_.exchange(true)) return;
  asio::post(accept_io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<Worker> workers;
  {
    std::lock_guard lock(mutex_);
    for (TlsConnection* c : connections_) c->Close();
    workers.swap(workers_);
  }
  for (Worker& w : workers) w.thread.join();
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

}  // namespace fedsyn::net
