// The JSON manifest written beside every release (format "fedsyn-release-manifest" v1).
// Sections:
//   guarantee  - what the release promises per record: eps_release (codes + labels), the
//                model's part ("not private" or its (eps, delta)), the total, and the charge
//                in exact micro-epsilon units;
//   mechanism  - the parameters that produced eps_release;
//   output     - files with SHA-256 and row counts;
//   site_only  - facts computed from the private data (input hash, clamped, missing and clipped
//                counts). They are for the data steward and are NOT covered by the guarantee:
//                never forward this section off-site.
#ifndef FEDSYN_SITE_AGENT_MANIFEST_H_
#define FEDSYN_SITE_AGENT_MANIFEST_H_

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/metric_mechanism.h"
#include "common/synth/marginal_model.h"
#include "nlohmann/json.hpp"
#include "site_agent/release.h"

namespace fedsyn::site {

inline constexpr int kManifestVersion = 1;

nlohmann::json MechanismJson(const privacy::MetricMechanism& mechanism);

// The guarantee as the manifest states it: `guarantee` for the per-row terms and the summary,
// `charge` (made from it when the release was prepared) for every micro-epsilon figure.
absl::StatusOr<nlohmann::json> GuaranteeJson(const Guarantee& guarantee,
                                             const privacy::Charge& charge);

// {"path", "sha256", "bytes"} of a file on disk.
absl::StatusOr<nlohmann::json> FileJson(const std::string& path);

std::string UtcTimestamp();

// The public description of a marginal-model fit: accounting, noise scales, shares, bins and the
// tables measured (common/synth/marginal_model.h).
nlohmann::json MarginalFitJson(const synth::MarginalFitReport& fit,
                               const synth::MarginalOptions& options);

// The reader's counts per column (clamped and missing values): site-only facts.
nlohmann::json ReadReportJson(const data::ReadReport& report, const data::Schema& schema);

// InvalidArgument if an output path names one of the inputs (a release must never overwrite
// the private input or the model it is made from).
absl::Status CheckOutputsAreNotInputs(const std::vector<std::string>& outputs,
                                      const std::vector<std::string>& inputs);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_MANIFEST_H_
