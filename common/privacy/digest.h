// SHA-256 digests (OpenSSL EVP) for manifests, and hash commitments for canary audits.
#ifndef FEDSYN_COMMON_PRIVACY_DIGEST_H_
#define FEDSYN_COMMON_PRIVACY_DIGEST_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace fedsyn::privacy {

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Lower-case hex SHA-256 of a file's content, streamed. NotFound if it cannot be opened.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path);

// A hash commitment to `message`: SHA-256 of the salt, a separator and the message. With a
// 256-bit secret salt it hides the message until both are revealed and binds the committer to
// it (finding another (salt, message) with the same hash would break SHA-256).
std::string Commitment(std::string_view message, std::string_view salt_hex);
// A site's canary choices (docs/audits.md): one '0' / '1' per canary, each '1' with probability
// 1/2. Here rather than with the coordinator's audit code, because the site draws them.
std::string DrawInclusionBits(int count, const std::function<uint64_t()>& random_u64);

// `words` x 64 random bits as lower-case hex (release ids, commitment salts).
std::string RandomHex(const std::function<uint64_t()>& random_u64, int words);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_DIGEST_H_
