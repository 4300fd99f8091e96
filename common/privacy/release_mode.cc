#include "common/privacy/release_mode.h"

namespace fedsyn::privacy {

namespace {
constexpr ReleaseMode kEveryMode[] = {ReleaseMode::kSynthetic, ReleaseMode::kCodes,
                                      ReleaseMode::kModelOnly};
}  // namespace

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
  for (const ReleaseMode mode : kEveryMode) {
    if (name == ReleaseModeName(mode)) return mode;
  }
  return std::nullopt;
}

}  // namespace fedsyn::privacy
