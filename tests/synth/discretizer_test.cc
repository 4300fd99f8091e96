#include "common/synth/discretizer.h"

#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::synth {
namespace {

data::Schema TestSchema() {
  auto schema = data::Schema::Parse(R"(
[dataset]
name = "t"
label = "y"
[[column]]
name = "age"
type = "integer"
min = 17
max = 90
[[column]]
name = "gain"
type = "integer"
min = 0
max = 99999
nullable = true
[[column]]
name = "ratio"
type = "continuous"
min = -1.0
max = 1.0
[[column]]
name = "id"
type = "ignored"
[[column]]
name = "y"
type = "categorical"
categories = ["a", "b", "c"]
)",
                                    "test");
  EXPECT_TRUE(schema.ok()) << schema.status();
  return *schema;
}

TEST(Discretizer, CodesFollowTheDeclaredDomainOnly) {
  auto d = Discretizer::FromSchema(TestSchema(), 16, 128);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->attributes().size(), 4u);  // the ignored column is not an attribute
  EXPECT_EQ(d->label_attribute(), 3);
  EXPECT_TRUE(d->attributes()[0].per_value);
  EXPECT_EQ(d->attributes()[0].size, 74);
  EXPECT_EQ(d->attributes()[1].size, 16 + 2 + 1);  // interior, both bounds, missing
  EXPECT_EQ(d->attributes()[2].size, 16 + 2);
  EXPECT_EQ(d->attributes()[3].size, 3);
}

TEST(Discretizer, DecodedValuesFallInTheirOwnBin) {
  const data::Schema schema = TestSchema();
  auto d = Discretizer::FromSchema(schema, 16, 0);
  ASSERT_TRUE(d.ok());
  testing::SeededRandom rng(3);
  for (size_t a = 0; a < d->attributes().size(); ++a) {
    for (int code = 0; code < d->attributes()[a].size; ++code) {
      for (int trial = 0; trial < 50; ++trial) {
        data::Table one;
        one.rows.emplace_back(schema.columns.size());
        const data::Cell value = d->Decode(static_cast<int>(a), code, rng);
        one.rows[0][static_cast<size_t>(d->attributes()[a].column)] = value;
        // The other columns need valid values to encode.
        for (size_t b = 0; b < d->attributes().size(); ++b) {
          if (b != a)
            one.rows[0][static_cast<size_t>(d->attributes()[b].column)] =
                d->Decode(static_cast<int>(b), 0, rng);
        }
        auto codes = d->Encode(one);
        ASSERT_TRUE(codes.ok()) << codes.status();
        EXPECT_EQ((*codes)[a][0], code) << d->attributes()[a].name;
      }
    }
  }
  // Bounds decode to the bounds themselves; interior integers are integers.
  EXPECT_EQ(*d->Decode(1, 0, rng), 0.0);
  EXPECT_EQ(*d->Decode(1, 17, rng), 99999.0);
  EXPECT_FALSE(d->Decode(1, 18, rng).has_value());  // the missing code
  const double interior = *d->Decode(1, 5, rng);
  EXPECT_EQ(interior, std::floor(interior));
}

TEST(Discretizer, RefusesValuesAndOptionsOutsideTheDeclaration) {
  const data::Schema schema = TestSchema();
  EXPECT_FALSE(Discretizer::FromSchema(schema, 0).ok());
  EXPECT_FALSE(Discretizer::FromSchema(schema, kMaxInteriorBins + 1).ok());
  auto d = Discretizer::FromSchema(schema, 8);
  ASSERT_TRUE(d.ok());
  data::Table table;
  table.rows.push_back({17.0, std::nullopt, 0.5, std::nullopt, 1.0});
  EXPECT_TRUE(d->Encode(table).ok());
  table.rows[0][0] = 91.0;  // above the declared maximum
  EXPECT_FALSE(d->Encode(table).ok());
  table.rows[0][0] = 17.0;
  table.rows[0][2] = std::nullopt;  // not nullable
  EXPECT_FALSE(d->Encode(table).ok());
  table.rows[0][2] = 0.5;
  table.rows[0][4] = 3.0;  // no such category
  EXPECT_FALSE(d->Encode(table).ok());
  table.rows[0][4] = 1.5;
  EXPECT_FALSE(d->Encode(table).ok());
  table.rows[0].pop_back();  // short row
  EXPECT_FALSE(d->Encode(table).ok());
}

}  // namespace
}  // namespace fedsyn::synth
