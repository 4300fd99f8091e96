#include "common/data/schema_infer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "common/data/csv.h"
#include "common/data/table_io.h"

namespace fedsyn::data {
namespace {

bool ParseFinite(const std::string& text, double& value) {
  const char* begin = text.data();
  if (!text.empty() && text.front() == '+') ++begin;
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(value) &&
         begin != end;
}

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string TomlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + TomlString(items[i]);
  return out + "]";
}

}  // namespace

absl::StatusOr<std::string> InferSchemaToml(const std::string& csv_path,
                                            const InferOptions& options) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileToString(csv_path));
  ASSIGN_OR_RETURN(std::vector<CsvRecord> records,
                   ParseCsv(text, options.delimiter, true, csv_path));
  if (records.empty()) return absl::InvalidArgumentError(csv_path + ": no records");
  const size_t width = records.front().fields.size();
  // Refused before anything is proposed: a line with millions of fields would otherwise become
  // a schema of hundreds of megabytes that no model could take.
  if (width > kMaxSchemaColumns) {
    return absl::InvalidArgumentError(csv_path + ":" + std::to_string(records.front().line) + ": " +
                                      std::to_string(width) + " columns; a schema holds at most " +
                                      std::to_string(kMaxSchemaColumns));
  }
  std::vector<std::string> names;
  size_t first = 0;
  if (options.header) {
    names = records.front().fields;
    first = 1;
    for (size_t c = 0; c < width; ++c) {
      if (names[c].size() > kMaxSchemaTextBytes) {
        return absl::InvalidArgumentError(csv_path + ": header column " + std::to_string(c + 1) +
                                          " has a name of " + std::to_string(names[c].size()) +
                                          " bytes; at most " + std::to_string(kMaxSchemaTextBytes) +
                                          " are allowed");
      }
    }
  } else {
    for (size_t c = 0; c < width; ++c) names.push_back("col" + std::to_string(c + 1));
  }
  std::ostringstream out;
  out << "# " << kInferWarning << "\n\n[dataset]\nname = " << TomlString(options.dataset_name)
      << "\nmissing = " << TomlList(options.missing_tokens)
      << "\nout_of_range = \"reject\"\n\n[csv]\n"
      << "header = " << (options.header ? "true" : "false")
      << "\ndelimiter = " << TomlString(std::string(1, options.delimiter)) << "\n";
  for (size_t c = 0; c < width; ++c) {
    bool numeric = true, integral = true, has_missing = false, long_values = false;
    double lo = INFINITY, hi = -INFINITY;
    std::set<std::string> distinct;
    for (size_t r = first; r < records.size(); ++r) {
      if (records[r].fields.size() != width) {
        return absl::InvalidArgumentError(csv_path + ":" + std::to_string(records[r].line) + ": " +
                                          std::to_string(records[r].fields.size()) +
                                          " columns, expected " + std::to_string(width));
      }
      const std::string& field = records[r].fields[c];
      if (std::find(options.missing_tokens.begin(), options.missing_tokens.end(), field) !=
          options.missing_tokens.end()) {
        has_missing = true;
        continue;
      }
      if (field.size() > kMaxSchemaTextBytes) long_values = true;
      if (distinct.size() <= static_cast<size_t>(options.max_categories_for_text))
        distinct.insert(field);
      double v = 0;
      if (numeric && ParseFinite(field, v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        integral &= std::floor(v) == v;
      } else {
        numeric = false;
      }
    }
    out << "\n[[column]]\nname = " << TomlString(names[c]) << "\n";
    if (distinct.empty()) {
      out << "type = \"ignored\"  # no values\n";
      continue;
    }
    if (numeric && distinct.size() > static_cast<size_t>(options.max_categories_for_numeric)) {
      if (lo == hi) hi = lo + 1;
      out << "type = \"" << (integral ? "integer" : "continuous") << "\"\nmin = " << lo
          << "\nmax = " << hi << "\n";
    } else if (distinct.size() > static_cast<size_t>(options.max_categories_for_text)) {
      out << "type = \"ignored\"  # too many distinct values: an identifier?\n";
      continue;
    } else if (long_values) {
      out << "type = \"ignored\"  # values longer than a category may be: free text?\n";
      continue;
    } else {
      std::vector<std::string> categories(distinct.begin(), distinct.end());
      if (numeric) {
        std::sort(
            categories.begin(), categories.end(),
            [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
      }
      out << "type = \"" << (categories.size() == 2 ? "binary" : "categorical")
          << "\"\ncategories = " << TomlList(categories) << "\n";
    }
    if (has_missing) out << "nullable = true\n";
  }
  return out.str();
}

}  // namespace fedsyn::data
