// SHA-256 digests (OpenSSL EVP) of manifests, model files and commitments.
#ifndef FEDSYN_COMMON_PRIVACY_DIGEST_H_
#define FEDSYN_COMMON_PRIVACY_DIGEST_H_

#include <string>
#include <string_view>

#include "common/base/status.h"

namespace fedsyn::privacy {

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Lower-case hex SHA-256 of a file's content, streamed. NotFound if it cannot be opened.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_DIGEST_H_
