// Process-wide logging set-up. Logs go to stderr so that stdout stays machine-readable.
// Never log raw records, latent codes or noise values (DESIGN.md §2): log counts,
// parameters and file names only.
//
// Log lines often carry text a peer or a file chose (an agent version, a release id, a parser's
// message quoting its input). The logger set up here escapes every message before it is
// written — control characters, newlines, backslashes and non-ASCII bytes become \n, \xHH, … —
// and caps it at kMaxLogMessageBytes, so no peer can forge a line, inject terminal escapes or
// flood the log through one message.
#ifndef FEDSYN_COMMON_BASE_LOGGING_H_
#define FEDSYN_COMMON_BASE_LOGGING_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace spdlog {
class logger;
}

namespace fedsyn::base {

inline constexpr size_t kMaxLogMessageBytes = 1024;

// Configures the default spdlog logger to write to stderr at `level`
// ("trace", "debug", "info", "warn", "error", "off"). Returns InvalidArgument for an
// unknown level name. A later call replaces the logger the earlier one set up.
absl::Status SetUpLogging(std::string_view level);

// Installs the escaping formatter (with the process's pattern) on `logger`; SetUpLogging does
// this for the default logger, tests for loggers of their own.
void UseEscapingFormatter(spdlog::logger& logger);

// `text` as it may appear in a log line: printable ASCII kept, everything else escaped, at most
// `max_bytes` of input shown and the rest counted ("...(+N bytes)"). The logger applies it to
// every message.
std::string EscapeForLog(std::string_view text, size_t max_bytes = kMaxLogMessageBytes);

// The first `max_bytes` of `text` and a count of the rest: for peer-chosen fields inside a
// message (the logger escapes the whole message).
std::string Truncated(std::string_view text, size_t max_bytes);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_LOGGING_H_
