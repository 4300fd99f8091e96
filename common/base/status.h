// Error values for fedsyn. Expected failures (bad input, exhausted budget, I/O) are
// absl::Status / absl::StatusOr values with abseil's canonical codes; a broken invariant
// of our own (entropy failure) aborts instead. Exceptions thrown by libraries stop in the
// adapter that calls them and become a Status there.
#ifndef FEDSYN_COMMON_BASE_STATUS_H_
#define FEDSYN_COMMON_BASE_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FEDSYN_STATUS_CONCAT_INNER_(a, b) a##b
#define FEDSYN_STATUS_CONCAT_(a, b) FEDSYN_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                                                \
  do {                                                                                       \
    if (::absl::Status fedsyn_status_ = (expr); !fedsyn_status_.ok()) return fedsyn_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, statusor_expr): evaluates the StatusOr, returns its status on
// error, otherwise moves the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, expr) \
  FEDSYN_ASSIGN_OR_RETURN_IMPL_(FEDSYN_STATUS_CONCAT_(fedsyn_statusor_, __LINE__), lhs, expr)
#define FEDSYN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#endif  // FEDSYN_COMMON_BASE_STATUS_H_
