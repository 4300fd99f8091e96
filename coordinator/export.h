// The pooled synthetic data of a dataset, as the operator exports it.
#ifndef FEDSYN_COORDINATOR_EXPORT_H_
#define FEDSYN_COORDINATOR_EXPORT_H_

#include <string>

#include "common/privacy/random.h"
#include "coordinator/federation.h"
#include "coordinator/storage.h"

namespace fedsyn::coordinator {

// The pooled CSV of `dataset`: a header, then the rows of every committed release in commit
// order; with `with_site_column`, a first column "site". Uncommitted releases never appear.
// Codes-mode releases are decoded through their published decoder, sampling from `rng`.
absl::StatusOr<std::string> ExportPooledCsv(Storage& storage, const CoordinatorConfig& config,
                                            const std::string& dataset, bool with_site_column,
                                            privacy::RandomSource& rng);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_EXPORT_H_
