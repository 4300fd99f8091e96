// Encoding of protocol messages to bytes (Cap'n Proto flat arrays) and back. Decoding treats
// its input as hostile: size checked before anything is allocated, traversal and nesting
// limits set to the real maximum message, every library exception turned into
// InvalidArgument, unknown message types refused.
#ifndef FEDSYN_PROTOCOL_CODEC_H_
#define FEDSYN_PROTOCOL_CODEC_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "protocol/messages.h"

namespace fedsyn::protocol {

// Largest encoded message. One upload chunk carries at most kMaxChunkBytes of CSV rows, and
// everything else is small; the limit bounds the memory one peer can make us allocate.
inline constexpr size_t kMaxMessageBytes = 8u << 20;
inline constexpr size_t kMaxChunkBytes = 4u << 20;

std::string EncodeSiteRequest(const SiteRequest& request);
absl::StatusOr<SiteRequest> DecodeSiteRequest(std::string_view bytes);
std::string EncodeSiteResponse(const SiteResponse& response);
absl::StatusOr<SiteResponse> DecodeSiteResponse(std::string_view bytes);
std::string EncodeAdminRequest(const AdminRequest& request);
absl::StatusOr<AdminRequest> DecodeAdminRequest(std::string_view bytes);
std::string EncodeAdminResponse(const AdminResponse& response);
absl::StatusOr<AdminResponse> DecodeAdminResponse(std::string_view bytes);

}  // namespace fedsyn::protocol

#endif  // FEDSYN_PROTOCOL_CODEC_H_
