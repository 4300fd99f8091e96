#include "common/data/schema.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "common/base/regular_file.h"
#include "toml++/toml.h"

namespace fedsyn::data {
namespace {

absl::Status KeyError(const std::string& source, const std::string& where,
                      const std::string& reason) {
  return absl::InvalidArgumentError(source + ": " + where + ": " + reason);
}

// Typos in a privacy configuration must not be ignored silently ("nulable = true").
absl::Status CheckKnownKeys(const toml::table& table, const std::set<std::string>& known,
                            const std::string& source, const std::string& where) {
  for (const auto& [key, value] : table) {
    if (!known.contains(std::string(key.str()))) {
      return KeyError(source, where, "unknown key '" + std::string(key.str()) + "'");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> StringList(const toml::node_view<const toml::node> node,
                                                    const std::string& source,
                                                    const std::string& where) {
  std::vector<std::string> out;
  const toml::array* array = node.as_array();
  if (array == nullptr) return KeyError(source, where, "must be an array of strings");
  if (array->size() > kMaxSchemaCategories) {
    return KeyError(source, where,
                    "holds more than " + std::to_string(kMaxSchemaCategories) + " entries");
  }
  for (const toml::node& element : *array) {
    const auto text = element.value<std::string>();
    if (!text) return KeyError(source, where, "must be an array of strings");
    if (text->size() > kMaxSchemaTextBytes) {
      return KeyError(source, where,
                      "entries must be at most " + std::to_string(kMaxSchemaTextBytes) + " bytes");
    }
    out.push_back(*text);
  }
  return out;
}

absl::StatusOr<OutOfRangePolicy> ParsePolicy(const std::string& text, const std::string& source,
                                             const std::string& where) {
  if (text == "reject") return OutOfRangePolicy::kReject;
  if (text == "clamp") return OutOfRangePolicy::kClamp;
  return KeyError(source, where,
                  "out_of_range must be \"reject\" or \"clamp\", not \"" + text + "\"");
}

absl::StatusOr<ColumnType> ParseType(const std::string& text, const std::string& source,
                                     const std::string& where) {
  if (text == "continuous") return ColumnType::kContinuous;
  if (text == "integer") return ColumnType::kInteger;
  if (text == "categorical") return ColumnType::kCategorical;
  if (text == "binary") return ColumnType::kBinary;
  if (text == "ignored") return ColumnType::kIgnored;
  return KeyError(
      source, where,
      "type must be continuous, integer, categorical, binary or ignored, not \"" + text + "\"");
}

absl::StatusOr<ColumnSpec> ParseColumn(const toml::table& table, int index,
                                       const std::vector<std::string>& default_missing,
                                       OutOfRangePolicy default_policy, const std::string& source) {
  std::string where = "column #" + std::to_string(index + 1);
  RETURN_IF_ERROR(CheckKnownKeys(table,
                                 {"name", "type", "min", "max", "categories", "nullable", "missing",
                                  "out_of_range", "aliases"},
                                 source, where));
  ColumnSpec column;
  const auto name = table["name"].value<std::string>();
  if (!name || name->empty()) return KeyError(source, where, "needs a non-empty name");
  if (name->size() > kMaxSchemaTextBytes) {
    return KeyError(source, where,
                    "name must be at most " + std::to_string(kMaxSchemaTextBytes) + " bytes");
  }
  column.name = *name;
  where = "column '" + column.name + "'";
  const auto type = table["type"].value<std::string>();
  if (!type) return KeyError(source, where, "needs a type");
  ASSIGN_OR_RETURN(column.type, ParseType(*type, source, where));
  column.nullable = table["nullable"].value_or(false);
  column.missing_tokens = default_missing;
  if (table.contains("missing")) {
    ASSIGN_OR_RETURN(column.missing_tokens,
                     StringList(table["missing"], source, where + ".missing"));
  }
  column.out_of_range = default_policy;
  if (const auto policy = table["out_of_range"].value<std::string>()) {
    ASSIGN_OR_RETURN(column.out_of_range, ParsePolicy(*policy, source, where));
  }

  if (column.IsNumeric()) {
    const auto min = table["min"].value<double>();
    const auto max = table["max"].value<double>();
    if ((table.contains("min") && !min) || (table.contains("max") && !max))
      return KeyError(source, where, "min and max must be numbers");
    if (!min || !max) return KeyError(source, where, "numeric columns need declared min and max");
    // Values are scaled by (max - min) in float: beyond 1e15 the model's arithmetic overflows or
    // loses every digit, and training "diverges" instead of the schema being refused (#12, F12).
    constexpr double kMaxMagnitude = 1e15;
    if (!std::isfinite(*min) || !std::isfinite(*max) || !(*min < *max) ||
        std::fabs(*min) > kMaxMagnitude || std::fabs(*max) > kMaxMagnitude) {
      return KeyError(source, where, "min and max must be finite, within ±1e15, with min < max");
    }
    if (column.type == ColumnType::kInteger &&
        (std::floor(*min) != *min || std::floor(*max) != *max)) {
      return KeyError(source, where, "integer columns need integer bounds");
    }
    column.min = *min;
    column.max = *max;
    if (table.contains("categories")) {
      return KeyError(source, where, "numeric columns take min/max, not categories");
    }
  } else if (column.IsCategorical()) {
    if (!table.contains("categories")) {
      return KeyError(source, where, "categorical columns need a declared category list");
    }
    ASSIGN_OR_RETURN(column.categories,
                     StringList(table["categories"], source, where + ".categories"));
    const std::set<std::string> unique(column.categories.begin(), column.categories.end());
    if (unique.size() != column.categories.size()) {
      return KeyError(source, where, "categories must be distinct");
    }
    if (column.categories.empty()) return KeyError(source, where, "categories must not be empty");
    if (column.type == ColumnType::kBinary && column.categories.size() != 2) {
      return KeyError(source, where, "binary columns declare exactly two categories");
    }
    if (const toml::table* aliases = table["aliases"].as_table()) {
      for (const auto& [raw, target] : *aliases) {
        const auto category = target.value<std::string>();
        if (!category || !unique.contains(*category)) {
          return KeyError(source, where,
                          "alias '" + std::string(raw.str()) + "' must map to a declared category");
        }
        column.aliases[std::string(raw.str())] = *category;
      }
    }
    if (table.contains("min") || table.contains("max")) {
      return KeyError(source, where, "categorical columns take categories, not min/max");
    }
  }
  return column;
}

}  // namespace

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kContinuous:
      return "continuous";
    case ColumnType::kInteger:
      return "integer";
    case ColumnType::kCategorical:
      return "categorical";
    case ColumnType::kBinary:
      return "binary";
    case ColumnType::kIgnored:
      return "ignored";
  }
  return "?";
}

absl::StatusOr<Schema> Schema::Parse(const std::string& toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << source << ":" << error.source().begin.line << ":" << error.source().begin.column
            << ": " << error.description();
    return absl::InvalidArgumentError(message.str());
  }
  RETURN_IF_ERROR(CheckKnownKeys(root, {"dataset", "csv", "column"}, source, "top level"));
  Schema schema;
  schema.toml_text = toml_text;

  const toml::table* dataset = root["dataset"].as_table();
  if (dataset == nullptr) return KeyError(source, "[dataset]", "section is required");
  RETURN_IF_ERROR(CheckKnownKeys(
      *dataset, {"name", "label", "missing", "out_of_range", "person_id", "max_rows_per_person"},
      source, "[dataset]"));
  schema.name = (*dataset)["name"].value_or(std::string());
  if (schema.name.empty()) return KeyError(source, "[dataset]", "needs a name");
  std::vector<std::string> default_missing;
  if (dataset->contains("missing")) {
    ASSIGN_OR_RETURN(default_missing,
                     StringList((*dataset)["missing"], source, "[dataset].missing"));
  }
  OutOfRangePolicy default_policy = OutOfRangePolicy::kReject;
  if (const auto policy = (*dataset)["out_of_range"].value<std::string>()) {
    ASSIGN_OR_RETURN(default_policy, ParsePolicy(*policy, source, "[dataset]"));
  }

  if (const toml::table* csv = root["csv"].as_table()) {
    RETURN_IF_ERROR(
        CheckKnownKeys(*csv, {"header", "delimiter", "trim", "skip_rows"}, source, "[csv]"));
    schema.csv.header = (*csv)["header"].value_or(false);
    schema.csv.trim = (*csv)["trim"].value_or(true);
    const int64_t skip = (*csv)["skip_rows"].value_or(int64_t{0});
    if (skip < 0 || skip > 1000) return KeyError(source, "[csv]", "skip_rows must be in 0..1000");
    schema.csv.skip_rows = static_cast<int>(skip);
    const std::string delimiter = (*csv)["delimiter"].value_or(std::string(","));
    if (delimiter.size() != 1 || delimiter == "\"" || delimiter == "\n") {
      return KeyError(source, "[csv]", "delimiter must be one character other than quote/newline");
    }
    schema.csv.delimiter = delimiter[0];
  }

  const toml::array* columns = root["column"].as_array();
  if (columns == nullptr || columns->empty()) {
    return KeyError(source, "[[column]]", "at least one column is required");
  }
  if (columns->size() > kMaxSchemaColumns) {
    return KeyError(source, "[[column]]",
                    "at most " + std::to_string(kMaxSchemaColumns) + " columns are supported");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < columns->size(); ++i) {
    const toml::table* table = (*columns)[i].as_table();
    if (table == nullptr) return KeyError(source, "[[column]]", "entries must be tables");
    ASSIGN_OR_RETURN(ColumnSpec column, ParseColumn(*table, static_cast<int>(i), default_missing,
                                                    default_policy, source));
    if (!names.insert(column.name).second) {
      return KeyError(source, "column '" + column.name + "'", "declared twice");
    }
    schema.columns.push_back(std::move(column));
  }
  bool has_modelled_column = false;
  for (const ColumnSpec& column : schema.columns) {
    has_modelled_column |= column.type != ColumnType::kIgnored;
  }
  if (!has_modelled_column) return KeyError(source, "[[column]]", "every column is ignored");

  if (const auto label = (*dataset)["label"].value<std::string>()) {
    schema.label_index = schema.FindColumn(*label);
    if (!schema.label_index) {
      return KeyError(source, "[dataset].label", "no column named '" + *label + "'");
    }
    if (!schema.columns[*schema.label_index].IsCategorical()) {
      return KeyError(source, "[dataset].label", "the label column must be categorical or binary");
    }
    if (schema.columns[*schema.label_index].nullable) {
      return KeyError(source, "[dataset].label", "the label column cannot be nullable");
    }
  }
  if (const auto person = (*dataset)["person_id"].value<std::string>()) {
    schema.person_index = schema.FindColumn(*person);
    if (!schema.person_index) {
      return KeyError(source, "[dataset].person_id", "no column named '" + *person + "'");
    }
    if (schema.columns[*schema.person_index].type != ColumnType::kIgnored) {
      return KeyError(source, "[dataset].person_id",
                      "the person identifier column must be declared type = \"ignored\" (it is "
                      "never a model input and never leaves the site)");
    }
  } else if (dataset->contains("person_id")) {
    return KeyError(source, "[dataset].person_id", "must be a column name");
  }
  if (dataset->contains("max_rows_per_person")) {
    const auto rows = (*dataset)["max_rows_per_person"].value<int64_t>();
    if (!schema.person_index) {
      return KeyError(source, "[dataset].max_rows_per_person", "needs person_id");
    }
    if (!rows || *rows < 1 || *rows > 1000) {
      return KeyError(source, "[dataset].max_rows_per_person", "must be an integer in 1..1000");
    }
    schema.max_rows_per_person = static_cast<int>(*rows);
  }
  return schema;
}

absl::StatusOr<Schema> Schema::LoadFile(const std::string& path) {
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open schema file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

std::optional<int> Schema::FindColumn(const std::string& column_name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column_name) return static_cast<int>(i);
  }
  return std::nullopt;
}

absl::Status CheckSameDomains(const Schema& a, const Schema& b) {
  if (a.columns.size() != b.columns.size()) {
    return absl::InvalidArgumentError("schemas declare " + std::to_string(a.columns.size()) +
                                      " and " + std::to_string(b.columns.size()) + " columns");
  }
  for (size_t c = 0; c < a.columns.size(); ++c) {
    const ColumnSpec& x = a.columns[c];
    const ColumnSpec& y = b.columns[c];
    const std::string where = "column " + std::to_string(c + 1) + " '" + x.name + "'";
    if (x.name != y.name)
      return absl::InvalidArgumentError(where + " is named '" + y.name + "' in the other schema");
    if (x.type != y.type) return absl::InvalidArgumentError(where + " has another type");
    if (x.nullable != y.nullable)
      return absl::InvalidArgumentError(where + " differs in nullability");
    if (x.IsNumeric() && (x.min != y.min || x.max != y.max)) {
      return absl::InvalidArgumentError(where + " has other bounds");
    }
    if (x.IsCategorical() && x.categories != y.categories) {
      return absl::InvalidArgumentError(where + " has other categories");
    }
  }
  if (a.label_index != b.label_index)
    return absl::InvalidArgumentError("schemas name different label columns");
  return absl::OkStatus();
}

}  // namespace fedsyn::data
