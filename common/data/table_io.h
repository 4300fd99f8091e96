// Reading and writing tables as CSV under a schema. Every value is checked against the
// declared domain before any training; the first bad value stops the read with an error that
// names file, line, column and reason. Nothing is dropped silently: clamped values and missing
// values are counted per column in the ReadReport, which the manifest records.
#ifndef FEDSYN_COMMON_DATA_TABLE_IO_H_
#define FEDSYN_COMMON_DATA_TABLE_IO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"

namespace fedsyn::data {

struct ColumnReport {
  int64_t missing = 0;
  int64_t clamped = 0;
};

struct ReadReport {
  int64_t rows = 0;
  std::vector<ColumnReport> columns;  // one per schema column
  int64_t TotalClamped() const;
  int64_t TotalMissing() const;
};

struct ReadResult {
  Table table;
  ReadReport report;
  // When the schema declares a person identifier: each row's raw identifier token, aligned with
  // table.rows. Private (site-only); never written out.
  std::vector<std::string> person_ids;
};

// Parses CSV text under `schema`. `format` overrides the schema's [csv] section (used to read
// back fedsyn's own output, which always has a header). `source` names the text in errors.
absl::StatusOr<ReadResult> ParseCsvTable(const std::string& text, const Schema& schema,
                                         const std::string& source,
                                         const std::optional<CsvFormat>& format = std::nullopt);
// ParseCsvTable's checks and report without keeping the rows: what the coordinator needs of an
// uploaded chunk, at a fraction of the memory (one row at a time).
absl::StatusOr<ReadReport> CheckCsvTable(const std::string& text, const Schema& schema,
                                         const std::string& source,
                                         const std::optional<CsvFormat>& format = std::nullopt);

absl::StatusOr<ReadResult> ReadCsvTable(const std::string& path, const Schema& schema,
                                        const std::optional<CsvFormat>& format = std::nullopt);

// Every file read as ReadCsvTable does (the schema's own format), their rows pooled in order.
// InvalidArgument for no file.
absl::StatusOr<Table> ReadPooledCsvTables(const std::vector<std::string>& paths,
                                          const Schema& schema);

// The CSV format fedsyn writes: header line of column names, comma-delimited.
CsvFormat OutputCsvFormat();
// The same without the header line: the rows fedsyn sends between agent and coordinator
// (upload chunks, canaries).
CsvFormat HeaderlessCsvFormat();

// What FormatCsvTable does with text that a spreadsheet would run as a formula (csv.h).
enum class FormulaCells {
  kNeutralise,  // files for people (release, export): a leading quote; the default of the CLIs
  kKeep,  // rows between programs (upload chunks, canaries, decoded codes), and --keep-formulas
};

// Writes `table` with a header; ignored columns are written empty (their content was never
// read into the model). Returns the CSV text. ParseCsvTable reads either form back.
std::string FormatCsvTable(const Table& table, const Schema& schema, FormulaCells cells);

// Bounds on the bytes one row takes in the forms above (header excluded): numbers in their
// shortest text take at most kMaxNumberTextBytes, text values their escaped length, plus the
// delimiters and the newline. A receiver that counts rows refuses more bytes than its rows can
// need (issue #12, F7: bytes stored per reservation stay proportional to its rows).
inline constexpr size_t kMaxNumberTextBytes = 32;
size_t MaxCsvRowBytes(const Schema& schema);
size_t MaxMatrixCsvRowBytes(int64_t cols);

// A numeric matrix as CSV (codes mode's noised latent codes): a header `z1,...,zk` when
// `header` is set, then one row per line, each value in its shortest exact float text.
std::string FormatMatrixCsv(const Matrix& matrix, bool header);
// Parses FormatMatrixCsv output (with or without its header, as `header` says). Every row
// must hold exactly `cols` finite numbers; errors name `source` and the line.
absl::StatusOr<Matrix> ParseMatrixCsv(std::string_view text, int64_t cols, bool header,
                                      const std::string& source);

// Writes text to `path` atomically and durably (temporary file, fsync, rename, fsync of the
// folder), so a crash never leaves a half-written output that looks complete. Mode 0600:
// outputs derived from private data are readable by their owner only.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content);

absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_TABLE_IO_H_
