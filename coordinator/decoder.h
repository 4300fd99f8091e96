// Codes mode at the coordinator: checking a site's published decoder before storing it, and
// decoding its noised codes into records for the pooled export. Decoding is post-processing
// of what the site released, so it costs no privacy; the decoder's sampling draws from the
// coordinator's secure generator.
#ifndef FEDSYN_COORDINATOR_DECODER_H_
#define FEDSYN_COORDINATOR_DECODER_H_

#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/privacy/random.h"

namespace fedsyn::coordinator {

// What a release's decoder must state about its training: the dataset it was trained for (its
// epsilon is charged there) and, for an audited release, the audit job it was trained under
// (so it was trained after the job's canaries existed), and the latent dimension of the
// mechanism the reservation stated (the codes are that mechanism's output). Empty audit_job:
// not audited; latent_dim 0: no mechanism stated (releases reserved before it was part of one).
struct DecoderClaims {
  std::string dataset;
  std::string audit_job;
  int latent_dim = 0;
};

// Parses a published model and checks that it may decode releases of a dataset declared with
// `federation_schema`: a table model, trained with DP-SGD, over exactly the federation's
// domains, stating `claims`. Returns its latent dimension (the width of every codes row).
absl::StatusOr<int> CheckPublishedDecoder(std::string_view model,
                                          const data::Schema& federation_schema,
                                          const DecoderClaims& claims);

// Decodes codes rows (CSV, no header, latent_dim numbers each) through `model` into CSV rows
// (no header) in the federation schema. With `mechanism` (the reservation's
// FormatMechanismParams text) each code is first replaced by a draw of its centre's posterior
// (privacy/code_posterior.h: post-processing, no epsilon); without it (empty) the noised code is
// decoded as it is (also, with a warning, when the mechanism's dimension is not the decoder's:
// only releases stored before the decoder upload checked it).
absl::StatusOr<std::string> DecodeCodesRows(std::string_view model, std::string_view codes_rows,
                                            const data::Schema& federation_schema,
                                            const std::string& mechanism,
                                            privacy::RandomSource& rng);

// Codes mode: where the published encoder puts `records` (its means, rows x latent_dim) — the
// codes the site's mechanism would clip and noise. The canary audit compares the canaries'
// codes with the released codes directly, with no decoder sampling in between.
absl::StatusOr<data::Matrix> EncodeRecords(std::string_view model, const data::Table& records,
                                           const data::Schema& federation_schema);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_DECODER_H_
