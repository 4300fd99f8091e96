// The shipped UCI Heart Disease data, encoded under its schema, for model tests.
#ifndef FEDSYN_TESTS_SUPPORT_HEART_DATA_H_
#define FEDSYN_TESTS_SUPPORT_HEART_DATA_H_

#include <string>

#include "common/data/table_io.h"
#include "common/data/transformer.h"
#include "tests/support/test_paths.h"

namespace fedsyn::testing {

struct EncodedHeart {
  data::Schema schema;
  data::Transformer transformer;
  data::Matrix encoded;
};

inline std::string HeartSchemaPath() {
  return DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
}
inline std::string HeartFile(const std::string& site) {
  return DemoDataDir() + "/heart_disease_uci/processed." + site + ".data";
}

// `site` is cleveland, hungarian, switzerland or va. The shipped files are valid: a failure
// here is a broken checkout, reported by the callers' assertions on empty data.
inline EncodedHeart LoadEncodedHeart(const std::string& site = "cleveland") {
  auto schema = data::Schema::LoadFile(HeartSchemaPath());
  auto read = data::ReadCsvTable(HeartFile(site), *schema);
  auto transformer = data::Transformer::FromSchema(*schema);
  data::Matrix encoded = transformer->Encode(read->table);
  return {*schema, *transformer, std::move(encoded)};
}

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_HEART_DATA_H_
