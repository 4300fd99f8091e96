// What a release hands over, which decides what its guarantee covers (docs/privacy.md §2, §11):
// synthetic records decoded from noised codes, the noised codes themselves (decoded by the
// recipient with the published decoder), or records sampled from a private model alone (no
// per-record part: the release adds nothing to the model's epsilon). One name per mode, used by
// the CLI, manifests, both ledgers and the wire.
#ifndef FEDSYN_COMMON_PRIVACY_RELEASE_MODE_H_
#define FEDSYN_COMMON_PRIVACY_RELEASE_MODE_H_

#include <optional>
#include <string_view>

namespace fedsyn::privacy {

enum class ReleaseMode { kSynthetic, kCodes, kModelOnly };

// "synthetic" | "codes" | "model-only".
const char* ReleaseModeName(ReleaseMode mode);
// The inverse of ReleaseModeName; nullopt for any other text.
std::optional<ReleaseMode> ParseReleaseMode(std::string_view name);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_RELEASE_MODE_H_
