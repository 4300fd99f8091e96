// The coordinator's decoder of admin (dashboard) requests.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto request = fedsyn::protocol::DecodeAdminRequest(bytes);
  if (!request.ok()) return 0;
  const auto again =
      fedsyn::protocol::DecodeAdminRequest(fedsyn::protocol::EncodeAdminRequest(*request));
  if (!again.ok()) std::abort();
  return 0;
}
