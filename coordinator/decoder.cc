#include "coordinator/decoder.h"

#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "common/privacy/code_posterior.h"
#include "spdlog/spdlog.h"

namespace fedsyn::coordinator {
namespace {

absl::StatusOr<model::ModelBundle> LoadDecoder(std::string_view model,
                                               const data::Schema& federation_schema) {
  ASSIGN_OR_RETURN(model::ModelBundle bundle, model::ParseModelBundle(model, "published decoder"));
  if (bundle.kind != model::DataKind::kTable) {
    return absl::InvalidArgumentError("the published decoder is not a table model");
  }
  if (!bundle.model_private) {
    return absl::FailedPreconditionError(
        "the published decoder was trained without differential privacy; codes mode needs DP-SGD");
  }
  if (absl::Status same = data::CheckSameDomains(*bundle.schema, federation_schema); !same.ok()) {
    return absl::InvalidArgumentError(
        "the published decoder's schema differs from the federation's: " +
        std::string(same.message()));
  }
  return bundle;
}

}  // namespace

absl::StatusOr<int> CheckPublishedDecoder(std::string_view model,
                                          const data::Schema& federation_schema,
                                          const DecoderClaims& claims) {
  ASSIGN_OR_RETURN(const model::ModelBundle bundle, LoadDecoder(model, federation_schema));
  if (model::TrainingParameterText(bundle, "dataset") != claims.dataset) {
    return absl::FailedPreconditionError("the published decoder was not trained for dataset " +
                                         claims.dataset + " (its epsilon is charged there)");
  }
  if (!claims.audit_job.empty() &&
      model::TrainingParameterText(bundle, "audit_job") != claims.audit_job) {
    return absl::FailedPreconditionError(
        "the published decoder was not trained under the release's audit job " + claims.audit_job);
  }
  const int latent_dim = bundle.vae->spec().latent_dim;
  if (claims.latent_dim != 0 && latent_dim != claims.latent_dim) {
    // The codes would not be the stated mechanism's output: its epsilon would not describe them.
    return absl::InvalidArgumentError(
        "the published decoder's latent dimension (" + std::to_string(latent_dim) +
        ") differs from the reservation's mechanism's (" + std::to_string(claims.latent_dim) + ")");
  }
  return latent_dim;
}

absl::StatusOr<std::string> DecodeCodesRows(std::string_view model, std::string_view codes_rows,
                                            const data::Schema& federation_schema,
                                            const std::string& mechanism,
                                            privacy::RandomSource& rng) {
  ASSIGN_OR_RETURN(const model::ModelBundle bundle, LoadDecoder(model, federation_schema));
  ASSIGN_OR_RETURN(data::Matrix codes,
                   data::ParseMatrixCsv(codes_rows, bundle.vae->spec().latent_dim,
                                        /*header=*/false, "stored codes"));
  if (!mechanism.empty()) {
    ASSIGN_OR_RETURN(const privacy::MetricMechanismParams params,
                     privacy::ParseMechanismParams(mechanism));
    if (params.dimension == bundle.vae->spec().latent_dim) {
      RETURN_IF_ERROR(privacy::ApplyCodeDecoding(privacy::CodeDecoding::kPosteriorSample, params,
                                                 codes.values, rng));
    } else {
      // The reservation's mechanism does not describe these codes (stored before the decoder
      // upload checked the dimension): decode them as they are.
      spdlog::warn(
          "a codes release states a {}-dimensional mechanism for a {}-dimensional "
          "decoder; decoding its noised codes without posterior draws",
          params.dimension, bundle.vae->spec().latent_dim);
    }
  }
  ASSIGN_OR_RETURN(const data::Table records,
                   model::DecodeTable(bundle, codes, data::DecodingMode::kSample,
                                      [&rng] { return rng.UniformOpen01(); }));
  const std::string csv =
      data::FormatCsvTable(records, federation_schema, data::FormulaCells::kKeep);
  return csv.substr(csv.find('\n') + 1);  // without the header
}

absl::StatusOr<data::Matrix> EncodeRecords(std::string_view model, const data::Table& records,
                                           const data::Schema& federation_schema) {
  ASSIGN_OR_RETURN(const model::ModelBundle bundle, LoadDecoder(model, federation_schema));
  return model::EncodeTable(bundle, records);
}

}  // namespace fedsyn::coordinator
