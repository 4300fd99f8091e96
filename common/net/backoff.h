// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
// Jitter"): the n-th wait is uniform in [0, min(cap, base * 2^n)], so many sites that lost the
// coordinator at the same moment do not reconnect in lockstep.
#ifndef FEDSYN_COMMON_NET_BACKOFF_H_
#define FEDSYN_COMMON_NET_BACKOFF_H_

#include <algorithm>
#include <chrono>
#include <functional>

namespace fedsyn::net {

class Backoff {
 public:
  // `uniform01` returns uniform draws in [0, 1); injected so tests are deterministic.
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
          std::function<double()> uniform01)
      : base_(base), cap_(cap), uniform01_(std::move(uniform01)) {}

  std::chrono::milliseconds Next() {
    const double ceiling = std::min(
        static_cast<double>(cap_.count()),
        static_cast<double>(base_.count()) * static_cast<double>(1ull << std::min(attempt_, 30)));
    ++attempt_;
    return std::chrono::milliseconds(static_cast<int64_t>(uniform01_() * ceiling));
  }
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds base_, cap_;
  std::function<double()> uniform01_;
  int attempt_ = 0;
};

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_BACKOFF_H_
