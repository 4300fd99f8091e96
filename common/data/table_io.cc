#include "common/data/table_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "common/base/regular_file.h"
#include "common/data/csv.h"

namespace fedsyn::data {
namespace {

enum class NumberParse { kOk, kNotANumber, kNonFinite };

NumberParse ParseNumber(std::string_view text, double& value) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return NumberParse::kNotANumber;  // "+-5"
  }
  if (text.empty()) return NumberParse::kNotANumber;
  // Most cells are short integers: up to 15 digits are exact in a double, so summing them gives
  // the value from_chars would, in a fraction of its time (an upload is checked cell by cell).
  const bool negative = text.front() == '-';
  const std::string_view digits = text.substr(negative ? 1 : 0);
  if (!digits.empty() && digits.size() <= 15) {
    int64_t whole = 0;
    bool all_digits = true;
    for (const char c : digits) {
      if (c < '0' || c > '9') {
        all_digits = false;
        break;
      }
      whole = whole * 10 + (c - '0');
    }
    if (all_digits) {
      value = negative ? -static_cast<double>(whole) : static_cast<double>(whole);
      return NumberParse::kOk;
    }
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    // from_chars reports overflow (e.g. "1e999") as out of range: treat it as non-finite.
    if (error == std::errc::result_out_of_range) return NumberParse::kNonFinite;
    return NumberParse::kNotANumber;
  }
  return std::isfinite(value) ? NumberParse::kOk : NumberParse::kNonFinite;
}

// A value named in an error message: cut to a few characters, because the message goes to the
// terminal and logs, and a field may be a patient's data (or 10 MB of it; issue #12, F12).
std::string Quote(std::string_view s) {
  constexpr size_t kShown = 24;
  std::string quoted(1, '\'');
  quoted.append(s.substr(0, kShown));
  quoted += '\'';
  if (s.size() > kShown) quoted += "... (" + std::to_string(s.size()) + " bytes)";
  return quoted;
}

template <typename Number>
std::string FormatNumber(Number value) {
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : std::string("0");
}

class CellParser {
 public:
  CellParser(const Schema& schema, const std::string& source)
      : schema_(schema), source_(source), named_categories_(schema.columns.size()) {
    // Every token that names a category directly (a declared category or an alias), resolved
    // once per scan rather than once per cell: an upload chunk has thousands of rows, a column
    // at most a few hundred such tokens. The value is CategoryIndex's own answer for the token,
    // so a hit decides exactly as the full lookup would.
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      const ColumnSpec& column = schema.columns[c];
      if (!column.IsCategorical()) continue;
      const auto remember = [&](const std::string& token) {
        named_categories_[c].try_emplace(token, CategoryIndex(token, column).value_or(-1));
      };
      for (const auto& [raw, category] : column.aliases) remember(raw);
      for (const std::string& category : column.categories) remember(category);
    }
  }

  // Parses one field of column `c` on `line`, updating `report`.
  absl::StatusOr<Cell> Parse(std::string_view field, int c, int line, ColumnReport& report) const {
    const ColumnSpec& column = schema_.columns[static_cast<size_t>(c)];
    if (column.type == ColumnType::kIgnored) return Cell();
    if (std::find(column.missing_tokens.begin(), column.missing_tokens.end(), field) !=
        column.missing_tokens.end()) {
      if (!column.nullable) {
        return Error(line, c,
                     "missing value " + Quote(field) + " but the column is not declared nullable");
      }
      ++report.missing;
      return Cell();
    }
    if (column.IsCategorical()) {
      const auto& named = named_categories_[static_cast<size_t>(c)];
      // (Debian's Abseil has its own string_view type, hence the conversion.)
      const auto known = named.find(absl::string_view(field.data(), field.size()));
      const std::optional<int> index =
          known != named.end() && known->second >= 0 ? known->second : CategoryIndex(field, column);
      if (!index) return Error(line, c, "unknown category " + Quote(field));
      return Cell(static_cast<double>(*index));
    }
    double value = 0.0;
    switch (ParseNumber(field, value)) {
      case NumberParse::kNotANumber:
        return Error(line, c, "cannot parse " + Quote(field) + " as a number");
      case NumberParse::kNonFinite:
        return Error(line, c, "NaN or infinite value " + Quote(field));
      case NumberParse::kOk:
        break;
    }
    if (column.type == ColumnType::kInteger && std::floor(value) != value) {
      return Error(line, c, "value " + Quote(field) + " is not an integer");
    }
    if (value < column.min || value > column.max) {
      if (column.out_of_range == OutOfRangePolicy::kReject) {
        return Error(line, c,
                     "value " + Quote(field) + " outside the declared range [" +
                         FormatNumber(column.min) + ", " + FormatNumber(column.max) + "]");
      }
      ++report.clamped;
      value = std::clamp(value, column.min, column.max);
    }
    return Cell(value);
  }

  absl::Status Error(int line, int c, const std::string& reason) const {
    return absl::InvalidArgumentError(
        source_ + ":" + std::to_string(line) + ": column " + std::to_string(c + 1) + " " +
        Quote(schema_.columns[static_cast<size_t>(c)].name) + ": " + reason);
  }

 private:
  // The index of the category `field` names in `column`: through an alias, by name, or (for
  // numeric codes, so that "1" and "1.0" name the same declared category) by value.
  static std::optional<int> CategoryIndex(std::string_view field, const ColumnSpec& column) {
    std::string_view token = field;
    if (const auto alias = column.aliases.find(std::string(field)); alias != column.aliases.end()) {
      token = alias->second;
    }
    for (size_t i = 0; i < column.categories.size(); ++i) {
      if (column.categories[i] == token) return static_cast<int>(i);
    }
    double value = 0.0;
    if (ParseNumber(token, value) == NumberParse::kOk) {
      for (size_t i = 0; i < column.categories.size(); ++i) {
        double declared = 0.0;
        if (ParseNumber(column.categories[i], declared) == NumberParse::kOk && declared == value) {
          return static_cast<int>(i);
        }
      }
    }
    return std::nullopt;
  }

  const Schema& schema_;
  const std::string& source_;
  // Per column: category index of each token named in the schema, -1 for an alias that names no
  // category (left to CategoryIndex, which refuses it).
  std::vector<absl::flat_hash_map<std::string, int>> named_categories_;
};

}  // namespace

int64_t ReadReport::TotalClamped() const {
  int64_t total = 0;
  for (const ColumnReport& c : columns) total += c.clamped;
  return total;
}

int64_t ReadReport::TotalMissing() const {
  int64_t total = 0;
  for (const ColumnReport& c : columns) total += c.missing;
  return total;
}

namespace {

// Reads `text` under `schema` record by record (the header checked, every cell parsed into
// `report`) and hands each row with its record to `take`, which may move the row away.
absl::Status ScanCsvTable(const std::string& text, const Schema& schema, const std::string& source,
                          const std::optional<CsvFormat>& format, ReadReport& report,
                          const std::function<void(Row& row, const CsvRecordView& record)>& take) {
  const CsvFormat& csv = format ? *format : schema.csv;
  const size_t width = schema.columns.size();
  report.columns.assign(width, ColumnReport{});
  const CellParser parser(schema, source);
  size_t index = 0;  // of the record: skipped rows, then the header, then data
  const size_t header_index = static_cast<size_t>(csv.skip_rows);
  bool header_seen = false;
  Row row;
  RETURN_IF_ERROR(ForEachCsvRecord(
      text, csv.delimiter, csv.trim, source, [&](const CsvRecordView& record) -> absl::Status {
        const size_t at = index++;
        if (at < header_index) return absl::OkStatus();
        if (csv.header && at == header_index) {
          header_seen = true;
          if (record.fields.size() != width) {
            return absl::InvalidArgumentError(source + ":" + std::to_string(record.line) +
                                              ": header has " +
                                              std::to_string(record.fields.size()) +
                                              " columns, schema declares " + std::to_string(width));
          }
          for (size_t c = 0; c < width; ++c) {
            if (RestoreFormula(record.fields[c]) != schema.columns[c].name) {
              return absl::InvalidArgumentError(source + ":" + std::to_string(record.line) +
                                                ": column " + std::to_string(c + 1) + " is named " +
                                                Quote(record.fields[c]) + " in the header but " +
                                                Quote(schema.columns[c].name) + " in the schema");
            }
          }
          return absl::OkStatus();
        }
        if (record.fields.size() != width) {
          return absl::InvalidArgumentError(source + ":" + std::to_string(record.line) + ": " +
                                            std::to_string(record.fields.size()) +
                                            " columns, schema declares " + std::to_string(width));
        }
        row.assign(width, Cell());
        for (size_t c = 0; c < width; ++c) {
          ASSIGN_OR_RETURN(row[c],
                           parser.Parse(RestoreFormula(record.fields[c]), static_cast<int>(c),
                                        record.line, report.columns[c]));
        }
        ++report.rows;
        take(row, record);
        return absl::OkStatus();
      }));
  if (csv.header && !header_seen) {
    return absl::InvalidArgumentError(source +
                                      ": the schema declares a header but the file has none");
  }
  if (report.rows == 0) return absl::InvalidArgumentError(source + ": no data rows");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReadResult> ParseCsvTable(const std::string& text, const Schema& schema,
                                         const std::string& source,
                                         const std::optional<CsvFormat>& format) {
  ReadResult result;
  RETURN_IF_ERROR(ScanCsvTable(
      text, schema, source, format, result.report, [&](Row& row, const CsvRecordView& record) {
        result.table.rows.push_back(std::move(row));
        if (schema.person_index) {
          result.person_ids.emplace_back(record.fields[static_cast<size_t>(*schema.person_index)]);
        }
      }));
  return result;
}

absl::StatusOr<ReadReport> CheckCsvTable(const std::string& text, const Schema& schema,
                                         const std::string& source,
                                         const std::optional<CsvFormat>& format) {
  ReadReport report;
  RETURN_IF_ERROR(
      ScanCsvTable(text, schema, source, format, report, [](Row&, const CsvRecordView&) {}));
  return report;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError("read error on " + path);
  return text.str();
}

absl::StatusOr<ReadResult> ReadCsvTable(const std::string& path, const Schema& schema,
                                        const std::optional<CsvFormat>& format) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  return ParseCsvTable(text, schema, path, format);
}

absl::StatusOr<Table> ReadPooledCsvTables(const std::vector<std::string>& paths,
                                          const Schema& schema) {
  if (paths.empty()) return absl::InvalidArgumentError("no CSV file given");
  Table pooled;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(ReadResult read, ReadCsvTable(path, schema));
    for (Row& row : read.table.rows) pooled.rows.push_back(std::move(row));
  }
  return pooled;
}

CsvFormat OutputCsvFormat() {
  CsvFormat format;
  format.header = true;
  format.delimiter = ',';
  format.trim = false;
  return format;
}

CsvFormat HeaderlessCsvFormat() {
  CsvFormat format = OutputCsvFormat();
  format.header = false;
  return format;
}

std::string FormatCsvTable(const Table& table, const Schema& schema, FormulaCells cells) {
  // Only text goes through here: numbers are formatted below and never altered.
  const auto text = [cells](std::string_view value) {
    return EscapeCsvField(
        cells == FormulaCells::kNeutralise ? NeutraliseFormula(value) : std::string(value), ',');
  };
  std::string out;
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    if (c > 0) out += ',';
    out += text(schema.columns[c].name);
  }
  out += '\n';
  for (const Row& row : table.rows) {
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      if (c > 0) out += ',';
      const ColumnSpec& column = schema.columns[c];
      if (!row[c].has_value()) {
        // A missing value is written as the column's first missing token, so that the file
        // reads back under the same schema.
        if (column.nullable && !column.missing_tokens.empty()) {
          out += text(column.missing_tokens.front());
        }
        continue;
      }
      if (column.IsCategorical()) {
        out += text(column.categories[static_cast<size_t>(*row[c])]);
      } else {
        // Model outputs carry float precision; the shortest float text keeps files readable.
        out += column.type == ColumnType::kInteger ? FormatNumber(*row[c])
                                                   : FormatNumber(static_cast<float>(*row[c]));
      }
    }
    out += '\n';
  }
  return out;
}

size_t MaxCsvRowBytes(const Schema& schema) {
  size_t total = schema.columns.size();  // delimiters and the newline
  for (const ColumnSpec& column : schema.columns) {
    size_t widest = kMaxNumberTextBytes;
    const auto consider = [&widest](const std::string& text) {
      // Neutralised (one quote more) and escaped (quotes doubled, two around) at worst.
      widest = std::max(widest, 2 * (text.size() + 1) + 2);
    };
    for (const std::string& category : column.categories) consider(category);
    for (const std::string& token : column.missing_tokens) consider(token);
    total += widest;
  }
  return total;
}

size_t MaxMatrixCsvRowBytes(int64_t cols) {
  return static_cast<size_t>(std::max<int64_t>(cols, 1)) * (kMaxNumberTextBytes + 1);
}

std::string FormatMatrixCsv(const Matrix& matrix, bool header) {
  std::string out;
  if (header) {
    for (int64_t c = 0; c < matrix.cols; ++c) out += (c ? ",z" : "z") + std::to_string(c + 1);
    out += '\n';
  }
  for (int64_t r = 0; r < matrix.rows; ++r) {
    const float* row = matrix.Row(r);
    for (int64_t c = 0; c < matrix.cols; ++c) {
      if (c > 0) out += ',';
      out += FormatNumber(row[c]);
    }
    out += '\n';
  }
  return out;
}

absl::StatusOr<Matrix> ParseMatrixCsv(std::string_view text, int64_t cols, bool header,
                                      const std::string& source) {
  if (cols <= 0) return absl::InvalidArgumentError("a matrix needs at least one column");
  Matrix matrix(0, cols);
  int line = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view row = text.substr(start, end - start);
    start = end + 1;
    ++line;
    if (header && line == 1) continue;
    const std::string where = source + ":" + std::to_string(line) + ": ";
    int64_t fields = 0;
    size_t field_start = 0;
    while (field_start <= row.size()) {
      const size_t comma = std::min(row.find(',', field_start), row.size());
      double value = 0;
      switch (ParseNumber(row.substr(field_start, comma - field_start), value)) {
        case NumberParse::kOk:
          break;
        case NumberParse::kNotANumber:
          return absl::InvalidArgumentError(where + "field " + std::to_string(fields + 1) +
                                            " is not a number");
        case NumberParse::kNonFinite:
          return absl::InvalidArgumentError(where + "field " + std::to_string(fields + 1) +
                                            " is not finite");
      }
      if (++fields > cols) break;
      matrix.values.push_back(static_cast<float>(value));
      field_start = comma + 1;
    }
    if (fields != cols) {
      return absl::InvalidArgumentError(where + "expected " + std::to_string(cols) +
                                        " numbers per row");
    }
    ++matrix.rows;
  }
  return matrix;
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return absl::PermissionDeniedError("cannot write " + temporary + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return absl::DataLossError("write error on " + temporary + ": " + std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  // fsync before rename: after a crash the file is either the old one or the whole new one
  // (the site relies on this to resend a persisted release byte for byte).
  if (::fsync(fd) != 0 || ::close(fd) != 0) return absl::DataLossError("cannot flush " + temporary);
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error)
    return absl::DataLossError("cannot rename " + temporary + " to " + path + ": " +
                               error.message());
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // make the rename itself durable
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace fedsyn::data
