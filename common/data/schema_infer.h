// Proposes a schema from a CSV file. WARNING, repeated on every use: a schema read off
// private data leaks it (bounds reveal extreme records, category lists reveal rare ones). The
// proposal is a starting point a data steward must review and replace with declared domains
// (e.g. clinical ranges, code lists) before any release.
#ifndef FEDSYN_COMMON_DATA_SCHEMA_INFER_H_
#define FEDSYN_COMMON_DATA_SCHEMA_INFER_H_

#include <string>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::data {

struct InferOptions {
  bool header = false;
  char delimiter = ',';
  std::vector<std::string> missing_tokens = {"?", ""};
  // Numeric columns with at most this many distinct values are proposed as categorical.
  int max_categories_for_numeric = 10;
  // Text columns with more distinct values than this are proposed as ignored (identifiers).
  int max_categories_for_text = 100;
  std::string dataset_name = "dataset";
};

inline constexpr char kInferWarning[] =
    "WARNING: this schema was read off the data itself. Its bounds and category lists disclose "
    "the data (extreme values, rare categories). Review it and replace every domain with a "
    "declared one before releasing anything.";

// Returns TOML text (starting with kInferWarning as a comment) that Schema::Parse accepts.
absl::StatusOr<std::string> InferSchemaToml(const std::string& csv_path,
                                            const InferOptions& options);

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_SCHEMA_INFER_H_
