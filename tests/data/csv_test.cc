#include "common/data/csv.h"

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
