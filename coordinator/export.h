// The pooled synthetic data of a dataset, as the operator exports it, and the building blocks
// the audits share with it.
#ifndef FEDSYN_COORDINATOR_EXPORT_H_
#define FEDSYN_COORDINATOR_EXPORT_H_

#include <string>
#include <vector>

#include "common/data/table_io.h"
#include "common/privacy/random.h"
#include "coordinator/federation.h"
#include "coordinator/storage.h"

namespace fedsyn::coordinator {

// A committed release's rows as records: CSV lines (no header) in the federation schema.
// Codes-mode releases are decoded through their published decoder, sampling from `rng`
// (post-processing: no privacy cost). Canary-derived rows are still in.
absl::StatusOr<std::string> ReleaseRecordsCsv(Storage& storage, const DatasetDeclaration& dataset,
                                              const ReleaseRecord& release,
                                              privacy::RandomSource& rng);

// `rows` (CSV lines) without the lines at `positions` (0-based, ascending).
std::string WithoutRows(const std::string& rows, const std::vector<int64_t>& positions);

struct PooledExport {
  std::string csv;
  std::vector<std::string> exported;   // release ids, in commit order
  std::vector<std::string> held_back;  // committed but held back by the release gate
  int64_t canary_rows_removed = 0;
};

// The pooled CSV of `dataset`: a header, then the rows of every committed release the release
// gate lets through (release_gate.h: audit passed, or approved by an operator), in commit order,
// each without its canary-derived rows; with `with_site_column`, a first column "site".
// Uncommitted releases never appear.
absl::StatusOr<PooledExport> ExportPooledCsv(
    Storage& storage, const CoordinatorConfig& config, const std::string& dataset,
    bool with_site_column, privacy::RandomSource& rng,
    data::FormulaCells cells = data::FormulaCells::kNeutralise);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_EXPORT_H_
