// How the process's compute threads wait, set before the OpenMP runtime starts.
//
// LibTorch and OpenBLAS run their parallel regions on libgomp, whose idle threads spin on a
// core by default before they sleep. On a quiet machine that shaves microseconds off each
// parallel region; on a shared hospital server (other CPU-bound work on the same cores) the
// spinning threads take turns away from the threads doing the work, and the site pipeline fell
// to about 1/70 of its quiet throughput (issue #15, docs/performance.md). libgomp reads
// OMP_WAIT_POLICY once, when it is loaded, before main() runs — so a program that wants the
// passive policy must have it in its environment from the start. This re-executes the program
// with OMP_WAIT_POLICY=PASSIVE unless the variable is already set (an operator's explicit
// choice, e.g. OMP_WAIT_POLICY=ACTIVE on a dedicated machine, is kept).
//
// The second setting is the allocator's. A release or an inference pass allocates tensors of
// megabytes (32,561 Adult rows x 128 floats = 16.7 MB per layer output). glibc serves such
// requests with mmap and gives them back with munmap, so every pass pays fresh page faults on
// every buffer: a third of the release's time went to the kernel's page-fault handler
// (docs/performance.md). Keeping blocks up to 32 MiB in the heap and not trimming it below
// 256 MiB lets one pass reuse the last one's pages; memory is still returned past that.
#ifndef FEDSYN_COMMON_BASE_COMPUTE_ENVIRONMENT_H_
#define FEDSYN_COMMON_BASE_COMPUTE_ENVIRONMENT_H_

namespace fedsyn::base {

// Call first thing in main(), before any compute thread exists: both settings below.
void PrepareComputeProcess(char** argv);

// Returns only when OMP_WAIT_POLICY is in place (set by the operator, or PASSIVE after a
// re-execution), or when re-executing failed (then the program runs on with the runtime's
// default and a warning on stderr).
void EnsurePassiveComputeThreads(char** argv);

// Serves allocations up to kLargestHeapBlock from the heap and keeps up to kHeapKeptOnFree of
// freed heap memory mapped. Returns false (and changes nothing it could not) when the C library
// refuses a setting.
bool KeepTensorBuffersInTheHeap();
inline constexpr long kLargestHeapBlock = 32L << 20;  // glibc's upper limit on 64-bit
inline constexpr long kHeapKeptOnFree = 256L << 20;

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_COMPUTE_ENVIRONMENT_H_
