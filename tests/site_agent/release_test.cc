#include "site_agent/release.h"

#include <cmath>
#include <map>

#include "common/data/table_io.h"
#include "gtest/gtest.h"
#include "site_agent/pipeline.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::site {
namespace {

using ::fedsyn::testing::SeededRandom;

privacy::MetricMechanism Mechanism(double epsilon_d, double radius = 2.0, int k = 8) {
  return *privacy::MetricMechanism::Create(
      {privacy::NoiseMetric::kL2, epsilon_d, radius, k, std::nullopt});
}

TEST(PrivatizeCodes, CountsClippedCodesAndRefusesWrongDimension) {
  data::Matrix codes(3, 8);
  codes.Row(0)[0] = 5.0f;  // outside R = 2
  codes.Row(1)[1] = 0.5f;
  SeededRandom rng(1);
  ReleaseCounts counts;
  auto noised = PrivatizeCodes(codes, Mechanism(1.0), rng, counts);
  ASSERT_TRUE(noised.ok());
  EXPECT_EQ(counts.clipped_codes, 1);
  EXPECT_EQ(counts.records, 3);
  ReleaseCounts unused;
  EXPECT_EQ(PrivatizeCodes(codes, Mechanism(1.0, 2.0, 4), rng, unused).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class HeartRelease : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::ScratchDir("heart_release"));
    TrainRequest request;
    request.input_csv = testing::DemoDataDir() + "/heart_disease_uci/processed.cleveland.data";
    request.schema_path = testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
    request.model_out = *dir_ + "/cleveland.model";
    request.train.max_epochs = 120;
    request.train.learning_rate = 3e-3;
    request.seed = 17;
    base::NullProgress progress;
    SeededRandom secure_stand_in(17);
    ASSERT_TRUE(RunTrain(request, progress, secure_stand_in).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string* dir_;
};
std::string* HeartRelease::dir_ = nullptr;

// Mean over columns of the total-variation distance between the real and synthetic
// marginals (categorical columns; numeric columns binned into 10 equal-width bins of the
// declared range; "missing" is its own bin).
double MarginalDistance(const data::Table& real, const data::Table& synthetic,
                        const data::Schema& schema) {
  double total = 0;
  int columns = 0;
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    const auto& column = schema.columns[c];
    auto bin = [&](const data::Cell& cell) -> int {
      if (!cell) return -1;
      if (column.IsCategorical()) return static_cast<int>(*cell);
      return std::min(9, static_cast<int>(10 * (*cell - column.min) / (column.max - column.min)));
    };
    std::map<int, double> p, q;
    for (const auto& row : real.rows) p[bin(row[c])] += 1.0 / real.num_rows();
    for (const auto& row : synthetic.rows) q[bin(row[c])] += 1.0 / synthetic.num_rows();
    double tv = 0;
    for (const auto& [k, v] : p) tv += std::fabs(v - q[k]);
    for (const auto& [k, v] : q)
      if (!p.count(k)) tv += v;
    total += tv / 2;
    ++columns;
  }
  return total / columns;
}

TEST_F(HeartRelease, WeakNoiseKeepsMarginalsCloserThanStrongNoise) {
  auto bundle = model::LoadModelBundle(*dir_ + "/cleveland.model");
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto real = data::ReadCsvTable(
      testing::DemoDataDir() + "/heart_disease_uci/processed.cleveland.data", *bundle->schema);
  ASSERT_TRUE(real.ok());
  SeededRandom rng(5);
  double weak = 0, strong = 0;
  // Average over a few draws so that one lucky draw cannot decide the comparison.
  for (int repeat = 0; repeat < 5; ++repeat) {
    auto near = ReleaseTable(*bundle, real->table, Mechanism(1e4, 3.0), data::DecodingMode::kSample,
                             privacy::CodeDecoding::kNoisedCode, rng);
    auto far = ReleaseTable(*bundle, real->table, Mechanism(0.05, 3.0), data::DecodingMode::kSample,
                            privacy::CodeDecoding::kNoisedCode, rng);
    ASSERT_TRUE(near.ok() && far.ok());
    weak += MarginalDistance(real->table, near->synthetic, *bundle->schema);
    strong += MarginalDistance(real->table, far->synthetic, *bundle->schema);
  }
  std::printf("marginal TV: weak %.4f strong %.4f\n", weak / 5, strong / 5);
  EXPECT_LT(weak, 0.75 * strong) << "weak " << weak / 5 << " strong " << strong / 5;
}

TEST_F(HeartRelease, RefusesImagesForATableModel) {
  auto bundle = model::LoadModelBundle(*dir_ + "/cleveland.model");
  ASSERT_TRUE(bundle.ok());
  SeededRandom rng(6);
  data::ImageSet images;
  EXPECT_EQ(ReleaseImages(*bundle, images, {}, Mechanism(1.0), std::nullopt,
                          privacy::CodeDecoding::kNoisedCode, rng)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedsyn::site
