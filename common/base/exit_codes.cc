#include "common/base/exit_codes.h"

#include <cstdio>
#include <string>

namespace fedsyn::base {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidInput;
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kDataLoss:
      return kExitFileError;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
      return kExitRefused;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    default:
      return kExitInternal;
  }
}

int ReportFailure(std::string_view program, const absl::Status& status) {
  std::fprintf(stderr, "%.*s: error: %s\n", static_cast<int>(program.size()), program.data(),
               std::string(status.message()).c_str());
  return ExitCodeFor(status);
}

int ReportConfigCheck(std::string_view program, const std::string& path,
                      const std::vector<std::string>& problems) {
  const int width = static_cast<int>(program.size());
  if (problems.empty()) {
    std::printf("%.*s: %s: ok\n", width, program.data(), path.c_str());
    return kExitOk;
  }
  for (const std::string& problem : problems)
    std::fprintf(stderr, "%.*s: %s: %s\n", width, program.data(), path.c_str(), problem.c_str());
  return kExitInvalidInput;
}

}  // namespace fedsyn::base
