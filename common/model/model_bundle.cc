#include "common/model/model_bundle.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace fedsyn::model {

using Json = nlohmann::json;

namespace {

Json Metadata(const ModelBundle& bundle, const Json& training) {
  Json metadata;
  metadata["kind"] = bundle.kind == DataKind::kTable ? "table" : "image";
  if (bundle.kind == DataKind::kTable) {
    metadata["schema_toml"] = bundle.schema->toml_text;
    metadata["numeric_layout"] = data::NumericLayoutName(bundle.transformer->numeric_layout());
  } else {
    metadata["image"] = {{"height", bundle.image.height},
                         {"width", bundle.image.width},
                         {"num_classes", bundle.image.num_classes}};
  }
  metadata["training"] = training;
  metadata["model_private"] = bundle.model_private;
  if (bundle.model_private) {
    metadata["model_epsilon"] = bundle.model_epsilon;
    metadata["model_delta"] = bundle.model_delta;
    metadata["neighbouring_relation"] = ModelRelationName();
  }
  return metadata;
}

absl::StatusOr<ModelBundle> FromMetadata(std::unique_ptr<Vae> vae, const std::string& metadata_text,
                                         const std::string& origin) {
  ASSIGN_OR_RETURN(BundleMetadata metadata,
                   ParseBundleMetadata(metadata_text, vae->spec().input_width, origin));
  ModelBundle bundle;
  bundle.kind = metadata.kind;
  bundle.vae = std::move(vae);
  bundle.schema = std::move(metadata.schema);
  bundle.transformer = std::move(metadata.transformer);
  bundle.image = metadata.image;
  bundle.training = std::move(metadata.training);
  bundle.model_private = metadata.model_private;
  bundle.model_epsilon = metadata.model_epsilon;
  bundle.model_delta = metadata.model_delta;
  return bundle;
}

}  // namespace

std::string TrainingParameterText(const ModelBundle& bundle, const std::string& key) {
  const auto parameters = bundle.training.find("parameters");
  if (parameters == bundle.training.end() || !parameters->is_object()) return "";
  const auto it = parameters->find(key);
  return it != parameters->end() && it->is_string() ? it->get<std::string>() : "";
}

absl::Status SaveModelBundle(const std::string& path, const ModelBundle& bundle) {
  return bundle.vae->Save(path, Metadata(bundle, bundle.training).dump());
}

absl::StatusOr<ModelBundle> LoadModelBundle(const std::string& path) {
  std::string metadata_text;
  ASSIGN_OR_RETURN(std::unique_ptr<Vae> vae, Vae::Load(path, &metadata_text));
  return FromMetadata(std::move(vae), metadata_text, path);
}

absl::StatusOr<ModelBundle> ParseModelBundle(std::string_view bytes, const std::string& origin) {
  std::string metadata_text;
  ASSIGN_OR_RETURN(std::unique_ptr<Vae> vae, Vae::Deserialize(bytes, origin, &metadata_text));
  return FromMetadata(std::move(vae), metadata_text, origin);
}

absl::StatusOr<std::string> PublishedModelBytes(const ModelBundle& bundle) {
  Json training = Json::object();
  if (bundle.training.contains("parameters"))
    training["parameters"] = bundle.training["parameters"];
  return bundle.vae->Serialize(Metadata(bundle, training).dump());
}

namespace {
// Rows per chunk of encoding and decoding: the model-space rows of a chunk (a few MB) are used
// while they are in cache, and the next chunk reuses their memory. Whole-table passes
// materialised rows x width matrices whose fresh pages alone cost more than the network's
// arithmetic (docs/performance.md).
constexpr int64_t kChunkRows = 4096;
}  // namespace

absl::StatusOr<data::Matrix> EncodeTable(const ModelBundle& bundle, const data::Table& records) {
  if (bundle.kind != DataKind::kTable)
    return absl::InvalidArgumentError("this model was trained on images, not a table");
  const int64_t latent = bundle.vae->spec().latent_dim;
  data::Matrix codes(records.num_rows(), latent);
  for (int64_t begin = 0; begin < records.num_rows(); begin += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, records.num_rows() - begin);
    const data::Matrix chunk =
        bundle.vae->EncodeMean(bundle.transformer->EncodeRows(records, begin, rows));
    std::copy(chunk.values.begin(), chunk.values.end(), codes.Row(begin));
  }
  return codes;
}

absl::StatusOr<data::Table> DecodeTable(const ModelBundle& bundle, const data::Matrix& codes,
                                        data::DecodingMode decoding,
                                        const std::function<double()>& uniform01) {
  if (bundle.kind != DataKind::kTable)
    return absl::InvalidArgumentError("this model was trained on images, not a table");
  if (codes.cols != bundle.vae->spec().latent_dim) {
    return absl::InvalidArgumentError("codes have " + std::to_string(codes.cols) +
                                      " coordinates; the model's latent dimension is " +
                                      std::to_string(bundle.vae->spec().latent_dim));
  }
  // The decoder's outputs for a chunk are sampled into records while they are in cache.
  const std::vector<float> scales = bundle.vae->GaussianScales();
  data::Table table;
  table.rows.reserve(static_cast<size_t>(codes.rows));
  data::Matrix chunk;
  for (int64_t begin = 0; begin < codes.rows; begin += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, codes.rows - begin);
    chunk.rows = rows;
    chunk.cols = codes.cols;
    chunk.values.assign(codes.Row(begin), codes.Row(begin) + rows * codes.cols);
    data::Table part = bundle.transformer->DecodeLogits(bundle.vae->DecodeLogits(chunk), decoding,
                                                        uniform01, scales);
    std::move(part.rows.begin(), part.rows.end(), std::back_inserter(table.rows));
  }
  return table;
}

}  // namespace fedsyn::model
