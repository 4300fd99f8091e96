#include "common/model/model_bundle.h"

#include "common/privacy/rdp_accountant.h"

namespace fedsyn::model {

using Json = nlohmann::json;

namespace {

// What a private model's (epsilon, delta) is stated under (rdp_accountant.h, DESIGN §2.9).
const char* const kModelRelation = privacy::NeighbouringRelationName(privacy::kReleaseRelation);

Json Metadata(const ModelBundle& bundle, const Json& training) {
  Json metadata;
  metadata["kind"] = bundle.kind == DataKind::kTable ? "table" : "image";
  if (bundle.kind == DataKind::kTable) {
    metadata["schema_toml"] = bundle.schema->toml_text;
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
    metadata["neighbouring_relation"] = kModelRelation;
  }
  return metadata;
}

absl::StatusOr<ModelBundle> FromMetadata(std::unique_ptr<Vae> vae, const std::string& metadata_text,
                                         const std::string& path) {
  ModelBundle bundle;
  bundle.vae = std::move(vae);
  const Json metadata = Json::parse(metadata_text, nullptr, /*allow_exceptions=*/false);
  if (!metadata.is_object() || !metadata.contains("kind")) {
    return absl::DataLossError(path + ": model metadata is missing");
  }
  bundle.training = metadata.value("training", Json::object());
  bundle.model_private = metadata.value("model_private", false);
  bundle.model_epsilon = metadata.value("model_epsilon", 0.0);
  bundle.model_delta = metadata.value("model_delta", 0.0);
  if (bundle.model_private &&
      !(bundle.model_epsilon > 0 && bundle.model_delta >= 0 && bundle.model_delta < 1)) {
    return absl::DataLossError(
        path + ": a private model must state a positive epsilon and a delta in [0, 1)");
  }
  if (bundle.model_private) {
    const Json* relation =
        metadata.contains("neighbouring_relation") ? &metadata["neighbouring_relation"] : nullptr;
    if (relation == nullptr || !relation->is_string() || *relation != kModelRelation) {
      // Models from before replace-one accounting state an add/remove epsilon, about half of
      // what a release that publishes n costs: using it would understate every manifest.
      return absl::FailedPreconditionError(
          path +
          ": the model's epsilon is not stated under the replace-one relation (n "
          "public); it was trained by an earlier fedsyn under add/remove accounting. "
          "Train it again.");
    }
  }
  if (metadata["kind"] == "table") {
    bundle.kind = DataKind::kTable;
    ASSIGN_OR_RETURN(data::Schema schema, data::Schema::Parse(metadata.value("schema_toml", ""),
                                                              path + " (embedded schema)"));
    ASSIGN_OR_RETURN(data::Transformer transformer, data::Transformer::FromSchema(schema));
    if (transformer.width() != bundle.vae->spec().input_width) {
      return absl::DataLossError(path + ": embedded schema does not match the model's input width");
    }
    bundle.schema = std::move(schema);
    bundle.transformer = std::move(transformer);
  } else if (metadata["kind"] == "image") {
    bundle.kind = DataKind::kImage;
    const Json image = metadata.value("image", Json::object());
    bundle.image.height = image.value("height", 28);
    bundle.image.width = image.value("width", 28);
    bundle.image.num_classes = image.value("num_classes", 10);
  } else {
    return absl::DataLossError(path + ": unknown model kind");
  }
  return bundle;
}

// The metadata comes from a file or a peer: a wrong-typed field makes the JSON library throw,
// which must become a status here, not a crash (issue #12, F1).
absl::StatusOr<ModelBundle> FromMetadataChecked(std::unique_ptr<Vae> vae,
                                                const std::string& metadata_text,
                                                const std::string& origin) {
  try {
    return FromMetadata(std::move(vae), metadata_text, origin);
  } catch (const std::exception& e) {
    return absl::DataLossError(origin + ": malformed model metadata: " + e.what());
  }
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
  return FromMetadataChecked(std::move(vae), metadata_text, path);
}

absl::StatusOr<ModelBundle> ParseModelBundle(std::string_view bytes, const std::string& origin) {
  std::string metadata_text;
  ASSIGN_OR_RETURN(std::unique_ptr<Vae> vae, Vae::Deserialize(bytes, origin, &metadata_text));
  return FromMetadataChecked(std::move(vae), metadata_text, origin);
}

absl::StatusOr<std::string> PublishedModelBytes(const ModelBundle& bundle) {
  Json training = Json::object();
  if (bundle.training.contains("parameters"))
    training["parameters"] = bundle.training["parameters"];
  return bundle.vae->Serialize(Metadata(bundle, training).dump());
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
  return bundle.transformer->DecodeLogits(bundle.vae->DecodeLogits(codes), decoding, uniform01,
                                          bundle.vae->GaussianScales());
}

}  // namespace fedsyn::model
