// Process-wide logging set-up. Logs go to stderr so that stdout stays machine-readable.
// Never log raw records, latent codes or noise values (DESIGN.md §2): log counts,
// parameters and file names only.
#ifndef FEDSYN_COMMON_BASE_LOGGING_H_
#define FEDSYN_COMMON_BASE_LOGGING_H_

#include <string_view>

#include "common/base/status.h"

namespace fedsyn::base {

// Configures the default spdlog logger to write to stderr at `level`
// ("trace", "debug", "info", "warn", "error", "off"). Returns InvalidArgument for an
// unknown level name. Call once from main().
absl::Status SetUpLogging(std::string_view level);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_LOGGING_H_
