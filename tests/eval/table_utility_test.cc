#include "common/eval/table_utility.h"

#include <string>

#include "gtest/gtest.h"

namespace fedsyn::eval {
namespace {

// An integer x in [0, 100] and the label y, declared by `label_toml` (its type and categories).
data::Schema Schema(
    const std::string& label_toml = "type = \"binary\"\ncategories = [\"n\", \"p\"]") {
  auto schema = data::Schema::Parse(R"(
[dataset]
name = "u"
label = "y"
[[column]]
name = "x"
type = "integer"
min = 0
max = 100
[[column]]
name = "y"
)" + label_toml + "\n",
                                    "u");
  EXPECT_TRUE(schema.ok()) << schema.status();
  return *schema;
}

// x decides y: x >= 50 is positive. Half the rows sit at the bound 0 in `piled`.
data::Table Rows(bool piled) {
  data::Table t;
  for (int i = 0; i < 400; ++i) {
    const double x = piled && i % 2 == 0 ? 0.0 : (i * 37) % 99 + 1;
    t.rows.push_back({x, x >= 50 ? 1.0 : 0.0});
  }
  return t;
}

TEST(TableUtility, ScoresRealCopiesAsPerfectAndCatchesBoundsAndShifts) {
  const data::Schema schema = Schema();
  const data::Table real = Rows(false);
  auto same = MeasureTableUtility(real, real, real, schema);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_GT(same->accuracy, 0.95);
  EXPECT_GT(same->auc, 0.99);
  EXPECT_EQ(same->mean_tvd_1way, 0.0);
  EXPECT_EQ(same->max_tvd_2way, 0.0);
  EXPECT_LE(same->worst_bound_excess, 0.0);

  auto piled = MeasureTableUtility(Rows(true), real, real, schema);
  ASSERT_TRUE(piled.ok());
  EXPECT_GT(piled->worst_bound_excess, 0.3);
  EXPECT_GT(piled->mean_tvd_1way, 0.2);

  data::Table flipped = real;  // labels inverted: the probe learns the opposite rule
  for (data::Row& row : flipped.rows) row[1] = 1.0 - *row[1];
  auto wrong = MeasureTableUtility(flipped, real, real, schema);
  ASSERT_TRUE(wrong.ok());
  EXPECT_LT(wrong->accuracy, 0.1);
  EXPECT_LT(wrong->auc, 0.1);
  // The profile names where the distance is: x's marginal untouched, y's nearly (201 of 400
  // rows are positive, 199 after the flip), the pair (x, y) wholly wrong.
  ASSERT_EQ(wrong->one_way.size(), 2u);
  EXPECT_EQ(wrong->one_way[0].columns, std::vector<std::string>{"x"});
  EXPECT_EQ(wrong->one_way[0].tvd, 0.0);
  EXPECT_NEAR(wrong->one_way[1].tvd, 2.0 / 400, 1e-12);
  ASSERT_EQ(wrong->two_way.size(), 1u);
  EXPECT_EQ(wrong->two_way[0].columns, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(wrong->two_way[0].tvd, wrong->max_tvd_2way);
  EXPECT_GT(wrong->two_way[0].tvd, 0.9);
}

// A label of more than two categories is probed as its first category against the rest (Heart:
// no disease against any degree of it); the majority class is the reference's.
TEST(TableUtility, ProbesAManyCategoryLabelAsItsFirstCategoryAgainstTheRest) {
  const data::Schema schema =
      Schema("type = \"categorical\"\ncategories = [\"none\", \"mild\", \"severe\"]");
  data::Table real;  // x < 30: none (30% of rows); above: mild or severe alike
  for (int i = 0; i < 400; ++i) {
    const double x = i % 100;
    real.rows.push_back({x, x < 30 ? 0.0 : (i % 2 == 0 ? 1.0 : 2.0)});
  }
  auto same = MeasureTableUtility(real, real, real, schema);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_GT(same->accuracy, 0.95) << "x separates none from the rest";
  EXPECT_GT(same->auc, 0.99);
  EXPECT_NEAR(same->majority_accuracy, 0.7, 1e-9) << "'not none' is the majority";
}

TEST(TableUtility, RefusesEmptyTables) {
  const data::Schema schema = Schema();
  EXPECT_FALSE(MeasureTableUtility(data::Table{}, Rows(false), Rows(false), schema).ok());
}

}  // namespace
}  // namespace fedsyn::eval
