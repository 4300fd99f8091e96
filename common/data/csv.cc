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
                              const std::function<absl::Status(const CsvRecordView&)>& visit) {
  // Where each field's bytes are: unquoted fields are views of `text` as they stand; quoted
  // ones, once their "" escapes are undone, are copied into `unquoted`, whose buffer may move
  // while the record grows, so their views are made when the record is complete.
  struct Span {
    bool quoted;
    size_t offset;
    size_t size;
  };
  std::vector<Span> spans;  // reused: keeps its capacity from record to record
  std::string unquoted;
  CsvRecordView record;
  size_t pos = 0;
  int line = 1;
  while (pos < text.size()) {
    record.line = line;
    spans.clear();
    unquoted.clear();
    bool record_done = false;
    bool blank = true;
    while (!record_done) {
      // Skip leading spaces before a possible opening quote.
      size_t start = pos;
      while (trim && start < text.size() && (text[start] == ' ' || text[start] == '\t')) ++start;
      if (start < text.size() && text[start] == '"') {
        blank = false;
        const size_t offset = unquoted.size();
        pos = start + 1;
        for (;;) {
          if (pos >= text.size()) {
            return absl::InvalidArgumentError(source + ":" + std::to_string(record.line) +
                                              ": unterminated quoted field");
          }
          const char c = text[pos++];
          if (c == '"') {
            if (pos < text.size() && text[pos] == '"') {
              unquoted += '"';
              ++pos;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            unquoted += c;
          }
        }
        spans.push_back({true, offset, unquoted.size() - offset});
        // After the closing quote only spaces, then a delimiter or end of line, may follow.
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r'))
          ++pos;
        if (pos < text.size() && text[pos] != delimiter && text[pos] != '\n') {
          return absl::InvalidArgumentError(source + ":" + std::to_string(line) +
                                            ": unexpected text after a closing quote");
        }
      } else {
        const char* const begin = text.data() + pos;
        const char* const end_of_text = text.data() + text.size();
        const char* end = begin;
        while (end != end_of_text && *end != delimiter && *end != '\n') ++end;
        std::string_view raw(begin, static_cast<size_t>(end - begin));
        pos = static_cast<size_t>(end - text.data());
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        if (trim) raw = TrimSpaces(raw);
        if (!raw.empty() || (pos < text.size() && text[pos] == delimiter)) blank = false;
        spans.push_back({false, static_cast<size_t>(raw.data() - text.data()), raw.size()});
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
    if (blank) continue;
    record.fields.resize(spans.size());
    for (size_t f = 0; f < spans.size(); ++f) {
      const Span& span = spans[f];
      record.fields[f] =
          (span.quoted ? std::string_view(unquoted) : text).substr(span.offset, span.size);
    }
    RETURN_IF_ERROR(visit(record));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text, char delimiter, bool trim,
                                                const std::string& source) {
  std::vector<CsvRecord> records;
  RETURN_IF_ERROR(ForEachCsvRecord(text, delimiter, trim, source, [&](const CsvRecordView& view) {
    records.push_back(
        {view.line, std::vector<std::string>(view.fields.begin(), view.fields.end())});
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
