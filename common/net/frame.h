// The wire's framing: a 4-byte big-endian length, then that many payload bytes. Header-only
// and free of Asio so that the fuzz target for it (tests/fuzz) links nothing else.
#ifndef FEDSYN_COMMON_NET_FRAME_H_
#define FEDSYN_COMMON_NET_FRAME_H_

#include <array>
#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace fedsyn::net {

inline constexpr size_t kFrameHeaderBytes = 4;
using FrameHeader = std::array<unsigned char, kFrameHeaderBytes>;

inline FrameHeader EncodeFrameHeader(uint32_t size) {
  return {static_cast<unsigned char>(size >> 24), static_cast<unsigned char>(size >> 16),
          static_cast<unsigned char>(size >> 8), static_cast<unsigned char>(size)};
}

// The payload length a header announces; InvalidArgument above `max_bytes`, which the reader
// checks before it reads or allocates anything for the payload.
inline absl::StatusOr<uint32_t> DecodeFrameHeader(const FrameHeader& header, size_t max_bytes) {
  const uint32_t size = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                        (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (size > max_bytes) {
    return absl::InvalidArgumentError("frame of " + std::to_string(size) +
                                      " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  return size;
}

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_FRAME_H_
