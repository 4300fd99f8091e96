#include "common/data/toml_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/base/regular_file.h"

namespace fedsyn::data {

absl::StatusOr<TomlFile> TomlFile::Load(const std::string& path) {
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  if (!std::ifstream(path)) return absl::NotFoundError("cannot open " + path);
  try {
    return TomlFile(path, toml::parse_file(path));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                      std::string(e.description()));
  }
}

absl::Status TomlFile::CheckKeys(const toml::table& table,
                                 std::initializer_list<std::string_view> known,
                                 const std::string& where) const {
  for (const auto& [key, value] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    const auto line = value.source().begin.line;
    return absl::InvalidArgumentError(
        path_ + ":" + std::to_string(line) + ": unknown key '" + std::string(key.str()) + "'" +
        (where.empty() ? "" : " in " + where) + " (known: " + list + ")");
  }
  return absl::OkStatus();
}

std::string TomlFile::String(const std::string& key, const std::string& fallback) const {
  return root_[key].value_or(fallback);
}

std::string TomlFile::Path(const std::string& key, const std::string& fallback) const {
  return Resolve(String(key, fallback));
}

std::string TomlFile::Resolve(const std::string& value) const {
  if (value.empty() || std::filesystem::path(value).is_absolute()) return value;
  return (std::filesystem::path(path_).parent_path() / value).string();
}

}  // namespace fedsyn::data
