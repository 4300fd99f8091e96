// Prints the OMP_WAIT_POLICY this process runs with after EnsurePassiveComputeThreads, and its
// process id before and after (the same: execv keeps it). Driven by the ctest
// base.compute_threads_wait_passively (tests/CMakeLists.txt).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/base/compute_environment.h"

int main(int, char** argv) {
  fedsyn::base::EnsurePassiveComputeThreads(argv);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("%s\n", policy == nullptr ? "(unset)" : policy);
  return 0;
}
