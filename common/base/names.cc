#include "common/base/names.h"

#include <cctype>

namespace fedsyn::base {

bool IsSafeName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace fedsyn::base
