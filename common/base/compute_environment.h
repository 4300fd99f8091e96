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
#ifndef FEDSYN_COMMON_BASE_COMPUTE_ENVIRONMENT_H_
#define FEDSYN_COMMON_BASE_COMPUTE_ENVIRONMENT_H_

namespace fedsyn::base {

// Call first thing in main(). Returns only when the policy is in place, or when re-executing
// failed (then the program runs on with the runtime's default and a warning on stderr).
void EnsurePassiveComputeThreads(char** argv);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_COMPUTE_ENVIRONMENT_H_
