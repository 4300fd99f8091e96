#include "common/base/stop_signals.h"

#include <csignal>

namespace fedsyn::base {
namespace {

std::atomic<bool> g_stop = false;  // lock-free: safe to set from a signal handler
void OnStopSignal(int) { g_stop = true; }

}  // namespace

const std::atomic<bool>& StopOnSignals() {
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  return g_stop;
}

}  // namespace fedsyn::base
