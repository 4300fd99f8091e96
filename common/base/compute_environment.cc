#include "common/base/compute_environment.h"

#include <malloc.h>
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
  // re-executed process returns above. By its real path: executing /proc/self/exe itself
  // would name the process "exe" in ps, top and the journal.
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length > 0) {
    path[length] = '\0';
    execv(path, argv);
  }
  execv("/proc/self/exe", argv);
  std::fprintf(stderr,
               "warning: cannot re-execute with OMP_WAIT_POLICY=PASSIVE (%s); compute "
               "threads keep the OpenMP runtime's default and may spin\n",
               std::strerror(errno));
}

bool KeepTensorBuffersInTheHeap() {
  // Setting either threshold also stops glibc from moving the mmap threshold by itself.
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(kLargestHeapBlock)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(kHeapKeptOnFree)) == 1;
}

void PrepareComputeProcess(char** argv) {
  EnsurePassiveComputeThreads(argv);
  if (!KeepTensorBuffersInTheHeap())
    std::fprintf(stderr,
                 "warning: the C library refused the allocator settings; large buffers "
                 "are mapped and unmapped on every use\n");
}

}  // namespace fedsyn::base
