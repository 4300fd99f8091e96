// Prints the OMP_WAIT_POLICY this process runs with after EnsurePassiveComputeThreads, and its
// process name (/proc/self/comm) after it. Driven by the ctest
// base.compute_threads_wait_passively (tests/CMakeLists.txt).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/base/compute_environment.h"

int main(int, char** argv) {
  fedsyn::base::EnsurePassiveComputeThreads(argv);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("%s\n", policy == nullptr ? "(unset)" : policy);
  // The process keeps its name across the re-execution (what ps and the journal show).
  char name[64] = {};
  FILE* comm = std::fopen("/proc/self/comm", "r");
  if (comm != nullptr && std::fgets(name, sizeof(name), comm) != nullptr) std::printf("%s", name);
  if (comm != nullptr) std::fclose(comm);
  return 0;
}
