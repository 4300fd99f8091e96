#include "common/data/csv.h"

#include <charconv>

namespace fedsyn::data {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

absl::Status ForEachCsvRecord(std::string_view text, char delimiter, bool trim,
                              const std::string& source,
                              const std::function<absl::Status(const CsvRecord&)>& visit) {
  CsvRecord record;  // reused: its fields keep their capacity from record to record
  size_t pos = 0;
  int line = 1;
  while (pos < text.size()) {
    record.line = line;
    size_t fields = 0;
    bool record_done = false;
    bool blank = true;
    while (!record_done) {
      if (fields == record.fields.size()) record.fields.emplace_back();
      std::string& field = record.fields[fields++];
      field.clear();
      // Skip leading spaces before a possible opening quote.
      size_t start = pos;
      while (trim && start < text.size() && (text[start] == ' ' || text[start] == '\t')) ++start;
      if (start < text.size() && text[start] == '"') {
        blank = false;
        pos = start + 1;
        for (;;) {
          if (pos >= text.size()) {
            return absl::InvalidArgumentError(source + ":" + std::to_string(record.line) +
                                              ": unterminated quoted field");
          }
          const char c = text[pos++];
          if (c == '"') {
            if (pos < text.size() && text[pos] == '"') {
              field += '"';
              ++pos;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        // After the closing quote only spaces, then a delimiter or end of line, may follow.
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r'))
          ++pos;
        if (pos < text.size() && text[pos] != delimiter && text[pos] != '\n') {
          return absl::InvalidArgumentError(source + ":" + std::to_string(line) +
                                            ": unexpected text after a closing quote");
        }
      } else {
        size_t end = pos;
        while (end < text.size() && text[end] != delimiter && text[end] != '\n') ++end;
        std::string_view raw = text.substr(pos, end - pos);
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        if (trim) raw = TrimSpaces(raw);
        if (!raw.empty() || (end < text.size() && text[end] == delimiter)) blank = false;
        field.assign(raw);
        pos = end;
      }
      if (pos >= text.size()) {
        record_done = true;
      } else if (text[pos] == delimiter) {
        ++pos;
      } else {  // newline
        ++pos;
        ++line;
        record_done = true;
      }
    }
    record.fields.resize(fields);
    if (!blank) RETURN_IF_ERROR(visit(record));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text, char delimiter, bool trim,
                                                const std::string& source) {
  std::vector<CsvRecord> records;
  RETURN_IF_ERROR(ForEachCsvRecord(text, delimiter, trim, source, [&](const CsvRecord& record) {
    records.push_back(record);
    return absl::OkStatus();
  }));
  return records;
}

std::string EscapeCsvField(std::string_view field, char delimiter) {
  const bool needs_quotes =
      field.find_first_of(std::string{delimiter, '"', '\n', '\r'}) != std::string_view::npos ||
      (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!needs_quotes) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

bool IsFormulaLike(std::string_view field) {
  if (field.empty() || std::string_view("=+-@\t\r").find(field.front()) == std::string_view::npos)
    return false;
  // A plain number is data, not a formula: from_chars takes no leading '+', so skip one.
  std::string_view number = field;
  if (number.front() == '+') number.remove_prefix(1);
  double value = 0.0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  const bool plain_number =
      !number.empty() && error == std::errc() && end == number.data() + number.size();
  return !plain_number;
}

std::string NeutraliseFormula(std::string_view field) {
  return IsFormulaLike(field) ? "'" + std::string(field) : std::string(field);
}

std::string_view RestoreFormula(std::string_view field) {
  if (field.size() > 1 && field.front() == '\'' && IsFormulaLike(field.substr(1)))
    return field.substr(1);
  return field;
}

absl::StatusOr<std::string> NeutraliseFormulas(std::string_view text, char delimiter,
                                               const std::string& source) {
  ASSIGN_OR_RETURN(const std::vector<CsvRecord> records,
                   ParseCsv(text, delimiter, /*trim=*/false, source));
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (const CsvRecord& record : records) {
    for (size_t f = 0; f < record.fields.size(); ++f) {
      if (f > 0) out += delimiter;
      out += EscapeCsvField(NeutraliseFormula(record.fields[f]), delimiter);
    }
    out += '\n';
  }
  return out;
}

}  // namespace fedsyn::data
