// A small RFC 4180 CSV tokenizer: quoted fields with "" escapes (which may span lines),
// configurable delimiter, optional trimming of spaces around unquoted fields. It knows nothing
// about schemas; table_io.h gives fields their meaning.
#ifndef FEDSYN_COMMON_DATA_CSV_H_
#define FEDSYN_COMMON_DATA_CSV_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::data {

struct CsvRecord {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// A record as ForEachCsvRecord hands it over: its fields are views, valid only during the
// visit, into the text or into the scan's own buffer for a quoted field.
struct CsvRecordView {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string_view> fields;
};

// Splits `text` into records. Blank lines are skipped (they hold no record). Returns
// InvalidArgument naming `source` and the line for an unterminated quote or text after a
// closing quote.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text, char delimiter, bool trim,
                                                const std::string& source);

// The same records one at a time, without holding them all or copying their fields: `visit`
// sees each record and may stop the scan by returning an error, which is returned as is. For
// texts too large to hold twice (an upload chunk, a large file).
absl::Status ForEachCsvRecord(std::string_view text, char delimiter, bool trim,
                              const std::string& source,
                              const std::function<absl::Status(const CsvRecordView&)>& visit);

// Quotes a field when it contains the delimiter, a quote, a newline or edge spaces.
std::string EscapeCsvField(std::string_view field, char delimiter);

// Spreadsheet formula injection (CWE-1236): Excel and LibreOffice run a cell that starts with
// '=', '+', '-', '@', a tab or a carriage return as a formula. fedsyn's human-facing CSV files
// (`release`, `export`) therefore write such a text value or column name with a leading single
// quote (the spreadsheets' own "this is text" marker). A value that is a plain number, negative
// ones included ("-1.5", "+3", "-2e5"), is never altered.
bool IsFormulaLike(std::string_view field);
// `field` with a leading quote when IsFormulaLike; idempotent.
std::string NeutraliseFormula(std::string_view field);
// The inverse, used by every reader: "'=x" reads as "=x" (only when the rest is formula-like,
// so a genuine leading quote is kept). Files fedsyn wrote read back under their schema.
std::string_view RestoreFormula(std::string_view field);
// NeutraliseFormula applied to every field of a CSV text; fields are re-escaped, one record per
// line. Errors as ParseCsv's.
absl::StatusOr<std::string> NeutraliseFormulas(std::string_view text, char delimiter,
                                               const std::string& source);

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_CSV_H_
