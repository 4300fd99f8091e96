// Names a peer or an operator chooses (site names, dataset names, release ids) end up in file
// paths, log lines and SQL keys: a small safe alphabet means none can climb out of a folder
// ("../x"), break a path ("/") or a log line (issue #12, F9).
#ifndef FEDSYN_COMMON_BASE_NAMES_H_
#define FEDSYN_COMMON_BASE_NAMES_H_

#include <string_view>

namespace fedsyn::base {

// 1 to 64 characters of [A-Za-z0-9_-].
bool IsSafeName(std::string_view name);

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_NAMES_H_
