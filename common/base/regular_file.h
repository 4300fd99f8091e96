// Input files must be regular files. Opening a FIFO blocks until some writer appears (forever,
// if none does), and a device such as /dev/zero never ends: both would hang or exhaust the
// process instead of failing with a message (issue #12, F12). stat() does not block.
#ifndef FEDSYN_COMMON_BASE_REGULAR_FILE_H_
#define FEDSYN_COMMON_BASE_REGULAR_FILE_H_

#include <string>

#include "common/base/status.h"

namespace fedsyn::base {

// OK for a regular file (after following symlinks); NotFound when `path` does not exist;
// InvalidArgument naming `path` and what it is otherwise (FIFO, directory, device, socket).
absl::Status RequireRegularFile(const std::string& path);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_REGULAR_FILE_H_
