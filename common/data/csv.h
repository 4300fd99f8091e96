// A small RFC 4180 CSV tokenizer: quoted fields with "" escapes (which may span lines),
// configurable delimiter, optional trimming of spaces around unquoted fields. It knows nothing
// about schemas; table_io.h gives fields their meaning.
#ifndef FEDSYN_COMMON_DATA_CSV_H_
#define FEDSYN_COMMON_DATA_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::data {

struct CsvRecord {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Splits `text` into records. Blank lines are skipped (they hold no record). Returns
// InvalidArgument naming `source` and the line for an unterminated quote or text after a
// closing quote.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text, char delimiter, bool trim,
                                                const std::string& source);

// Quotes a field when it contains the delimiter, a quote, a newline or edge spaces.
std::string EscapeCsvField(std::string_view field, char delimiter);

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_CSV_H_
