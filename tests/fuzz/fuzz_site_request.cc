// The coordinator's decoder of every site request (hello, reserve, chunks, decoders, canary
// messages, ...). Decoded requests are encoded again: the codec must round-trip what it accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto request = fedsyn::protocol::DecodeSiteRequest(bytes);
  if (!request.ok()) return 0;
  const auto again =
      fedsyn::protocol::DecodeSiteRequest(fedsyn::protocol::EncodeSiteRequest(*request));
  if (!again.ok() || again->index() != request->index()) std::abort();
  return 0;
}
