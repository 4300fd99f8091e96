// The marginal generator as a site command (issue #13): read the site's table, fit the private
// graphical model of common/synth/marginal_model.h under the whole (epsilon, delta) budget,
// sample synthetic rows, write them with a manifest. No row of the output is derived from one
// input row, so the release has no per-record part: its guarantee is the fit's.
#ifndef FEDSYN_SITE_AGENT_MARGINAL_RELEASE_H_
#define FEDSYN_SITE_AGENT_MARGINAL_RELEASE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "common/base/status.h"
#include "common/data/csv.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/random.h"
#include "common/synth/marginal_model.h"

namespace fedsyn::site {

// The most rows one synthesis samples: the output is built in memory (about 200 bytes a row for a
// table like Adult), so this keeps a mistyped --rows from exhausting it.
inline constexpr int64_t kMaxSampledRows = 10'000'000;

struct MarginalSynthesisRequest {
  std::string input_csv;
  std::string schema_path;
  std::string output;  // CSV; the manifest goes to OUTPUT.manifest.json
  double epsilon = 0;  // the whole release's epsilon
  // Unset: privacy::ResolveDelta's default min(1e-6, 1/(10 n)); refused at 1/n or more.
  std::optional<double> delta;
  // Rows to sample; 0: as many as the input has privacy units' rows (public under
  // replace-one, where the size of the table is not secret).
  int64_t rows = 0;
  synth::MarginalOptions options;
  data::FormulaCells formula_cells = data::FormulaCells::kNeutralise;
};

struct MarginalSynthesisSummary {
  std::string output, manifest_path;
  int64_t rows = 0;
  privacy::Charge charge;  // all of it the model's: the epsilon, rounded up, and delta
  double delta = 0;
  std::string delta_warning;
  std::string guarantee_summary;  // one line, as in the manifest
  synth::MarginalFitReport fit;
  data::ReadReport read_report;
};

// The input read and validated, the exact charge and delta decided; nothing measured yet, so a
// ledger may still refuse the synthesis with nothing disclosed. Contribution bounding (which
// rows of a person are kept) is drawn here from the secure generator.
struct PreparedMarginalSynthesis {
  data::Schema schema;
  data::ReadResult input;  // one privacy unit's rows at most max_rows_per_person
  int64_t rows_dropped = 0;
  double delta = 0;
  std::string delta_warning;
  privacy::Charge charge;  // all of it the model's: the epsilon, rounded up, and delta
  int64_t input_rows = 0;  // the site's rows (before an audit's canaries join them)
  // One line, as the manifest and the agent state the guarantee: public parameters only (the
  // fit's rho is ZcdpRhoFor(epsilon, delta), known before it runs).
  std::string guarantee_summary;
  // As many as requested, or (request.rows 0) as the site's input has rows.
  int64_t RowsToSample(const MarginalSynthesisRequest& request) const {
    return request.rows > 0 ? request.rows : input_rows;
  }
};
absl::StatusOr<PreparedMarginalSynthesis> PrepareMarginalSynthesis(
    const MarginalSynthesisRequest& request, privacy::RandomSource& secure);

// Measures, fits, samples and writes output and manifest. Every random choice (noise, selection,
// sampling) comes from `secure`.
absl::StatusOr<MarginalSynthesisSummary> GenerateMarginalSynthesis(
    const MarginalSynthesisRequest& request, const PreparedMarginalSynthesis& prepared,
    privacy::RandomSource& secure);

// Prepare, then generate: the offline synthesis.
absl::StatusOr<MarginalSynthesisSummary> RunMarginalSynthesis(
    const MarginalSynthesisRequest& request, privacy::RandomSource& secure);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_MARGINAL_RELEASE_H_
