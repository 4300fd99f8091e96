// Names a peer or an operator chooses (site names, dataset names, release ids) end up in file
// paths, log lines and SQL keys: a small safe alphabet means none can climb out of a folder
// ("../x"), break a path ("/") or a log line (issue #12, F9).
#ifndef FEDSYN_COMMON_BASE_NAMES_H_
#define FEDSYN_COMMON_BASE_NAMES_H_

#include <initializer_list>
#include <optional>
#include <string_view>

namespace fedsyn::base {

// 1 to 64 characters of [A-Za-z0-9_-].
bool IsSafeName(std::string_view name);

// The inverse of an enum's name function: the value among `values` whose name is `name`, or
// nullopt. Every closed set (release modes, ledger and audit states) parses through this, so a
// name and its parse cannot drift apart.
template <typename Enum>
std::optional<Enum> ParseName(std::string_view name, std::initializer_list<Enum> values,
                              const char* (*name_of)(Enum)) {
  for (const Enum value : values) {
    if (name == name_of(value)) return value;
  }
  return std::nullopt;
}

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_NAMES_H_
