// A trained model together with everything needed to use it: the schema it was trained under
// (so releases read their input under exactly the same domains), the transformer derived from
// it, and the training facts a manifest must report (privacy of the model, parameters).
// Sites train and release with it; the coordinator decodes codes-mode releases with the
// published form (PublishedModelBytes), which carries nothing computed from the records.
#ifndef FEDSYN_COMMON_MODEL_MODEL_BUNDLE_H_
#define FEDSYN_COMMON_MODEL_MODEL_BUNDLE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/data/transformer.h"
#include "common/model/model_file.h"
#include "common/model/vae.h"
#include "nlohmann/json.hpp"

namespace fedsyn::model {

struct ModelBundle {
  DataKind kind = DataKind::kTable;
  std::unique_ptr<Vae> vae;
  std::optional<data::Schema> schema;            // tables
  std::optional<data::Transformer> transformer;  // tables
  ImageShape image;                              // images
  // {"parameters": chosen by the steward, "outcome": computed from the records (site only)}.
  nlohmann::json training;
  // The model's own guarantee: (model_epsilon, model_delta)-DP when trained with DP-SGD;
  // otherwise model_private is false and every guarantee says "model not private".
  bool model_private = false;
  double model_epsilon = 0;
  double model_delta = 0;
};

absl::Status SaveModelBundle(const std::string& path, const ModelBundle& bundle);
absl::StatusOr<ModelBundle> LoadModelBundle(const std::string& path);
// From the bytes of a model file; `origin` names them in errors.
absl::StatusOr<ModelBundle> ParseModelBundle(std::string_view bytes, const std::string& origin);

// A text the steward's training parameters state under `key` ("dataset": the federation dataset
// the model is for; "audit_job": the canary audit job it was trained under), "" if none.
std::string TrainingParameterText(const ModelBundle& bundle, const std::string& key);

// The model file without the data-dependent training outcome (losses, epochs run): what may
// leave the site in codes mode. Deterministic, so its SHA-256 identifies the model to both
// ledgers (a DP model's epsilon is charged once per identity).
absl::StatusOr<std::string> PublishedModelBytes(const ModelBundle& bundle);

// Encodes records of a table model's schema to their mean codes (rows x latent_dim).
absl::StatusOr<data::Matrix> EncodeTable(const ModelBundle& bundle, const data::Table& records);

// Decodes codes (rows x latent_dim) of a table model into records of its schema; `uniform01`
// draws the decoder's sampling (kSample).
absl::StatusOr<data::Table> DecodeTable(const ModelBundle& bundle, const data::Matrix& codes,
                                        data::DecodingMode decoding,
                                        const std::function<double()>& uniform01);

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_MODEL_BUNDLE_H_
