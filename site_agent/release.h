// The release step of DESIGN.md §2, in memory: encode each record to its mean code, clip,
// round, add metric-privacy noise (privacy/metric_mechanism.h), decode the noised code into a
// synthetic record. Every output record depends on its source record only through its noised
// code (and, for images, a randomized-response label), so the per-record guarantee is the
// mechanism's, plus the model's own (DESIGN.md §2.4).
#ifndef FEDSYN_SITE_AGENT_RELEASE_H_
#define FEDSYN_SITE_AGENT_RELEASE_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/data/idx.h"
#include "common/data/table.h"
#include "common/data/transformer.h"
#include "common/model/model_bundle.h"
#include "common/privacy/code_posterior.h"
#include "common/privacy/guarantee.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/random.h"
#include "common/privacy/randomized_response.h"
#include "common/privacy/release_mode.h"

namespace fedsyn::site {

// What leaves the site. kSynthetic: decoded records. kCodes: the noised codes plus the
// published decoder (model_bundle.h), which the recipient decodes itself; allowed only for a
// DP-trained model, since the decoder is then released too (DESIGN.md §2.4). Both cost the
// same epsilon: decoding is post-processing.
// kModelOnly: no record is encoded; codes are drawn from the VAE's prior N(0, I) and decoded, as
// many as the input has rows (public under replace-one). The release adds nothing to the
// model's epsilon and keeps no link to any record; only a DP-trained model makes it private.
// (The modes and their names are privacy::ReleaseMode's; the site uses them by these names.)
using privacy::ReleaseMode;
using privacy::ReleaseModeName;

// What one release promises (common/privacy/guarantee.h); its micro-epsilon form is
// privacy::Charge, made from it once where the release is prepared.
using privacy::Guarantee;

// Mechanism-related counts. They depend on the private data and stay at the site.
struct ReleaseCounts {
  int64_t records = 0;
  int64_t clipped_codes = 0;
};

// Noises every row of `codes` (rows x k) with `mechanism`. Fails without partial output.
absl::StatusOr<data::Matrix> PrivatizeCodes(const data::Matrix& codes,
                                            const privacy::MetricMechanism& mechanism,
                                            privacy::RandomSource& rng, ReleaseCounts& counts);

struct TableRelease {
  data::Matrix noised_codes;  // what codes mode releases (with the published decoder)
  data::Table synthetic;      // what synthetic mode releases: the noised codes decoded
  ReleaseCounts counts;
};
// Codes mode: encode and noise only.
absl::StatusOr<TableRelease> ReleaseTableCodes(const model::ModelBundle& bundle,
                                               const data::Table& records,
                                               const privacy::MetricMechanism& mechanism,
                                               privacy::RandomSource& rng);
// Synthetic mode: encode, noise, decode what `code_decoding` makes of each noised code (the
// code itself, or the posterior of its centre: privacy/code_posterior.h). `synthetic` is the
// decoded table; `noised_codes` stays the released codes.
absl::StatusOr<TableRelease> ReleaseTable(const model::ModelBundle& bundle,
                                          const data::Table& records,
                                          const privacy::MetricMechanism& mechanism,
                                          data::DecodingMode decoding,
                                          privacy::CodeDecoding code_decoding,
                                          privacy::RandomSource& rng);

// Model-only mode: `rows` codes from N(0, I), decoded (tables).
absl::StatusOr<data::Table> SampleTableFromPrior(const model::ModelBundle& bundle, int64_t rows,
                                                 data::DecodingMode decoding,
                                                 privacy::RandomSource& rng);

struct ImageRelease {
  data::ImageSet images;
  std::vector<uint8_t> labels;
  ReleaseCounts counts;
};
// Images are decoded to their expected pixel intensities; labels (if given) pass through
// randomized response, which must then be supplied.
absl::StatusOr<ImageRelease> ReleaseImages(
    const model::ModelBundle& bundle, const data::ImageSet& images,
    const std::vector<uint8_t>& labels, const privacy::MetricMechanism& mechanism,
    const std::optional<privacy::RandomizedResponse>& label_rr, privacy::CodeDecoding code_decoding,
    privacy::RandomSource& rng);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_RELEASE_H_
