#include "common/data/toml_file.h"

#include <filesystem>
#include <fstream>

#include "common/base/regular_file.h"

namespace fedsyn::data {

absl::StatusOr<TomlFile> TomlFile::Load(const std::string& path) {
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  if (!std::ifstream(path)) return absl::NotFoundError("cannot open " + path);
  try {
    return TomlFile(path, toml::parse_file(path));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                      std::string(e.description()));
  }
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
