// Process exit codes shared by fedsyn's command-line tools. Stable: scripts rely on them.
#ifndef FEDSYN_COMMON_BASE_EXIT_CODES_H_
#define FEDSYN_COMMON_BASE_EXIT_CODES_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::base {

enum ExitCode {
  kExitOk = 0,
  kExitInternal = 1,      // a bug or an unexpected failure
  kExitUsage = 2,         // bad command line
  kExitInvalidInput = 3,  // bad data, schema, configuration or parameter
  kExitFileError = 4,     // file missing, unreadable or damaged
  kExitRefused = 5,       // refused for privacy reasons (budget, non-private model, schema)
  kExitUnreachable = 6,   // the coordinator could not be reached
};

// The exit code for a failed status.
int ExitCodeFor(const absl::Status& status);

// Prints "PROGRAM: error: MESSAGE" to stderr and returns ExitCodeFor(status).
int ReportFailure(std::string_view program, const absl::Status& status);

// The outcome of `--check-config` for the configuration at `path`: "PROGRAM: PATH: ok" on
// stdout and kExitOk when `problems` is empty, else "PROGRAM: PATH: PROBLEM" on stderr for each
// and kExitInvalidInput.
int ReportConfigCheck(std::string_view program, const std::string& path,
                      const std::vector<std::string>& problems);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_EXIT_CODES_H_
