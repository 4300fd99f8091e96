#include "common/base/regular_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace fedsyn::base {

absl::Status RequireRegularFile(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) return absl::NotFoundError("cannot open " + path);
    return absl::InvalidArgumentError("cannot open " + path + ": " + std::strerror(error));
  }
  if (S_ISREG(info.st_mode)) return absl::OkStatus();
  const char* kind = S_ISFIFO(info.st_mode)   ? "a FIFO"
                     : S_ISDIR(info.st_mode)  ? "a directory"
                     : S_ISCHR(info.st_mode)  ? "a character device"
                     : S_ISBLK(info.st_mode)  ? "a block device"
                     : S_ISSOCK(info.st_mode) ? "a socket"
                                              : "not a regular file";
  return absl::InvalidArgumentError(path + " is " + kind + "; fedsyn reads regular files only");
}

}  // namespace fedsyn::base
