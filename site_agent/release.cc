#include "site_agent/release.h"

#include <cmath>
#include <cstdio>
#include <span>

#include "common/privacy/distributions.h"

namespace fedsyn::site {

absl::StatusOr<data::Table> SampleTableFromPrior(const model::ModelBundle& bundle, int64_t rows,
                                                 data::DecodingMode decoding,
                                                 privacy::RandomSource& rng) {
  if (bundle.kind != model::DataKind::kTable)
    return absl::InvalidArgumentError("this model was trained on images, not a table");
  if (rows < 0) return absl::InvalidArgumentError("rows must be >= 0");
  data::Matrix codes(rows, bundle.vae->spec().latent_dim);
  privacy::FillNormal(rng, 1.0, codes.values);
  return model::DecodeTable(bundle, codes, decoding, [&rng] { return rng.UniformOpen01(); });
}

absl::StatusOr<data::Matrix> PrivatizeCodes(const data::Matrix& codes,
                                            const privacy::MetricMechanism& mechanism,
                                            privacy::RandomSource& rng, ReleaseCounts& counts) {
  const auto& params = mechanism.params();
  if (codes.cols != params.dimension) {
    return absl::InvalidArgumentError(
        "latent dimension of the model (" + std::to_string(codes.cols) +
        ") does not match the mechanism (" + std::to_string(params.dimension) + ")");
  }
  data::Matrix noised(codes.rows, codes.cols);
  std::vector<double> code(static_cast<size_t>(codes.cols));
  for (int64_t r = 0; r < codes.rows; ++r) {
    const float* in = codes.Row(r);
    for (int64_t c = 0; c < codes.cols; ++c) code[static_cast<size_t>(c)] = in[c];
    if (privacy::Norm(code, params.metric) > params.clip_radius) ++counts.clipped_codes;
    ASSIGN_OR_RETURN(const std::vector<double> released, mechanism.Release(code, rng));
    float* out = noised.Row(r);
    // Narrowing the released value to float is post-processing of the released value.
    for (int64_t c = 0; c < codes.cols; ++c)
      out[c] = static_cast<float>(released[static_cast<size_t>(c)]);
  }
  counts.records += codes.rows;
  return noised;
}

absl::StatusOr<TableRelease> ReleaseTableCodes(const model::ModelBundle& bundle,
                                               const data::Table& records,
                                               const privacy::MetricMechanism& mechanism,
                                               privacy::RandomSource& rng) {
  TableRelease result;
  ASSIGN_OR_RETURN(const data::Matrix codes, model::EncodeTable(bundle, records));
  ASSIGN_OR_RETURN(result.noised_codes, PrivatizeCodes(codes, mechanism, rng, result.counts));
  return result;
}

absl::StatusOr<TableRelease> ReleaseTable(const model::ModelBundle& bundle,
                                          const data::Table& records,
                                          const privacy::MetricMechanism& mechanism,
                                          data::DecodingMode decoding,
                                          privacy::CodeDecoding code_decoding,
                                          privacy::RandomSource& rng) {
  ASSIGN_OR_RETURN(TableRelease result, ReleaseTableCodes(bundle, records, mechanism, rng));
  data::Matrix decoded_codes = result.noised_codes;
  RETURN_IF_ERROR(
      privacy::ApplyCodeDecoding(code_decoding, mechanism.params(), decoded_codes.values, rng));
  ASSIGN_OR_RETURN(result.synthetic, model::DecodeTable(bundle, decoded_codes, decoding,
                                                        [&rng] { return rng.UniformOpen01(); }));
  return result;
}

absl::StatusOr<ImageRelease> ReleaseImages(
    const model::ModelBundle& bundle, const data::ImageSet& images,
    const std::vector<uint8_t>& labels, const privacy::MetricMechanism& mechanism,
    const std::optional<privacy::RandomizedResponse>& label_rr, privacy::CodeDecoding code_decoding,
    privacy::RandomSource& rng) {
  if (bundle.kind != model::DataKind::kImage)
    return absl::InvalidArgumentError("this model was trained on a table, not images");
  if (images.height != bundle.image.height || images.width != bundle.image.width) {
    return absl::InvalidArgumentError("image size does not match the model");
  }
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != images.count) {
    return absl::InvalidArgumentError("label count does not match image count");
  }
  if (!labels.empty() && !label_rr) {
    return absl::FailedPreconditionError(
        "labels can only be released through randomized response (set a label epsilon)");
  }
  ImageRelease result;
  const data::Matrix codes = bundle.vae->EncodeMean(data::ImagesToMatrix(images));
  ASSIGN_OR_RETURN(data::Matrix noised, PrivatizeCodes(codes, mechanism, rng, result.counts));
  RETURN_IF_ERROR(
      privacy::ApplyCodeDecoding(code_decoding, mechanism.params(), noised.values, rng));
  data::Matrix intensities = bundle.vae->DecodeLogits(noised);
  for (float& v : intensities.values) v = 1.0f / (1.0f + std::exp(-v));
  result.images = data::MatrixToImages(intensities, images.height, images.width);
  for (uint8_t label : labels) {
    if (label >= bundle.image.num_classes)
      return absl::InvalidArgumentError("label outside the declared classes");
    result.labels.push_back(static_cast<uint8_t>(label_rr->Privatize(label, rng)));
  }
  return result;
}

}  // namespace fedsyn::site
