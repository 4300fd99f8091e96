// The declared shape of a tabular data set (DESIGN.md §2.6): every column's type and domain
// comes from this file, never from the data, because bounds or category sets computed from
// private records are themselves a leak.
//
// File format (TOML):
//   [dataset]  name, label (column name), missing = ["?"], out_of_range = "reject" | "clamp",
//              person_id (column name), max_rows_per_person = int (default 1)
//   [csv]      header = bool, delimiter = ",", trim = bool, skip_rows = int
//   [[column]] name, type = continuous | integer | categorical | binary | ignored,
//              min/max (continuous, integer), categories = [...] (categorical; binary: 2),
//              nullable = bool, missing = [...] (overrides the dataset's tokens),
//              out_of_range = ... (overrides), aliases = { "raw" = "category" }
#ifndef FEDSYN_COMMON_DATA_SCHEMA_H_
#define FEDSYN_COMMON_DATA_SCHEMA_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::data {

// Bounds on what a schema may declare; each keeps a hostile or mistaken schema (or `schema
// infer` on a malformed file) from turning into huge allocations downstream.
// Columns: the model's one-hot input grows with them (model::kMaxInputWidth caps it too).
inline constexpr size_t kMaxSchemaColumns = 4096;
// Categories per column: each becomes an input and an output unit of the model.
inline constexpr size_t kMaxSchemaCategories = 4096;
// Bytes of a column name, category, alias or missing token: these are labels, and they are
// repeated in every CSV row written (see MaxCsvRowBytes).
inline constexpr size_t kMaxSchemaTextBytes = 256;

enum class ColumnType { kContinuous, kInteger, kCategorical, kBinary, kIgnored };
enum class OutOfRangePolicy { kReject, kClamp };

const char* ColumnTypeName(ColumnType type);

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kContinuous;
  double min = 0.0;  // continuous, integer
  double max = 0.0;
  std::vector<std::string> categories;         // categorical, binary
  std::map<std::string, std::string> aliases;  // raw token -> declared category
  bool nullable = false;                       // may a value be missing?
  std::vector<std::string> missing_tokens;     // resolved: column's own or the dataset's
  OutOfRangePolicy out_of_range = OutOfRangePolicy::kReject;

  bool IsNumeric() const { return type == ColumnType::kContinuous || type == ColumnType::kInteger; }
  bool IsCategorical() const {
    return type == ColumnType::kCategorical || type == ColumnType::kBinary;
  }
};

struct CsvFormat {
  bool header = false;
  char delimiter = ',';
  bool trim = true;   // strip spaces around unquoted fields (UCI Adult uses ", ")
  int skip_rows = 0;  // banner lines before the header or data
};

struct Schema {
  std::string name;
  std::vector<ColumnSpec> columns;
  std::optional<int> label_index;  // index into columns
  CsvFormat csv;
  std::string toml_text;  // the text it was parsed from, stored with trained models
  // A person identifier column ([dataset] person_id): the unit of privacy is then a person, not
  // a row. The column must be declared `type = "ignored"`: it is never a model input and never
  // written out (its raw tokens are read into ReadResult::person_ids and stay at the site).
  // Each person contributes exactly max_rows_per_person rows (a random subset of more, rows
  // repeated at random to fill fewer; site::BoundContributions).
  std::optional<int> person_index;
  int max_rows_per_person = 1;

  // Parses and validates. Errors (InvalidArgument) name `source` and the offending key.
  static absl::StatusOr<Schema> Parse(const std::string& toml_text, const std::string& source);
  static absl::StatusOr<Schema> LoadFile(const std::string& path);

  std::optional<int> FindColumn(const std::string& column_name) const;
};

// OK when `a` and `b` declare the same columns with the same domains (names, types, bounds,
// categories, nullability, label); otherwise InvalidArgument naming the first difference.
// CSV layout and missing tokens may differ: they describe files, not values.
absl::Status CheckSameDomains(const Schema& a, const Schema& b);

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_SCHEMA_H_
