#include "common/data/transformer.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "common/data/table_io.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::data {
namespace {

Schema HeartSchema() {
  return *Schema::LoadFile(testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml");
}

// A transformer for a schema with the single column described by `column_toml`.
absl::StatusOr<Transformer> OneColumnTransformer(
    const std::string& column_toml, NumericLayout layout = NumericLayout::kBoundPositions) {
  ASSIGN_OR_RETURN(
      const Schema schema,
      Schema::Parse("[dataset]\nname = \"one\"\n[[column]]\n" + column_toml, "one.toml"));
  return Transformer::FromSchema(schema, layout);
}

TEST(Transformer, LayoutFollowsTheSchemaOnly) {
  const Schema schema = HeartSchema();
  auto t = Transformer::FromSchema(schema);
  ASSERT_TRUE(t.ok());
  // age(1) sex(2) cp(4) trestbps(1+1) chol(1+1) fbs(2+1) restecg(3+1) thalach(1+1)
  // exang(2+1) oldpeak(1+1) slope(3+1) ca(1+1) thal(3+1) num(5), plus a 3-slot bound position
  // for each of the six numeric columns
  EXPECT_EQ(t->width(), 1 + 2 + 4 + 2 + 2 + 3 + 4 + 2 + 3 + 2 + 4 + 2 + 4 + 5 + 6 * 3);
  auto legacy = Transformer::FromSchema(schema, NumericLayout::kGaussianOnly);
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->width(), 1 + 2 + 4 + 2 + 2 + 3 + 4 + 2 + 3 + 2 + 4 + 2 + 4 + 5)
      << "model files without a stated layout keep theirs";
  int covered = 0;
  for (const Block& b : t->blocks()) {
    EXPECT_EQ(b.offset, covered);
    covered += b.width;
  }
  EXPECT_EQ(covered, t->width());
}

TEST(Transformer, InverseOfEncodeIsExactOnEveryHospitalFile) {
  const Schema schema = HeartSchema();
  auto t = Transformer::FromSchema(schema);
  for (const char* site : {"cleveland", "hungarian", "switzerland", "va"}) {
    auto read = ReadCsvTable(
        testing::DemoDataDir() + "/heart_disease_uci/processed." + site + ".data", schema);
    ASSERT_TRUE(read.ok()) << read.status();
    const Table back = t->Inverse(t->Encode(read->table));
    ASSERT_EQ(back.num_rows(), read->table.num_rows());
    for (size_t r = 0; r < back.rows.size(); ++r) {
      for (size_t c = 0; c < schema.columns.size(); ++c) {
        const Cell& want = read->table.rows[r][c];
        const Cell& got = back.rows[r][c];
        ASSERT_EQ(want.has_value(), got.has_value()) << site << " row " << r << " col " << c;
        if (!want) continue;
        if (schema.columns[c].type == ColumnType::kContinuous) {
          // Model space is float32: the round trip is exact to float precision of the scaled value.
          EXPECT_NEAR(*got, *want, 1e-6 * (schema.columns[c].max - schema.columns[c].min));
        } else {
          EXPECT_EQ(*got, *want) << site << " row " << r << " col " << c;
        }
      }
    }
  }
}

TEST(Transformer, DecodedLogitsAlwaysSatisfyTheSchema) {
  const Schema schema = HeartSchema();
  auto t = Transformer::FromSchema(schema);
  testing::SeededRandom rng(9);
  Matrix logits(500, t->width());
  for (float& v : logits.values)
    v = static_cast<float>((rng.UniformOpen01() - 0.5) * 20.0);  // far outside [-1, 1]
  for (auto decoding : {DecodingMode::kSample, DecodingMode::kArgmax}) {
    const Table table = t->DecodeLogits(logits, decoding, [&rng] { return rng.UniformOpen01(); });
    // Writing and re-reading under the schema validates every value and bound.
    auto again = ParseCsvTable(FormatCsvTable(table, schema, FormulaCells::kKeep), schema,
                               "decoded", OutputCsvFormat());
    EXPECT_TRUE(again.ok()) << again.status();
  }
}

TEST(Transformer, SamplingFollowsTheDecoderDistribution) {
  auto t =
      OneColumnTransformer("name = \"c\"\ntype = \"categorical\"\ncategories = [\"a\", \"b\"]");
  ASSERT_TRUE(t.ok()) << t.status();
  Matrix logits(20000, 2);
  for (int64_t r = 0; r < logits.rows; ++r) {
    logits.Row(r)[0] = 0.0f;
    logits.Row(r)[1] = std::log(3.0f);  // P(b) = 3/4
  }
  testing::SeededRandom rng(10);
  const Table sampled =
      t->DecodeLogits(logits, DecodingMode::kSample, [&rng] { return rng.UniformOpen01(); });
  int b = 0;
  for (const Row& row : sampled.rows) b += *row[0] == 1.0;
  // 20,000 draws, sd of the share = 0.0031: 0.75 +- 0.02 is over 6 sd.
  EXPECT_NEAR(b / 20000.0, 0.75, 0.02);
  const Table argmax = t->DecodeLogits(logits, DecodingMode::kArgmax, nullptr);
  for (const Row& row : argmax.rows) ASSERT_EQ(*row[0], 1.0);
}

TEST(Transformer, SamplesContinuousValuesWithTheDecoderScale) {
  auto t = OneColumnTransformer("name = \"x\"\ntype = \"continuous\"\nmin = 0\nmax = 100",
                                NumericLayout::kGaussianOnly);
  ASSERT_TRUE(t.ok()) << t.status();
  Matrix means(20000, 1);                   // all 0 in model space: the middle of [0, 100]
  const std::vector<float> scale = {0.2f};  // 0.2 in model space = 10 in data units
  testing::SeededRandom rng(11);
  const Table sampled = t->DecodeLogits(
      means, DecodingMode::kSample, [&rng] { return rng.UniformOpen01(); }, scale);
  double sum = 0, sq = 0;
  for (const Row& row : sampled.rows) {
    sum += *row[0];
    sq += *row[0] * *row[0];
  }
  const double mean = sum / 20000, sd = std::sqrt(sq / 20000 - mean * mean);
  // Standard errors: mean 0.07, sd 0.05; the bounds are > 7 standard errors wide.
  EXPECT_NEAR(mean, 50.0, 0.5);
  EXPECT_NEAR(sd, 10.0, 0.4);
  // Argmax (and sampling without scales) gives the mean itself.
  const Table at_mean = t->DecodeLogits(means, DecodingMode::kArgmax, nullptr, scale);
  EXPECT_EQ(*at_mean.rows[0][0], 50.0);
}

// P(Z <= t) for the standard normal, accurate in the lower tail.
double NormalCdf(double t) { return 0.5 * std::erfc(-t / std::sqrt(2.0)); }

// Largest distance between the empirical CDF of `xs` (model space) and N(mean, sd^2) conditioned
// on [-1, 1], computed in the lower tail (the means tested sit at or above the upper bound, so
// the interval is the mean's lower tail).
double KsToTruncatedNormal(std::vector<double> xs, double mean, double sd) {
  std::sort(xs.begin(), xs.end());
  const double p_lo = NormalCdf((-1.0 - mean) / sd), p_hi = NormalCdf((1.0 - mean) / sd);
  double d = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double cdf = (NormalCdf((xs[i] - mean) / sd) - p_lo) / (p_hi - p_lo);
    d = std::max({d, std::fabs(cdf - static_cast<double>(i) / xs.size()),
                  std::fabs(cdf - static_cast<double>(i + 1) / xs.size())});
  }
  return d;
}

// A decoder mean at or beyond a bound: the draws follow the likelihood conditioned on the domain
// (KS at alpha = 1e-6), none pile up on the bound itself, and the test tells a mis-scaled draw.
TEST(Transformer, SampledValuesFollowTheLikelihoodWithinTheBoundsWithoutPilingOnThem) {
  auto t = OneColumnTransformer("name = \"x\"\ntype = \"continuous\"\nmin = 0\nmax = 100",
                                NumericLayout::kGaussianOnly);
  ASSERT_TRUE(t.ok()) << t.status();
  constexpr int kDraws = 20000;
  const double critical = std::sqrt(std::log(2.0 / 1e-6) / (2.0 * kDraws));  // DKW
  // (mean, sd) in model space: beyond the upper bound; at it; far out in the tail.
  for (const auto& [mean, sd] : std::vector<std::pair<float, float>>{
           {1.5f, 0.5f}, {1.0f, 0.3f}, {4.0f, 0.1f}}) {
    Matrix means(kDraws, 1);
    for (int64_t r = 0; r < kDraws; ++r) means.Row(r)[0] = mean;
    const std::vector<float> scale = {sd};
    testing::SeededRandom rng(23);
    const Table sampled = t->DecodeLogits(
        means, DecodingMode::kSample, [&rng] { return rng.UniformOpen01(); }, scale);
    std::vector<double> model_space;
    int at_bound = 0;
    for (const Row& row : sampled.rows) {
      ASSERT_GE(*row[0], 0.0);
      ASSERT_LE(*row[0], 100.0);
      at_bound += *row[0] == 100.0;
      model_space.push_back(*row[0] / 50.0 - 1.0);
    }
    EXPECT_LE(at_bound, 2) << "mean " << mean << ": draws piled on the bound";
    EXPECT_LT(KsToTruncatedNormal(model_space, mean, sd), critical) << "mean " << mean;
    EXPECT_GT(KsToTruncatedNormal(model_space, mean, 1.5 * sd), critical)
        << "power: a draw with 1.5x the scale is told apart (mean " << mean << ")";
  }
  // A hostile decoder output (a mean 1e12 away) ends at the nearer bound, promptly.
  Matrix far(1, 1);
  far.Row(0)[0] = 1e12f;
  const std::vector<float> scale = {1e11f};
  testing::SeededRandom rng(5);
  const Table clamped = t->DecodeLogits(
      far, DecodingMode::kSample, [&rng] { return rng.UniformOpen01(); }, scale);
  EXPECT_EQ(*clamped.rows[0][0], 100.0);
}

// With bound positions a value on a bound is a point mass of its own: encoded in the position
// slot, decoded exactly, drawn as often as the position's softmax says; an inside value never
// lands on a bound (integers: not even after rounding).
TEST(Transformer, BoundPositionsCarryPointMassesAtTheBounds) {
  auto t = OneColumnTransformer("name = \"x\"\ntype = \"integer\"\nmin = 0\nmax = 100");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->width(), 4);  // value, then at min / inside / at max
  Table records;
  for (const double v : {0.0, 1.0, 37.0, 99.0, 100.0}) records.rows.push_back({v});
  const Matrix encoded = t->Encode(records);
  EXPECT_EQ(encoded.Row(0)[1], 1.0f);
  EXPECT_EQ(encoded.Row(2)[2], 1.0f);
  EXPECT_EQ(encoded.Row(4)[3], 1.0f);
  const Table back = t->Inverse(encoded);
  for (size_t r = 0; r < records.rows.size(); ++r)
    EXPECT_EQ(*back.rows[r][0], *records.rows[r][0]) << r;

  // Position logits log(0.7), log(0.2), log(0.1); the mean sits below the lower bound with a
  // wide scale, so a clamped draw would pile most of the inside mass on 0 as well.
  constexpr int kDraws = 20000;
  Matrix logits(kDraws, 4);
  for (int64_t r = 0; r < kDraws; ++r) {
    logits.Row(r)[0] = -1.5f;
    logits.Row(r)[1] = std::log(0.7f);
    logits.Row(r)[2] = std::log(0.2f);
    logits.Row(r)[3] = std::log(0.1f);
  }
  const std::vector<float> scale = {0.5f, 0, 0, 0};
  testing::SeededRandom rng(3);
  const Table sampled = t->DecodeLogits(
      logits, DecodingMode::kSample, [&rng] { return rng.UniformOpen01(); }, scale);
  int at_min = 0, at_max = 0;
  for (const Row& row : sampled.rows) {
    at_min += *row[0] == 0.0;
    at_max += *row[0] == 100.0;
    ASSERT_EQ(*row[0], std::round(*row[0]));
  }
  // Binomial standard errors: 0.0032 and 0.0021; about 6 of them either side.
  EXPECT_NEAR(at_min / double{kDraws}, 0.7, 0.02);
  EXPECT_NEAR(at_max / double{kDraws}, 0.1, 0.013);
}

}  // namespace
}  // namespace fedsyn::data
