// What the agent and the dashboard read from the coordinator: site and admin responses. The
// first byte picks the decoder, the rest is the message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    (void)fedsyn::protocol::DecodeAdminResponse(bytes);
  } else {
    (void)fedsyn::protocol::DecodeSiteResponse(bytes);
  }
  return 0;
}
