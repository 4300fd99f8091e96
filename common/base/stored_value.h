// Reading back a value the program stored as text, whichever database holds it.
#ifndef FEDSYN_COMMON_BASE_STORED_VALUE_H_
#define FEDSYN_COMMON_BASE_STORED_VALUE_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace fedsyn::base {

// A closed set (a mode, a state) or a list (inclusion bits, positions) stored as TEXT is read
// back only through its parse: text the program never writes means the file was changed behind
// its back — DataLoss naming `what` and the row's `key`, never a default.
template <typename Value>
absl::StatusOr<Value> ParseStored(const std::string& text,
                                  std::optional<Value> (*parse)(std::string_view), const char* what,
                                  const std::string& key) {
  if (const std::optional<Value> value = parse(text)) return *value;
  return absl::DataLossError(std::string("stored ") + what + " '" + text + "' of " + key +
                             " is not something this program writes");
}

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_STORED_VALUE_H_
