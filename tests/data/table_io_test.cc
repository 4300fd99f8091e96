#include "common/data/table_io.h"

#include <cmath>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/data/csv.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::data {
namespace {

using ::testing::HasSubstr;

constexpr char kSchema[] = R"(
[dataset]
name = "toy"
label = "y"
missing = ["?"]
[[column]]
name = "age"
type = "integer"
min = 0
max = 120
[[column]]
name = "bp"
type = "continuous"
min = 50
max = 250
nullable = true
out_of_range = "clamp"
[[column]]
name = "cp"
type = "categorical"
categories = ["1", "2", "4"]
[[column]]
name = "y"
type = "binary"
categories = ["no", "yes"]
aliases = { "yes." = "yes" }
)";

Schema ToySchema() { return *Schema::Parse(kSchema, "toy.toml"); }

TEST(TableIo, ReadsValuesMissingAndNumericCategoryCodes) {
  auto read = ParseCsvTable("63,145.5,1.0,no\n67,?,4,yes.\n", ToySchema(), "toy.csv");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->table.num_rows(), 2);
  EXPECT_EQ(read->table.rows[0][0], 63.0);
  EXPECT_EQ(read->table.rows[0][1], 145.5);
  EXPECT_EQ(read->table.rows[0][2], 0.0);  // "1.0" is declared category "1" (index 0)
  EXPECT_FALSE(read->table.rows[1][1].has_value());
  EXPECT_EQ(read->table.rows[1][2], 2.0);
  EXPECT_EQ(read->table.rows[1][3], 1.0);  // alias "yes." -> "yes"
  EXPECT_EQ(read->report.columns[1].missing, 1);
  EXPECT_EQ(read->report.rows, 2);
}

// A check resolves each token a schema names once per scan (CellParser's table); every answer
// must be the one the full lookup (alias, then name, then numeric code) gives.
TEST(TableIo, CategoryTokensReadAsTheFullLookupGivesThem) {
  Schema schema = ToySchema();
  ColumnSpec& cp = schema.columns[2];  // categories "1", "2", "4"
  cp.aliases["4"] = "2";               // an alias that is also a declared category: the alias wins
  cp.aliases["two"] = "2";
  cp.aliases["1"] = "9";  // only a schema built in code can do this: the alias names no category
  auto read = ParseCsvTable("1,100,4,no\n1,100,two,no\n1,100,2.0,no\n1,100,04,no\n", schema, "t");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->table.num_rows(), 4);
  EXPECT_EQ(read->table.rows[0][2], 1.0);  // "4" -> alias "2"
  EXPECT_EQ(read->table.rows[1][2], 1.0);  // "two" -> "2"
  EXPECT_EQ(read->table.rows[2][2], 1.0);  // numerically "2"
  EXPECT_EQ(read->table.rows[3][2], 2.0);  // "04" is numerically "4" (no alias for "04")
  auto refused = ParseCsvTable("1,100,1,no\n", schema, "t");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("unknown category '1'"));
  EXPECT_FALSE(ParseCsvTable("1,100,3,no\n", schema, "t").ok());
}

// Short integers take a fast path; its values must be exactly from_chars's, and anything else
// must still go to from_chars.
TEST(TableIo, NumbersReadExactlyOnTheIntegerPathAndOffIt) {
  constexpr char kWide[] = R"(
[dataset]
name = "wide"
[[column]]
name = "x"
type = "continuous"
min = -1e15
max = 1e15
)";
  const auto schema = Schema::Parse(kWide, "wide.toml");
  ASSERT_TRUE(schema.ok()) << schema.status();
  const std::vector<std::pair<std::string, double>> cases = {
      {"0", 0.0},
      {"007", 7.0},
      {"+5", 5.0},
      {"-12", -12.0},
      {"999999999999999", 999999999999999.0},  // 15 digits: the fast path's longest
      {"0000000000000000123", 123.0},          // 19 digits: from_chars's
      {"-900719925474099.5", -900719925474099.5},
      {"12.5", 12.5},
      {"1e3", 1000.0}};
  for (const auto& [text, value] : cases) {
    auto read = ParseCsvTable(text + "\n", *schema, "t");
    ASSERT_TRUE(read.ok()) << text << ": " << read.status();
    EXPECT_EQ(read->table.rows[0][0], value) << text;
  }
  auto negative_zero = ParseCsvTable("-0\n", *schema, "t");
  ASSERT_TRUE(negative_zero.ok());
  EXPECT_TRUE(std::signbit(*negative_zero->table.rows[0][0]));
  for (const char* bad : {"-", "--5", "+-5", "12a", "1 2", "0x10", "+"}) {
    EXPECT_FALSE(ParseCsvTable(std::string(bad) + "\n", *schema, "t").ok()) << bad;
  }
}

// F10: a schema whose text values and column names a spreadsheet would run as formulas.
constexpr char kFormulaSchema[] = R"toml(
[dataset]
name = "formulas"
missing = ["-"]
[[column]]
name = "=cmd|' /C calc'!A0"
type = "categorical"
categories = ["=HYPERLINK(\"http://x\")", "+x", "@SUM(A1)", "-1", "\tlead", "plain"]
[[column]]
name = "delta"
type = "integer"
min = -1000
max = 1000
nullable = true
)toml";

TEST(TableIo, FormulaLikeTextIsNeutralisedNumbersNeverAndItReadsBack) {
  const Schema schema = *Schema::Parse(kFormulaSchema, "formulas.toml");
  auto read = ParseCsvTable(
      "\"=HYPERLINK(\"\"http://x\"\")\",-5\n+x,-\n@SUM(A1),+7\n-1,-1000\n\"\tlead\",0\nplain,12\n",
      schema, "in.csv");
  ASSERT_TRUE(read.ok()) << read.status();
  const std::string neutral = FormatCsvTable(read->table, schema, FormulaCells::kNeutralise);
  EXPECT_EQ(neutral,
            "'=cmd|' /C calc'!A0,delta\n"
            "\"'=HYPERLINK(\"\"http://x\"\")\",-5\n"
            "'+x,'-\n"  // the missing token "-" is not a number either; the reader restores it
            "'@SUM(A1),7\n"
            "-1,-1000\n"  // a category that is a number, and a negative number: unchanged
            "'\tlead,0\n"
            "plain,12\n")
      << neutral;
  EXPECT_THAT(FormatCsvTable(read->table, schema, FormulaCells::kKeep),
              ::testing::StartsWith("=cmd|' /C calc'!A0,delta\n\"=HYPERLINK("));
  auto reread = ParseCsvTable(neutral, schema, "out.csv", OutputCsvFormat());
  ASSERT_TRUE(reread.ok()) << reread.status();
  EXPECT_EQ(reread->table.rows, read->table.rows);
}

TEST(Csv, FormulaLikeFieldsAndPlainNumbers) {
  for (const char* formula : {"=1+1", "+cmd", "-x", "@A1", "\tx", "\rx", "-", "+", "=", "-1x"})
    EXPECT_TRUE(IsFormulaLike(formula)) << formula;
  for (const char* data : {"", "x=1", "1", "-1", "+3", "-1.5", "-2e5", "+.5", "'=x", " =x"})
    EXPECT_FALSE(IsFormulaLike(data)) << data;
  EXPECT_EQ(NeutraliseFormula("=1+1"), "'=1+1");
  EXPECT_EQ(NeutraliseFormula(NeutraliseFormula("=1+1")), "'=1+1") << "idempotent";
  EXPECT_EQ(NeutraliseFormula("-1.5"), "-1.5");
  EXPECT_EQ(RestoreFormula("'=1+1"), "=1+1");
  EXPECT_EQ(RestoreFormula("'quoted"), "'quoted") << "a genuine leading quote stays";
  auto rows = NeutraliseFormulas("=a,-1,\"x,y\"\n@b,+2,-\n", ',', "rows");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "'=a,-1,\"x,y\"\n'@b,+2,'-\n");
  EXPECT_FALSE(NeutraliseFormulas("\"unterminated\n", ',', "rows").ok());
}

// A bad field is named in the error, but only its first characters: the message reaches the
// terminal and logs, and the field is a patient's data (issue #12, F12).
TEST(TableIo, ErrorsShowOnlyTheStartOfABadField) {
  const std::string huge(100'000, '7');
  auto read = ParseCsvTable("63,145.5,1," + huge + "\n", ToySchema(), "toy.csv");
  ASSERT_FALSE(read.ok());
  const std::string message(read.status().message());
  EXPECT_LT(message.size(), 200u) << message.substr(0, 300);
  EXPECT_THAT(message, HasSubstr("(100000 bytes)"));
  EXPECT_THAT(message, HasSubstr("unknown category"));
}

TEST(TableIo, ClampsWhenTheSchemaSaysSoAndCountsIt) {
  auto read = ParseCsvTable("63,300,1,no\n64,10,2,no\n65,100,2,no\n", ToySchema(), "toy.csv");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->table.rows[0][1], 250.0);
  EXPECT_EQ(read->table.rows[1][1], 50.0);
  EXPECT_EQ(read->report.columns[1].clamped, 2);
  EXPECT_EQ(read->report.TotalClamped(), 2);
}

struct BadInput {
  std::string name;
  std::string csv;
  std::string expected;
};

class TableIoErrors : public ::testing::TestWithParam<BadInput> {};

TEST_P(TableIoErrors, NameFileLineColumnAndReason) {
  auto read = ParseCsvTable(GetParam().csv, ToySchema(), "site.csv");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(read.status().message()), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TableIoErrors,
    ::testing::Values(
        BadInput{"WrongColumnCount", "63,145,1,no\n64,145,1\n",
                 "site.csv:2: 3 columns, schema declares 4"},
        BadInput{"Unparsable", "6x3,145,1,no\n",
                 "site.csv:1: column 1 'age': cannot parse '6x3' as a number"},
        BadInput{"NaN", "63,nan,1,no\n", "site.csv:1: column 2 'bp': NaN or infinite value 'nan'"},
        BadInput{"Inf", "63,-inf,1,no\n",
                 "site.csv:1: column 2 'bp': NaN or infinite value '-inf'"},
        BadInput{"Overflow", "63,1e999,1,no\n",
                 "site.csv:1: column 2 'bp': NaN or infinite value '1e999'"},
        BadInput{"UnknownCategory", "63,145,3,no\n",
                 "site.csv:1: column 3 'cp': unknown category '3'"},
        BadInput{"OutOfRangeRejected", "63,145,1,no\n130,145,1,no\n",
                 "site.csv:2: column 1 'age': value '130' outside the declared range [0, 120]"},
        BadInput{"NotInteger", "63.5,145,1,no\n",
                 "site.csv:1: column 1 'age': value '63.5' is not an integer"},
        BadInput{"MissingNotNullable", "?,145,1,no\n",
                 "site.csv:1: column 1 'age': missing value '?' but the column is not declared "
                 "nullable"},
        BadInput{"Empty", "\n\n", "site.csv: no data rows"}),
    [](const auto& info) { return info.param.name; });

TEST(TableIo, HeaderMustMatchTheSchema) {
  CsvFormat format = OutputCsvFormat();
  auto read = ParseCsvTable("age,pressure,cp,y\n63,145,1,no\n", ToySchema(), "h.csv", format);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()),
              HasSubstr("named 'pressure' in the header but 'bp'"));
}

TEST(TableIo, WrittenTablesReadBackIdentically) {
  const Schema schema = ToySchema();
  auto read = ParseCsvTable("63,145.25,1,no\n67,?,4,yes\n", schema, "toy.csv");
  ASSERT_TRUE(read.ok());
  const std::string text = FormatCsvTable(read->table, schema, FormulaCells::kKeep);
  EXPECT_EQ(text, "age,bp,cp,y\n63,145.25,1,no\n67,?,4,yes\n");
  auto again = ParseCsvTable(text, schema, "out.csv", OutputCsvFormat());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->table.rows, read->table.rows);
}

TEST(TableIo, ReadsTheShippedHospitalFiles) {
  auto schema =
      Schema::LoadFile(testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml");
  ASSERT_TRUE(schema.ok());
  const std::vector<std::pair<std::string, int>> sites = {
      {"cleveland", 303}, {"hungarian", 294}, {"switzerland", 123}, {"va", 200}};
  for (const auto& [site, rows] : sites) {
    auto read = ReadCsvTable(
        testing::DemoDataDir() + "/heart_disease_uci/processed." + site + ".data", *schema);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->report.rows, rows) << site;
  }
  auto adult_schema = Schema::LoadFile(testing::DemoDataDir() + "/adult/adult.schema.toml");
  ASSERT_TRUE(adult_schema.ok());
  auto adult = ReadCsvTable(testing::DemoDataDir() + "/adult/adult.data", *adult_schema);
  ASSERT_TRUE(adult.ok()) << adult.status();
  EXPECT_EQ(adult->report.rows, 32561);
}

TEST(TableIo, AtomicWriteReplacesWholeFiles) {
  const std::string path = testing::ScratchDir("atomic") + "/out.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  EXPECT_EQ(*ReadFileToString(path), "second");
  EXPECT_EQ(WriteFileAtomically("/nonexistent-dir/x", "y").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(MatrixCsv, RoundTripsFloatsExactlyAndRefusesMalformedRows) {
  Matrix m(2, 3);
  m.values = {0.1f, -3.0e-7f, 1234.5f, 0.0f, 1.0f / 3.0f, -2.75f};
  const std::string with_header = FormatMatrixCsv(m, /*header=*/true);
  EXPECT_EQ(with_header.substr(0, with_header.find('\n')), "z1,z2,z3");
  auto back = ParseMatrixCsv(with_header, 3, /*header=*/true, "codes.csv");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rows, 2);
  EXPECT_EQ(back->values, m.values) << "bit-exact: the codes are the mechanism's output";
  const std::string body = FormatMatrixCsv(m, /*header=*/false);
  EXPECT_EQ(ParseMatrixCsv(body, 3, false, "x")->values, m.values);

  auto expect_error = [](const std::string& text, const std::string& reason) {
    auto parsed = ParseMatrixCsv(text, 3, false, "chunk");
    ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(parsed.status().message()), ::testing::HasSubstr(reason)) << text;
  };
  expect_error("1,2\n", "chunk:1: expected 3 numbers per row");
  expect_error("1,2,3\n1,2,3,4\n", "chunk:2: expected 3 numbers per row");
  expect_error("1,nan,3\n", "field 2 is not finite");
  expect_error("1,2,1e999\n", "field 3 is not finite");
  expect_error("1,x,3\n", "field 2 is not a number");
  expect_error("1,2,3\n\n", "chunk:2: field 1 is not a number");
  EXPECT_EQ(ParseMatrixCsv("", 3, false, "x")->rows, 0);
  EXPECT_EQ(ParseMatrixCsv("1\n", 0, false, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedsyn::data
