// CSV as the coordinator reads upload chunks and the agent reads hospital files: the tokenizer,
// the table reader under the shipped heart-disease schema (the first byte picks the format),
// codes-mode matrices, and the formula neutraliser on whatever parses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/data/csv.h"
#include "common/data/schema.h"
#include "common/data/table_io.h"

namespace {

const fedsyn::data::Schema& HeartSchema() {
  static const fedsyn::data::Schema schema = [] {
    auto parsed = fedsyn::data::Schema::LoadFile(FEDSYN_HEART_SCHEMA);
    if (!parsed.ok()) __builtin_trap();
    return *parsed;
  }();
  return schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode % 4) {
    case 0:
      (void)fedsyn::data::ParseCsvTable(text, HeartSchema(), "fuzz");
      break;
    case 1:
      (void)fedsyn::data::ParseCsvTable(text, HeartSchema(), "fuzz",
                                        fedsyn::data::HeaderlessCsvFormat());
      break;
    case 2:
      (void)fedsyn::data::ParseMatrixCsv(text, 1 + (mode >> 2) % 16, /*header=*/mode & 0x40,
                                         "fuzz");
      break;
    default:
      (void)fedsyn::data::NeutraliseFormulas(text, (mode & 0x10) ? ';' : ',', "fuzz");
      break;
  }
  return 0;
}
