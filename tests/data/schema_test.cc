#include "common/data/schema.h"

#include <sys/stat.h>

#include "common/data/table_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::data {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(
[dataset]
name = "toy"
label = "y"
missing = ["?"]

[csv]
header = true
delimiter = ";"

[[column]]
name = "age"
type = "integer"
min = 0
max = 120

[[column]]
name = "bp"
type = "continuous"
min = 50.5
max = 250
nullable = true
missing = ["NA"]
out_of_range = "clamp"

[[column]]
name = "id"
type = "ignored"

[[column]]
name = "y"
type = "binary"
categories = ["no", "yes"]
aliases = { "yes." = "yes" }
)";

TEST(Schema, ParsesEveryColumnKindAndOption) {
  auto schema = Schema::Parse(kGood, "toy.toml");
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(schema->name, "toy");
  ASSERT_EQ(schema->columns.size(), 4u);
  EXPECT_EQ(schema->columns[0].type, ColumnType::kInteger);
  EXPECT_EQ(schema->columns[0].missing_tokens, std::vector<std::string>{"?"});
  EXPECT_EQ(schema->columns[1].min, 50.5);
  EXPECT_EQ(schema->columns[1].out_of_range, OutOfRangePolicy::kClamp);
  EXPECT_EQ(schema->columns[1].missing_tokens, std::vector<std::string>{"NA"});
  EXPECT_TRUE(schema->columns[1].nullable);
  EXPECT_EQ(schema->columns[2].type, ColumnType::kIgnored);
  EXPECT_EQ(schema->columns[3].aliases.at("yes."), "yes");
  EXPECT_EQ(schema->label_index, 3);
  EXPECT_TRUE(schema->csv.header);
  EXPECT_EQ(schema->csv.delimiter, ';');
}

struct BadSchema {
  std::string name;
  std::string from, to;  // replace `from` with `to` in kGood
  std::string expected;  // substring of the error
};

class SchemaErrors : public ::testing::TestWithParam<BadSchema> {};

TEST_P(SchemaErrors, NamesTheProblem) {
  std::string text = kGood;
  const auto& bad = GetParam();
  const size_t at = text.find(bad.from);
  ASSERT_NE(at, std::string::npos) << bad.from;
  text.replace(at, bad.from.size(), bad.to);
  auto schema = Schema::Parse(text, "toy.toml");
  ASSERT_FALSE(schema.ok());
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(schema.status().message()), HasSubstr("toy.toml"));
  EXPECT_THAT(std::string(schema.status().message()), HasSubstr(bad.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SchemaErrors,
    ::testing::Values(
        BadSchema{"NoBounds", "min = 0\nmax = 120\n", "", "need declared min and max"},
        BadSchema{"InvertedBounds", "min = 0\nmax = 120", "min = 120\nmax = 0", "min < max"},
        BadSchema{"FractionalIntegerBound", "max = 120", "max = 120.5", "integer bounds"},
        BadSchema{"UnknownType", "type = \"ignored\"", "type = \"text\"", "type must be"},
        BadSchema{"Typo", "nullable = true", "nulable = true", "unknown key 'nulable'"},
        BadSchema{"BinaryWithThree", "[\"no\", \"yes\"]", "[\"no\", \"yes\", \"maybe\"]",
                  "exactly two"},
        BadSchema{"DuplicateCategory", "[\"no\", \"yes\"]", "[\"no\", \"no\"]", "distinct"},
        BadSchema{"AliasToUnknown", "\"yes.\" = \"yes\"", "\"yes.\" = \"si\"", "declared category"},
        BadSchema{"LabelMissing", "label = \"y\"", "label = \"z\"", "no column named 'z'"},
        BadSchema{"LabelNumeric", "label = \"y\"", "label = \"age\"", "categorical or binary"},
        BadSchema{"DuplicateColumn", "name = \"id\"", "name = \"age\"", "declared twice"},
        BadSchema{"BadPolicy", "\"clamp\"", "\"drop\"", "out_of_range"},
        BadSchema{"BadDelimiter", "delimiter = \";\"", "delimiter = \";;\"", "delimiter"},
        BadSchema{"SyntaxError", "[dataset]", "[dataset", "toy.toml:"},
        BadSchema{"HugeBound", "max = 120", "max = 1e308", "within ±1e15"},
        BadSchema{"TextBound", "min = 0\n", "min = \"eighteen\"\n", "must be numbers"},
        BadSchema{"LongCategory", "categories = [\"no\", \"yes\"]",
                  "categories = [\"no\", \"" + std::string(300, 'y') + "\"]", "at most 256 bytes"},
        BadSchema{"LongName", "name = \"age\"", "name = \"" + std::string(300, 'a') + "\"",
                  "at most 256 bytes"},
        BadSchema{"PersonIdUnknown", "missing = [\"?\"]\n",
                  "missing = [\"?\"]\nperson_id = \"pid\"\n", "no column named 'pid'"},
        BadSchema{"PersonIdModelled", "missing = [\"?\"]\n",
                  "missing = [\"?\"]\nperson_id = \"age\"\n", "declared type = \"ignored\""},
        BadSchema{"RowsPerPersonWithoutPerson", "missing = [\"?\"]\n",
                  "missing = [\"?\"]\nmax_rows_per_person = 2\n", "needs person_id"},
        BadSchema{"RowsPerPersonZero", "missing = [\"?\"]\n",
                  "missing = [\"?\"]\nperson_id = \"id\"\nmax_rows_per_person = 0\n", "1..1000"}),
    [](const auto& info) { return info.param.name; });

TEST(Schema, APersonIdentifierMakesThePersonTheUnit) {
  std::string text = kGood;
  const std::string missing_line = "missing = [\"?\"]\n";
  text.replace(text.find(missing_line), missing_line.size(),
               missing_line + "person_id = \"id\"\nmax_rows_per_person = 3\n");
  auto schema = Schema::Parse(text, "toy.toml");
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(schema->person_index, 2);
  EXPECT_EQ(schema->max_rows_per_person, 3);
  auto plain = Schema::Parse(kGood, "toy.toml");
  EXPECT_FALSE(plain->person_index.has_value());
  EXPECT_EQ(plain->max_rows_per_person, 1);
}

TEST(Schema, MissingFileIsNotFound) {
  EXPECT_EQ(Schema::LoadFile("/nonexistent/schema.toml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(Schema, TooManyColumnsOrCategoriesAreRefused) {
  std::string wide = "[dataset]\nname = \"wide\"\n";
  for (size_t c = 0; c <= kMaxSchemaColumns; ++c)
    wide += "[[column]]\nname = \"c" + std::to_string(c) + "\"\ntype = \"ignored\"\n";
  auto schema = Schema::Parse(wide, "wide.toml");
  ASSERT_FALSE(schema.ok());
  EXPECT_THAT(std::string(schema.status().message()), HasSubstr("at most 4096 columns"));
  std::string many =
      "[dataset]\nname = \"many\"\n[[column]]\nname = \"x\"\n"
      "type = \"categorical\"\ncategories = [";
  for (size_t i = 0; i <= kMaxSchemaCategories; ++i) many += "\"k" + std::to_string(i) + "\",";
  many += "]\n";
  schema = Schema::Parse(many, "many.toml");
  ASSERT_FALSE(schema.ok());
  EXPECT_THAT(std::string(schema.status().message()), HasSubstr("more than 4096 entries"));
}

// F12: input paths that are not regular files fail at once instead of blocking (a FIFO opens
// only when a writer comes) or never ending (a device).
TEST(Schema, InputsMustBeRegularFiles) {
  const std::string dir = testing::ScratchDir("regular_files");
  const std::string fifo = dir + "/input.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, dir, std::string("/dev/zero")}) {
    const absl::Status schema = Schema::LoadFile(path).status();
    EXPECT_EQ(schema.code(), absl::StatusCode::kInvalidArgument) << path << ": " << schema;
    EXPECT_THAT(std::string(schema.message()), HasSubstr("regular files only"));
    EXPECT_EQ(ReadFileToString(path).status().code(), absl::StatusCode::kInvalidArgument) << path;
  }
  EXPECT_THAT(std::string(Schema::LoadFile(fifo).status().message()), HasSubstr("is a FIFO"));
  EXPECT_EQ(ReadFileToString(dir + "/absent.csv").status().code(), absl::StatusCode::kNotFound);
}

TEST(Schema, ShippedDemoSchemasParse) {
  for (const char* path :
       {"/heart_disease_uci/heart_disease.schema.toml", "/adult/adult.schema.toml"}) {
    auto schema = Schema::LoadFile(testing::DemoDataDir() + path);
    EXPECT_TRUE(schema.ok()) << schema.status();
  }
}

}  // namespace
}  // namespace fedsyn::data
