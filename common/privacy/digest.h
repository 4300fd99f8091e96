// SHA-256 digests (OpenSSL EVP) for manifests, and hash commitments for canary audits.
#ifndef FEDSYN_COMMON_PRIVACY_DIGEST_H_
#define FEDSYN_COMMON_PRIVACY_DIGEST_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

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
// A site's canary choices (docs/audits.md): `count` independent fair bits '0' / '1', one per
// canary pair. Here rather than with the coordinator's audit code, because the site draws them.
std::string DrawInclusionBits(int count, const std::function<uint64_t()>& random_u64);

// Canaries come in pairs (2j, 2j + 1), and pair j's bit picks the one that is included: '0' the
// first, '1' the second. Exactly one canary per pair goes in whatever the bits, so the release's
// row count says nothing about them: the audit matches the replace-one guarantee (n public).
int64_t IncludedCanaryIndex(int64_t pair, char bit);
// For each of the 2 * bits.size() canaries, whether it is included.
std::vector<bool> IncludedCanaryFlags(std::string_view bits);

// False when `bits` are implausible as fair coin flips: the two-sided binomial test of their
// number of ones has a p-value below `tail` (default 1e-6). An honest site fails it with
// probability below `tail`; all ones (or all zeros) fail it from 21 bits on.
bool PlausibleFairBits(std::string_view bits, double tail = 1e-6);

// Where a release of `total` rows carries its `count` included canaries (docs/audits.md): a
// uniformly random `count`-subset of [0, total), ascending, derived from the audit's secret
// salt. The salt is committed before the release and revealed after it, so the positions stay
// secret until the reveal, cannot be chosen after the commitment, and the coordinator
// recomputes them instead of trusting them. (SHA-256 in counter mode as the generator; Floyd's
// subset sampling; rejection for exact uniformity.)
// Empty unless 0 <= count <= total.
std::vector<int64_t> CanaryPositions(std::string_view salt_hex, int64_t total, int64_t count);
// Their wire form: "3,17,40".
std::string JoinPositions(const std::vector<int64_t>& positions);

// `words` x 64 random bits as lower-case hex (release ids, commitment salts).
std::string RandomHex(const std::function<uint64_t()>& random_u64, int words);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_DIGEST_H_
