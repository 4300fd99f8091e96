// The model file format, torch-free: what a file states is parsed and checked here before any
// model is built from it, so that a hostile file (a published decoder comes from a peer) is an
// error and never a crash or a huge allocation (issue #12: F1, F4, F6). The fuzz target
// tests/fuzz/fuzz_model_bundle.cc drives this module without LibTorch.
//
// Layout: magic "FSYNVAE\0", u32 version, u64 header length, JSON header {spec, tensors:
// [{name, shape}], metadata}, the float32 parameters in header order, then the hex SHA-256 of
// everything before it. Bump kModelFormatVersion on any change.
#ifndef FEDSYN_COMMON_MODEL_MODEL_FILE_H_
#define FEDSYN_COMMON_MODEL_MODEL_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/transformer.h"
#include "common/model/vae_spec.h"
#include "nlohmann/json.hpp"

namespace fedsyn::model {

inline constexpr uint32_t kModelFormatVersion = 1;

// Bounds on what a spec may ask us to build; Vae::Create allocates what the spec says. Real
// models are far below them (Adult: width 110, hidden 128x128; images: 784, one layer of 256).
inline constexpr int kMaxInputWidth = 1 << 16;
inline constexpr size_t kMaxHiddenLayers = 16;
inline constexpr int kMaxHiddenWidth = 8192;
inline constexpr int kMaxLatentDim = 1024;
inline constexpr int64_t kMaxParameters = int64_t{64} << 20;  // 64 Mi floats = 256 MB
// Tensors per file and dimensions per tensor: a VAE has a few dozen of the one, at most four of
// the other.
inline constexpr size_t kMaxTensors = 256;
inline constexpr size_t kMaxTensorRank = 4;

// InvalidArgument naming the first violated bound or inconsistency (blocks must tile the input).
absl::Status ValidateSpec(const VaeSpec& spec);
// An upper estimate of the parameter count of the network a spec describes.
int64_t EstimatedParameters(const VaeSpec& spec);

struct TensorEntry {
  std::string name;
  std::vector<int64_t> shape;
  size_t floats = 0;  // the product of the shape
};

struct ModelFile {
  VaeSpec spec;
  std::vector<TensorEntry> tensors;  // in file order
  std::string_view parameters;       // their float32 values, back to back (a view into the file)
  std::string metadata_json;         // "{}" when the header has none
};

// Parses and checks everything the file states without building the model: format, version,
// checksum, header JSON, the spec (ValidateSpec), the tensor list (names, shapes within bounds,
// sizes summing exactly to the parameter bytes), the spec's size in proportion to those bytes,
// and finite parameters. DataLoss for anything malformed (FailedPrecondition for another format
// version); never throws.
absl::StatusOr<ModelFile> ParseModelFile(std::string_view file, const std::string& path);

// The file for `spec`, its tensors (names and shapes) and their values (`parameters`, float32
// back to back) and the metadata (JSON text). InvalidArgument when the metadata is not JSON or
// the sizes disagree.
absl::StatusOr<std::string> WriteModelFile(const VaeSpec& spec,
                                           const std::vector<TensorEntry>& tensors,
                                           std::string_view parameters,
                                           const std::string& metadata_json);

enum class DataKind { kTable, kImage };

struct ImageShape {
  int height = 28;
  int width = 28;
  int num_classes = 10;
};

// The neighbouring relation a private model's (epsilon, delta) is stated under in its metadata
// (rdp_accountant.h, DESIGN §2.9): the releases' replace-one.
const char* ModelRelationName();

// What a model file's metadata states (model_bundle.h joins it to the model).
struct BundleMetadata {
  DataKind kind = DataKind::kTable;
  std::optional<data::Schema> schema;            // tables
  std::optional<data::Transformer> transformer;  // tables, checked against `input_width`
  ImageShape image;                              // images
  nlohmann::json training;
  bool model_private = false;
  double model_epsilon = 0;
  double model_delta = 0;
};

// Parses the metadata JSON of a model whose input width is `input_width`: kind, embedded schema
// (which must give that width), training parameters, and the model's own guarantee (a private
// model must state a positive epsilon, a delta in [0, 1) and the replace-one relation; an
// older add/remove model is FailedPrecondition). DataLoss for anything malformed; never throws.
absl::StatusOr<BundleMetadata> ParseBundleMetadata(const std::string& metadata_json,
                                                   int input_width, const std::string& path);

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_MODEL_FILE_H_
