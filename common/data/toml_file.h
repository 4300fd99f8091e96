// Reading fedsyn's TOML configuration files (coordinator.toml, site.toml): parse errors as
// statuses with file and line, and paths resolved against the file's own folder so that a
// config can be moved together with the files it names.
#ifndef FEDSYN_COMMON_DATA_TOML_FILE_H_
#define FEDSYN_COMMON_DATA_TOML_FILE_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "toml++/toml.h"

namespace fedsyn::data {

class TomlFile {
 public:
  // InvalidArgument "path:line: reason" for a syntax error; NotFound if unreadable.
  static absl::StatusOr<TomlFile> Load(const std::string& path);

  const toml::table& root() const { return root_; }
  const std::string& path() const { return path_; }
  // The string at `key` (or `fallback`), unchanged.
  std::string String(const std::string& key, const std::string& fallback = "") const;
  // The string at `key` (or `fallback`) as a path: relative paths are resolved against the
  // folder of this file; an empty value stays empty.
  std::string Path(const std::string& key, const std::string& fallback = "") const;
  // `value` resolved as Path() would (for paths inside arrays of tables).
  std::string Resolve(const std::string& value) const;
  // InvalidArgument "path:line: unknown key 'k' in `where` (known: ...)" for the first key of
  // `table` (the root, or a table inside it) that is not in `known`: a misspelt key would
  // otherwise be ignored and its default used without a word.
  absl::Status CheckKeys(const toml::table& table, std::initializer_list<std::string_view> known,
                         const std::string& where = "") const;

 private:
  TomlFile(std::string path, toml::table root) : path_(std::move(path)), root_(std::move(root)) {}
  std::string path_;
  toml::table root_;
};

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_TOML_FILE_H_
