// A TLS client the test drives byte by byte, to send what TlsConnection never would (a frame
// header without its body). Synchronous Asio; throws on failure (the test fails).
#ifndef FEDSYN_TESTS_SUPPORT_RAW_TLS_H_
#define FEDSYN_TESTS_SUPPORT_RAW_TLS_H_

#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string>

#include "common/net/frame.h"
#include "common/net/tls_impl.h"

namespace fedsyn::testing {

// A plain TCP connection to 127.0.0.1:port from `source` (another loopback address stands for
// another host), sending nothing; nullptr when it cannot be made.
inline std::unique_ptr<boost::asio::ip::tcp::socket> PlainConnectionFrom(
    boost::asio::io_context& io, const std::string& source, uint16_t port) {
  auto socket = std::make_unique<boost::asio::ip::tcp::socket>(io);
  boost::system::error_code ec;
  socket->open(boost::asio::ip::tcp::v4(), ec);
  if (!ec) socket->bind({boost::asio::ip::make_address(source), 0}, ec);
  if (!ec) socket->connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return ec ? nullptr : std::move(socket);
}

class RawTlsClient {
 public:
  // Connects to 127.0.0.1:port with the client certificate in `files` and completes the
  // handshake; from `source` (another loopback address stands for another host) if given.
  RawTlsClient(const net::TlsFiles& files, uint16_t port, const std::string& source = "")
      : context_(*net::MakeTlsContext(files, net::Role::kClient)), stream_(io_, context_->ssl()) {
    auto& socket = stream_.lowest_layer();
    if (!source.empty()) {
      socket.open(boost::asio::ip::tcp::v4());
      socket.bind({boost::asio::ip::make_address(source), 0});
    }
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    stream_.handshake(boost::asio::ssl::stream_base::client);
  }
  // The socket's descriptor, to poll for the server closing it.
  int native_handle() { return stream_.lowest_layer().native_handle(); }
  // Shuts the socket down; safe from another thread, and unblocks a write blocked in it.
  void Close() { ::shutdown(native_handle(), SHUT_RDWR); }

  void Write(const std::string& bytes) { boost::asio::write(stream_, boost::asio::buffer(bytes)); }
  std::string Read(size_t n) {
    std::string bytes(n, '\0');
    boost::asio::read(stream_, boost::asio::buffer(bytes));
    return bytes;
  }
  // A whole frame, and the reply frame's payload.
  std::string RoundTrip(const std::string& payload) {
    Write(Framed(payload));
    return ReadFramePayload();
  }
  // The same frame written one byte per TLS record.
  std::string FragmentedRoundTrip(const std::string& payload) {
    for (const char byte : Framed(payload)) Write(std::string(1, byte));
    return ReadFramePayload();
  }
  std::string ReadFramePayload() {
    const std::string header = Read(net::kFrameHeaderBytes);
    net::FrameHeader h;
    std::memcpy(h.data(), header.data(), h.size());  // Read returned exactly h.size() bytes
    return Read(*net::DecodeFrameHeader(h, size_t{1} << 30));
  }
  // Announces a frame of `announced` bytes and sends only `sent` of them.
  void StartFrame(uint32_t announced, size_t sent) {
    const net::FrameHeader h = net::EncodeFrameHeader(announced);
    Write(std::string(h.begin(), h.end()) + std::string(sent, 'x'));
  }
  static std::string Framed(const std::string& payload) {
    const net::FrameHeader h = net::EncodeFrameHeader(static_cast<uint32_t>(payload.size()));
    return std::string(h.begin(), h.end()) + payload;
  }

 private:
  std::shared_ptr<net::TlsContext> context_;
  boost::asio::io_context io_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
};

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_RAW_TLS_H_
