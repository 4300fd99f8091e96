// Timestamps as fedsyn writes them into manifests and reports: ISO 8601, UTC, whole seconds.
#ifndef FEDSYN_COMMON_BASE_UTC_TIME_H_
#define FEDSYN_COMMON_BASE_UTC_TIME_H_

#include <cstdint>
#include <string>

namespace fedsyn::base {

// "2026-11-29T08:52:54Z".
std::string Iso8601Utc(int64_t unix_seconds);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_UTC_TIME_H_
