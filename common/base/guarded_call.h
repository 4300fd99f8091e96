// A Status-returning call that might throw, as a Status.
#ifndef FEDSYN_COMMON_BASE_GUARDED_CALL_H_
#define FEDSYN_COMMON_BASE_GUARDED_CALL_H_

#include <exception>
#include <functional>
#include <string>

#include "common/base/status.h"

namespace fedsyn::base {

// Runs `body`; an exception it throws (say, bad_alloc) becomes Internal naming `what`, so that a
// caller holding a lock or a transaction open (a database's transaction runner) is never
// unwound half way.
inline absl::Status CallGuarded(const std::function<absl::Status()>& body, const char* what) {
  try {
    return body();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string(what) + " threw: " + e.what());
  } catch (...) {
    return absl::InternalError(std::string(what) + " threw");
  }
}

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_GUARDED_CALL_H_
