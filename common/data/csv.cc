#include "common/data/csv.h"

namespace fedsyn::data {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text, char delimiter, bool trim,
                                                const std::string& source) {
  std::vector<CsvRecord> records;
  size_t pos = 0;
  int line = 1;
  while (pos < text.size()) {
    CsvRecord record;
    record.line = line;
    bool record_done = false;
    bool blank = true;
    while (!record_done) {
      std::string field;
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
      record.fields.push_back(std::move(field));
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
    if (!blank) records.push_back(std::move(record));
  }
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

}  // namespace fedsyn::data
