#include "common/model/model_file.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "common/privacy/digest.h"
#include "common/privacy/rdp_accountant.h"
#include "nlohmann/json.hpp"

namespace fedsyn::model {
namespace {

using Json = nlohmann::json;

constexpr char kMagic[8] = {'F', 'S', 'Y', 'N', 'V', 'A', 'E', '\0'};
constexpr size_t kFixedBytes = sizeof kMagic + sizeof(uint32_t) + sizeof(uint64_t);
constexpr size_t kChecksumChars = 64;

const char* ArchitectureName(Architecture a) { return a == Architecture::kMlp ? "mlp" : "conv28"; }

const char* BlockKindName(data::BlockKind k) {
  switch (k) {
    case data::BlockKind::kGaussian:
      return "gaussian";
    case data::BlockKind::kCategorical:
      return "categorical";
    case data::BlockKind::kBernoulli:
      return "bernoulli";
  }
  return "?";
}

Json SpecToJson(const VaeSpec& spec) {
  Json blocks = Json::array();
  for (const data::Block& b : spec.blocks)
    blocks.push_back({BlockKindName(b.kind), b.offset, b.width});
  return {{"architecture", ArchitectureName(spec.architecture)},
          {"input_width", spec.input_width},
          {"latent_dim", spec.latent_dim},
          {"hidden", spec.hidden},
          {"beta", spec.beta},
          {"blocks", blocks}};
}

// A JSON value as an integer in [low, high]. nlohmann's get<int>() would convert a float such as
// 1e80 with a cast whose result is undefined (found by fuzzing): only integers are accepted.
absl::StatusOr<int64_t> IntegerIn(const Json& value, int64_t low, int64_t high,
                                  const std::string& what) {
  int64_t result = 0;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(high)) return absl::DataLossError(what + " is out of range");
    result = static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    result = value.get<int64_t>();
  } else {
    return absl::DataLossError(what + " must be an integer");
  }
  if (result < low || result > high) return absl::DataLossError(what + " is out of range");
  return result;
}

absl::StatusOr<int> IntIn(const Json& value, int low, int high, const std::string& what) {
  ASSIGN_OR_RETURN(const int64_t result, IntegerIn(value, low, high, what));
  return static_cast<int>(result);
}

// Throws Json::exception on wrong types; the caller turns that into DataLoss.
absl::StatusOr<VaeSpec> SpecFromJson(const Json& j) {
  VaeSpec spec;
  const std::string architecture = j.at("architecture").get<std::string>();
  if (architecture == "mlp") {
    spec.architecture = Architecture::kMlp;
  } else if (architecture == "conv28") {
    spec.architecture = Architecture::kConv28;
  } else {
    return absl::DataLossError("unknown architecture '" + architecture + "'");
  }
  // Ranges wider than ValidateSpec's, which names the exact bound; these only keep the values
  // representable.
  constexpr int kMaxInt = std::numeric_limits<int>::max();
  ASSIGN_OR_RETURN(spec.input_width, IntIn(j.at("input_width"), 0, kMaxInt, "input width"));
  ASSIGN_OR_RETURN(spec.latent_dim, IntIn(j.at("latent_dim"), 0, kMaxInt, "latent dimension"));
  const Json& hidden = j.at("hidden");
  if (!hidden.is_array() || hidden.size() > kMaxHiddenLayers)
    return absl::DataLossError("hidden must be a list of at most " +
                               std::to_string(kMaxHiddenLayers) + " widths");
  spec.hidden.clear();
  for (const Json& width : hidden) {
    ASSIGN_OR_RETURN(const int h, IntIn(width, 0, kMaxInt, "a hidden width"));
    spec.hidden.push_back(h);
  }
  spec.beta = j.at("beta").get<double>();
  const Json& blocks = j.at("blocks");
  if (!blocks.is_array() || blocks.size() > static_cast<size_t>(kMaxInputWidth))
    return absl::DataLossError("blocks must be a list of at most " +
                               std::to_string(kMaxInputWidth));
  for (const Json& b : blocks) {
    const std::string kind = b.at(0).get<std::string>();
    data::BlockKind k = data::BlockKind::kGaussian;
    if (kind == "categorical") {
      k = data::BlockKind::kCategorical;
    } else if (kind == "bernoulli") {
      k = data::BlockKind::kBernoulli;
    } else if (kind != "gaussian") {
      return absl::DataLossError("unknown block kind '" + kind + "'");
    }
    ASSIGN_OR_RETURN(const int offset, IntIn(b.at(1), 0, kMaxInt, "a block offset"));
    ASSIGN_OR_RETURN(const int width, IntIn(b.at(2), 0, kMaxInt, "a block width"));
    spec.blocks.push_back({k, offset, width});
  }
  return spec;
}

absl::StatusOr<TensorEntry> TensorFromJson(const Json& entry) {
  TensorEntry tensor;
  tensor.name = entry.at("name").get<std::string>();
  const Json& shape = entry.at("shape");
  if (!shape.is_array() || shape.size() > kMaxTensorRank)
    return absl::DataLossError("tensor '" + tensor.name + "' has a bad shape");
  tensor.floats = 1;
  for (const Json& dim : shape) {
    // Each factor is at most kMaxParameters, and the product is checked after every step, so
    // it never overflows.
    ASSIGN_OR_RETURN(const int64_t d, IntegerIn(dim, 0, kMaxParameters,
                                                "a dimension of tensor '" + tensor.name + "'"));
    tensor.shape.push_back(d);
    tensor.floats *= static_cast<size_t>(d);
    if (tensor.floats > static_cast<size_t>(kMaxParameters))
      return absl::DataLossError("tensor '" + tensor.name + "' is larger than any model may be");
  }
  return tensor;
}

void AppendU32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void AppendU64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

absl::StatusOr<ModelFile> ParseHeaderAndParameters(std::string_view body, uint64_t header_size,
                                                   const std::string& path) {
  const Json header = Json::parse(body.substr(kFixedBytes, header_size), nullptr,
                                  /*allow_exceptions=*/false);
  if (header.is_discarded()) return absl::DataLossError(path + ": model header is not JSON");
  if (!header.is_object() || !header.contains("spec") || !header.contains("tensors") ||
      !header["tensors"].is_array()) {
    return absl::DataLossError(path + ": model header lacks its spec or tensor list");
  }
  ModelFile model;
  ASSIGN_OR_RETURN(model.spec, SpecFromJson(header["spec"]));
  if (const absl::Status valid = ValidateSpec(model.spec); !valid.ok())
    return absl::DataLossError(path + ": " + std::string(valid.message()));
  const Json& tensors = header["tensors"];
  if (tensors.size() > kMaxTensors) return absl::DataLossError(path + ": too many tensors");
  size_t total_floats = 0;
  for (const Json& entry : tensors) {
    ASSIGN_OR_RETURN(TensorEntry tensor, TensorFromJson(entry));
    total_floats += tensor.floats;  // at most kMaxTensors x kMaxParameters: no overflow
    model.tensors.push_back(std::move(tensor));
  }
  model.parameters = body.substr(kFixedBytes + header_size);
  if (total_floats * sizeof(float) != model.parameters.size()) {
    return absl::DataLossError(path + ": the parameter data (" +
                               std::to_string(model.parameters.size()) +
                               " bytes) does not match the tensor list");
  }
  // What Create will allocate stays in proportion to the bytes received: a small file cannot
  // make us build a 256 MB model only to find it does not match. (The estimate is an upper
  // bound; the slack covers small models.)
  constexpr int64_t kSlackParameters = int64_t{1} << 20;
  if (EstimatedParameters(model.spec) > 4 * static_cast<int64_t>(total_floats) + kSlackParameters) {
    return absl::DataLossError(path + ": the architecture needs far more parameters than the " +
                               std::to_string(total_floats) + " in the file");
  }
  for (size_t i = 0; i < total_floats; ++i) {
    float value = 0;
    std::memcpy(&value, model.parameters.data() + i * sizeof value, sizeof value);
    if (!std::isfinite(value)) return absl::DataLossError(path + ": a parameter is not finite");
  }
  model.metadata_json = header.contains("metadata") ? header["metadata"].dump() : "{}";
  return model;
}

}  // namespace

int64_t EstimatedParameters(const VaeSpec& spec) {
  // Encoder, both heads, mirrored decoder. Inputs are validated first, so no overflow.
  std::vector<int64_t> widths = {spec.input_width};
  for (int h : spec.hidden) widths.push_back(h);
  int64_t total = 0;
  for (size_t i = 0; i + 1 < widths.size(); ++i) total += (widths[i] + 1) * widths[i + 1];
  total += 2 * (widths.back() + 1) * spec.latent_dim;  // mean and log-variance heads
  return 2 * total + 2 * (spec.latent_dim + 1) * widths.back() + 2 * spec.input_width;
}

absl::Status ValidateSpec(const VaeSpec& spec) {
  if (spec.input_width < 1 || spec.input_width > kMaxInputWidth)
    return absl::InvalidArgumentError("input width must be in 1.." +
                                      std::to_string(kMaxInputWidth));
  if (spec.hidden.size() > kMaxHiddenLayers)
    return absl::InvalidArgumentError("at most " + std::to_string(kMaxHiddenLayers) +
                                      " hidden layers");
  if (spec.latent_dim < 1 || spec.latent_dim > kMaxLatentDim)
    return absl::InvalidArgumentError("latent dimension must be in 1.." +
                                      std::to_string(kMaxLatentDim));
  if (!(spec.beta > 0) || !std::isfinite(spec.beta))
    return absl::InvalidArgumentError("beta must be positive");
  if (spec.hidden.empty())
    return absl::InvalidArgumentError("at least one hidden layer is required");
  for (int h : spec.hidden) {
    if (h < 1 || h > kMaxHiddenWidth)
      return absl::InvalidArgumentError("hidden widths must be in 1.." +
                                        std::to_string(kMaxHiddenWidth));
  }
  if (spec.architecture == Architecture::kConv28 && spec.input_width != 28 * 28) {
    return absl::InvalidArgumentError("the convolutional VAE takes 28x28 images (width 784)");
  }
  int64_t covered = 0;
  for (const data::Block& b : spec.blocks) {
    if (b.offset != covered || b.width < 1 || b.width > kMaxInputWidth)
      return absl::InvalidArgumentError("blocks must tile the input in order");
    covered += b.width;
  }
  if (covered != spec.input_width)
    return absl::InvalidArgumentError("blocks must cover the input width exactly");
  if (EstimatedParameters(spec) > kMaxParameters)
    return absl::InvalidArgumentError("the model would exceed " + std::to_string(kMaxParameters) +
                                      " parameters");
  return absl::OkStatus();
}

absl::StatusOr<ModelFile> ParseModelFile(std::string_view file, const std::string& path) {
  if (file.size() < kFixedBytes + kChecksumChars ||
      std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    return absl::DataLossError(path + ": not a fedsyn model file");
  }
  uint32_t version = 0;
  std::memcpy(&version, file.data() + sizeof kMagic, sizeof version);
  if (version != kModelFormatVersion) {
    return absl::FailedPreconditionError(
        path + ": model format version " + std::to_string(version) +
        " is not supported (this build reads version " + std::to_string(kModelFormatVersion) + ")");
  }
  const std::string_view body(file.data(), file.size() - kChecksumChars);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // (Fuzz builds skip the checksum, as is the convention: a mutated file would never pass it,
  // and the fuzzer would never reach the parser behind it. Production builds always check.)
  if (privacy::Sha256Hex(body) != file.substr(file.size() - kChecksumChars)) {
    return absl::DataLossError(path + ": model file checksum mismatch (damaged or truncated)");
  }
#endif
  uint64_t header_size = 0;
  std::memcpy(&header_size, file.data() + sizeof kMagic + sizeof version, sizeof header_size);
  if (header_size > body.size() - kFixedBytes)
    return absl::DataLossError(path + ": model header length out of range");
  // Everything below reads bytes a peer may have written: any exception from the JSON library
  // (a wrong-typed field) is a malformed file, never a crash (issue #12, F1).
  try {
    return ParseHeaderAndParameters(body, header_size, path);
  } catch (const std::exception& e) {
    return absl::DataLossError(path + ": malformed model file: " + e.what());
  }
}

namespace {

// Throws Json::exception on wrong types; ParseBundleMetadata turns that into DataLoss.
absl::StatusOr<BundleMetadata> BundleMetadataFromJson(const Json& metadata, int input_width,
                                                      const std::string& path) {
  if (!metadata.is_object() || !metadata.contains("kind")) {
    return absl::DataLossError(path + ": model metadata is missing");
  }
  BundleMetadata out;
  out.training = metadata.value("training", Json::object());
  out.model_private = metadata.value("model_private", false);
  out.model_epsilon = metadata.value("model_epsilon", 0.0);
  out.model_delta = metadata.value("model_delta", 0.0);
  if (out.model_private &&
      !(out.model_epsilon > 0 && out.model_delta >= 0 && out.model_delta < 1)) {
    return absl::DataLossError(
        path + ": a private model must state a positive epsilon and a delta in [0, 1)");
  }
  if (out.model_private) {
    const Json* relation =
        metadata.contains("neighbouring_relation") ? &metadata["neighbouring_relation"] : nullptr;
    if (relation == nullptr || !relation->is_string() || *relation != ModelRelationName()) {
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
    out.kind = DataKind::kTable;
    ASSIGN_OR_RETURN(data::Schema schema, data::Schema::Parse(metadata.value("schema_toml", ""),
                                                              path + " (embedded schema)"));
    // Files from before bound positions state no layout: theirs is Gaussian only.
    data::NumericLayout layout = data::NumericLayout::kGaussianOnly;
    if (metadata.contains("numeric_layout")) {
      const Json& named = metadata["numeric_layout"];
      if (named == data::NumericLayoutName(data::NumericLayout::kBoundPositions)) {
        layout = data::NumericLayout::kBoundPositions;
      } else if (named != data::NumericLayoutName(data::NumericLayout::kGaussianOnly)) {
        return absl::DataLossError(path + ": unknown numeric layout");
      }
    }
    ASSIGN_OR_RETURN(data::Transformer transformer, data::Transformer::FromSchema(schema, layout));
    if (transformer.width() != input_width) {
      return absl::DataLossError(path + ": embedded schema does not match the model's input width");
    }
    out.schema = std::move(schema);
    out.transformer = std::move(transformer);
  } else if (metadata["kind"] == "image") {
    out.kind = DataKind::kImage;
    const Json image = metadata.value("image", Json::object());
    if (!image.is_object()) return absl::DataLossError(path + ": image metadata must be an object");
    const auto field = [&image](const char* key, int fallback) -> absl::StatusOr<int> {
      if (!image.contains(key)) return fallback;
      return IntIn(image[key], 1, 1 << 16, std::string("image ") + key);
    };
    ASSIGN_OR_RETURN(out.image.height, field("height", 28));
    ASSIGN_OR_RETURN(out.image.width, field("width", 28));
    ASSIGN_OR_RETURN(out.image.num_classes, field("num_classes", 10));
  } else {
    return absl::DataLossError(path + ": unknown model kind");
  }
  return out;
}

}  // namespace

const char* ModelRelationName() {
  return privacy::NeighbouringRelationName(privacy::kReleaseRelation);
}

absl::StatusOr<BundleMetadata> ParseBundleMetadata(const std::string& metadata_json,
                                                   int input_width, const std::string& path) {
  // The metadata comes from a file or a peer: a wrong-typed field makes the JSON library throw,
  // which must become a status here, not a crash (issue #12, F1).
  try {
    const Json metadata = Json::parse(metadata_json, nullptr, /*allow_exceptions=*/false);
    return BundleMetadataFromJson(metadata, input_width, path);
  } catch (const std::exception& e) {
    return absl::DataLossError(path + ": malformed model metadata: " + e.what());
  }
}

absl::StatusOr<std::string> WriteModelFile(const VaeSpec& spec,
                                           const std::vector<TensorEntry>& tensors,
                                           std::string_view parameters,
                                           const std::string& metadata_json) {
  Json header;
  header["spec"] = SpecToJson(spec);
  header["metadata"] = Json::parse(metadata_json, nullptr, /*allow_exceptions=*/false);
  if (header["metadata"].is_discarded())
    return absl::InvalidArgumentError("model metadata is not JSON");
  Json list = Json::array();
  size_t floats = 0;
  for (const TensorEntry& t : tensors) {
    list.push_back({{"name", t.name}, {"shape", t.shape}});
    floats += t.floats;
  }
  if (floats * sizeof(float) != parameters.size())
    return absl::InvalidArgumentError("parameter bytes do not match the tensor list");
  header["tensors"] = list;
  const std::string header_text = header.dump();
  std::string file(kMagic, sizeof kMagic);
  AppendU32(file, kModelFormatVersion);
  AppendU64(file, header_text.size());
  file += header_text;
  file += parameters;
  file += privacy::Sha256Hex(file);
  return file;
}

}  // namespace fedsyn::model
