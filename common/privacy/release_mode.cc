#include "common/privacy/release_mode.h"

#include "common/base/names.h"

namespace fedsyn::privacy {

const char* ReleaseModeName(ReleaseMode mode) {
  switch (mode) {
    case ReleaseMode::kSynthetic:
      return "synthetic";
    case ReleaseMode::kCodes:
      return "codes";
    case ReleaseMode::kModelOnly:
      return "model-only";
  }
  return "invalid";
}

std::optional<ReleaseMode> ParseReleaseMode(std::string_view name) {
  return base::ParseName(name,
                         {ReleaseMode::kSynthetic, ReleaseMode::kCodes, ReleaseMode::kModelOnly},
                         &ReleaseModeName);
}

}  // namespace fedsyn::privacy
