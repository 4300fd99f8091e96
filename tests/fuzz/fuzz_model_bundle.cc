// A model file or a published decoder a site uploads: frame, header, spec, tensor list,
// parameters, then the metadata (kind, embedded schema, the model's guarantee). Fuzz builds skip
// the file checksum (model_file.cc). Torch-free: what a file states is all checked before a
// model is built from it, and that is what this target drives.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/model/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto file = fedsyn::model::ParseModelFile(bytes, "fuzz");
  if (!file.ok()) return 0;
  (void)fedsyn::model::ParseBundleMetadata(file->metadata_json, file->spec.input_width, "fuzz");
  return 0;
}
