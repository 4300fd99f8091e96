// A trained model together with everything needed to use it: the schema it was trained under
// (so releases read their input under exactly the same domains), the transformer derived from
// it, and the training facts a manifest must report (privacy of the model, parameters).
#ifndef FEDSYN_SITE_AGENT_MODEL_BUNDLE_H_
#define FEDSYN_SITE_AGENT_MODEL_BUNDLE_H_

#include <memory>
#include <optional>
#include <string>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/transformer.h"
#include "common/model/vae.h"
#include "nlohmann/json.hpp"

namespace fedsyn::site {

enum class DataKind { kTable, kImage };

struct ImageShape {
  int height = 28;
  int width = 28;
  int num_classes = 10;
};

struct ModelBundle {
  DataKind kind = DataKind::kTable;
  std::unique_ptr<model::Vae> vae;
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

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_MODEL_BUNDLE_H_
