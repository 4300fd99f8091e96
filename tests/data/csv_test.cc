#include "common/data/csv.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedsyn::data {
namespace {

using ::testing::ElementsAre;

TEST(Csv, SplitsPlainAndQuotedFields) {
  auto records = ParseCsv("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n", ',', false, "t.csv");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_THAT((*records)[1].fields, ElementsAre("1", "x, y", "say \"hi\""));
  EXPECT_EQ((*records)[1].line, 2);
}

TEST(Csv, QuotedFieldsMaySpanLinesAndLineNumbersFollow) {
  auto records = ParseCsv("\"multi\nline\",2\n3,4\n", ',', false, "t.csv");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].fields[0], "multi\nline");
  EXPECT_EQ((*records)[1].line, 3);
}

TEST(Csv, TrimsSpacesAndCarriageReturnsSkipsBlankLines) {
  auto records = ParseCsv("39, State-gov , x\r\n\n\n1,2,3", ',', true, "t.csv");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_THAT((*records)[0].fields, ElementsAre("39", "State-gov", "x"));
  EXPECT_EQ((*records)[1].line, 4);
}

// ForEachCsvRecord hands over views: unquoted fields point into the text, quoted ones into a
// buffer that grows (and moves) while a record with many of them is read.
TEST(Csv, ManyQuotedFieldsInOneRecordEachKeepTheirOwnText) {
  std::string text;
  std::vector<std::string> expected;
  for (int f = 0; f < 40; ++f) {
    const std::string field = std::string(static_cast<size_t>(f * 7 + 1), 'a' + f % 26) + "\"q";
    expected.push_back(field);
    text += (f > 0 ? "," : "") + EscapeCsvField(field, ',');
  }
  text += ",plain\nnext,\"x\"\n";
  expected.push_back("plain");
  std::vector<std::vector<std::string>> seen;
  ASSERT_TRUE(ForEachCsvRecord(text, ',', false, "t.csv", [&](const CsvRecordView& record) {
                seen.emplace_back(record.fields.begin(), record.fields.end());
                return absl::OkStatus();
              }).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], expected);
  EXPECT_THAT(seen[1], ElementsAre("next", "x"));
}

TEST(Csv, KeepsEmptyFields) {
  auto records = ParseCsv(",,\n", ',', false, "t.csv");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_THAT((*records)[0].fields, ElementsAre("", "", ""));
}

TEST(Csv, ReportsUnterminatedQuotesWithTheLine) {
  auto records = ParseCsv("1,2\n3,\"open\n", ',', false, "bad.csv");
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().message(), "bad.csv:2: unterminated quoted field");
  auto trailing = ParseCsv("\"a\"b,1\n", ',', false, "bad.csv");
  EXPECT_EQ(trailing.status().message(), "bad.csv:1: unexpected text after a closing quote");
}

TEST(Csv, EscapeRoundTrips) {
  for (std::string field : {"plain", "a,b", "quote\"d", " edge ", "new\nline", ""}) {
    auto records = ParseCsv(EscapeCsvField(field, ',') + "\n", ',', false, "t");
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), field.empty() ? 0u : 1u) << field;
    if (!field.empty()) {
      EXPECT_EQ((*records)[0].fields[0], field);
    }
  }
}

}  // namespace
}  // namespace fedsyn::data
