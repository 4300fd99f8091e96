#include "common/data/schema_infer.h"

#include "common/data/schema.h"
#include "common/data/table_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::data {
namespace {

using ::testing::HasSubstr;

TEST(SchemaInfer, ProposesAParsableSchemaWithTheWarning) {
  InferOptions options;
  options.dataset_name = "cleveland";
  auto toml = InferSchemaToml(
      testing::DemoDataDir() + "/heart_disease_uci/processed.cleveland.data", options);
  ASSERT_TRUE(toml.ok()) << toml.status();
  EXPECT_THAT(*toml, HasSubstr(kInferWarning));
  auto schema = Schema::Parse(*toml, "inferred");
  ASSERT_TRUE(schema.ok()) << schema.status() << "\n" << *toml;
  ASSERT_EQ(schema->columns.size(), 14u);
  EXPECT_EQ(schema->columns[0].type, ColumnType::kInteger);      // age
  EXPECT_EQ(schema->columns[1].type, ColumnType::kBinary);       // sex
  EXPECT_EQ(schema->columns[2].type, ColumnType::kCategorical);  // cp
  EXPECT_EQ(schema->columns[9].type, ColumnType::kContinuous);   // oldpeak
  EXPECT_TRUE(schema->columns[11].nullable);                     // ca has '?'
  // The proposal reads its own file back.
  EXPECT_TRUE(
      ReadCsvTable(testing::DemoDataDir() + "/heart_disease_uci/processed.cleveland.data", *schema)
          .ok());
}

TEST(SchemaInfer, RaggedFilesAreErrors) {
  const std::string path = testing::ScratchDir("infer") + "/bad.csv";
  ASSERT_TRUE(WriteFileAtomically(path, "1,2\n3\n").ok());
  auto toml = InferSchemaToml(path, {});
  ASSERT_FALSE(toml.ok());
  EXPECT_THAT(std::string(toml.status().message()), HasSubstr("bad.csv:2"));
}

// F12: a line of millions of fields is refused before any proposal is built; free-text values
// longer than a category may be are proposed as ignored.
TEST(SchemaInfer, HugeLinesAreRefusedAndLongValuesIgnored) {
  const std::string dir = testing::ScratchDir("infer_huge");
  std::string wide;
  for (int c = 0; c < 100'000; ++c) wide += "1,";
  wide += "1\n";
  ASSERT_TRUE(WriteFileAtomically(dir + "/wide.csv", wide).ok());
  auto toml = InferSchemaToml(dir + "/wide.csv", {});
  ASSERT_FALSE(toml.ok());
  EXPECT_THAT(std::string(toml.status().message()), HasSubstr("100001 columns"));

  const std::string note(1000, 'n');
  ASSERT_TRUE(WriteFileAtomically(dir + "/notes.csv", "1," + note + "\n2," + note + "\n").ok());
  toml = InferSchemaToml(dir + "/notes.csv", {});
  ASSERT_TRUE(toml.ok()) << toml.status();
  auto schema = Schema::Parse(*toml, "inferred");
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(schema->columns[1].type, ColumnType::kIgnored);
}

}  // namespace
}  // namespace fedsyn::data
