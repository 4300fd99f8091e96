// The schema parser (TOML): what a data steward writes and what the coordinator sends in its
// welcome. Parsed schemas are used as the agent would: a transformer and a CSV row bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/data/schema.h"
#include "common/data/table_io.h"
#include "common/data/transformer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto schema = fedsyn::data::Schema::Parse(text, "fuzz.toml");
  if (!schema.ok()) return 0;
  (void)fedsyn::data::Transformer::FromSchema(*schema);
  (void)fedsyn::data::MaxCsvRowBytes(*schema);
  return 0;
}
