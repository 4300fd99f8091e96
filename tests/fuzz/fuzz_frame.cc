// A byte stream as a site's session reads it: frames (header, then payload within the limit),
// each decoded as a site request. Truncated frames end the stream, as a closed socket would.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/net/frame.h"
#include "protocol/codec.h"
#include "protocol/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  while (stream.size() >= fedsyn::net::kFrameHeaderBytes) {
    fedsyn::net::FrameHeader header;
    std::memcpy(header.data(), stream.data(), header.size());
    stream.remove_prefix(header.size());
    const auto length = fedsyn::net::DecodeFrameHeader(header, fedsyn::protocol::kMaxMessageBytes);
    if (!length.ok() || *length > stream.size()) break;
    (void)fedsyn::protocol::DecodeSiteRequest(stream.substr(0, *length));
    stream.remove_prefix(*length);
  }
  return 0;
}
