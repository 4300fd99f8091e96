// How a long-running command (the coordinator's serve, the agent's heartbeat) learns that it
// should stop: SIGINT or SIGTERM set one process-wide flag.
#ifndef FEDSYN_COMMON_BASE_STOP_SIGNALS_H_
#define FEDSYN_COMMON_BASE_STOP_SIGNALS_H_

#include <atomic>

namespace fedsyn::base {

// Installs the SIGINT and SIGTERM handlers (again harmless) and returns the flag they set.
const std::atomic<bool>& StopOnSignals();

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_STOP_SIGNALS_H_
