#include "common/base/compute_environment.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fedsyn::base {

void EnsurePassiveComputeThreads(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0) != 0) return;
  // The same binary, the same arguments; the environment now carries the policy, so the
  // re-executed process returns above.
  execv("/proc/self/exe", argv);
  std::fprintf(stderr,
               "warning: cannot re-execute with OMP_WAIT_POLICY=PASSIVE (%s); compute "
               "threads keep the OpenMP runtime's default and may spin\n",
               std::strerror(errno));
}

}  // namespace fedsyn::base
