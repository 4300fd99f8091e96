// DP-SGD's fast per-record path against a reference computed one record at a time, and the
// statistics of the noise it adds.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/data/table_io.h"
#include "common/data/transformer.h"
#include "common/model/vae.h"
#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/seeded_random.h"
#include "tests/support/statistics.h"
#include "tests/support/test_paths.h"

namespace fedsyn::model {
namespace {

struct Fixture {
  std::unique_ptr<Vae> vae;
  data::Matrix batch;
  data::Matrix eps;
};

// A VAE on Cleveland after a few epochs (so gradients are not at initialisation), a batch of
// 16 records and fixed reparameterisation noise.
Fixture MakeFixture() {
  const testing::EncodedHeart heart = testing::LoadEncodedHeart("cleveland");
  const data::Matrix& encoded = heart.encoded;
  Fixture f;
  f.vae = std::move(*Vae::Create(TableVaeSpec(heart.transformer, 8, {64, 32}), 4));
  TrainOptions options;
  options.max_epochs = 3;
  options.seed = 4;
  options.threads = 2;
  base::NullProgress progress;
  EXPECT_TRUE(f.vae->Train(encoded, options, progress).ok());
  f.batch = data::Matrix(16, encoded.cols);
  std::copy(encoded.values.begin(), encoded.values.begin() + 16 * encoded.cols,
            f.batch.values.begin());
  f.eps = data::Matrix(16, 8);
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal;
  for (float& v : f.eps.values) v = normal(rng);
  return f;
}

data::Matrix Row(const data::Matrix& m, int64_t r) {
  data::Matrix row(1, m.cols);
  std::copy(m.Row(r), m.Row(r) + m.cols, row.values.begin());
  return row;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

// The fast path's per-record norms and clipped sum against one backward pass per record, at
// a clip norm between the records' norms (the median): some records clipped, some not.
void ExpectMatchesRecordByRecord(Vae& vae, const data::Matrix& batch, const data::Matrix& eps,
                                 double tolerance) {
  std::vector<std::vector<float>> references;
  std::vector<double> norms;
  for (int64_t i = 0; i < batch.rows; ++i) {
    references.push_back(vae.SummedGradient(Row(batch, i), Row(eps, i)));
    norms.push_back(Norm(references.back()));
  }
  std::vector<double> sorted = norms;
  std::sort(sorted.begin(), sorted.end());
  const double clip = 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  auto fast = vae.ClipPerRecordGradients(batch, eps, clip);
  ASSERT_TRUE(fast.ok()) << fast.status();
  std::vector<double> expected_sum(fast->clipped_sum.size(), 0.0);
  int clipped_records = 0;
  for (int64_t i = 0; i < batch.rows; ++i) {
    const std::vector<float>& reference = references[static_cast<size_t>(i)];
    const double norm = norms[static_cast<size_t>(i)];
    EXPECT_NEAR(fast->norms[static_cast<size_t>(i)], norm, tolerance * norm) << "record " << i;
    const double factor = std::min(1.0, clip / norm);
    clipped_records += factor < 1.0;
    double clipped_norm2 = 0;
    for (size_t j = 0; j < reference.size(); ++j) {
      expected_sum[j] += factor * reference[j];
      clipped_norm2 += std::pow(factor * reference[j], 2);
    }
    EXPECT_LE(std::sqrt(clipped_norm2), clip * (1 + 1e-5)) << "every clipped gradient is within C";
  }
  EXPECT_GT(clipped_records, 0) << "the test must exercise clipping";
  EXPECT_LT(clipped_records, batch.rows) << "and records inside the ball";
  double diff2 = 0, ref2 = 0;
  for (size_t j = 0; j < expected_sum.size(); ++j) {
    diff2 += std::pow(fast->clipped_sum[j] - expected_sum[j], 2);
    ref2 += expected_sum[j] * expected_sum[j];
  }
  EXPECT_LT(std::sqrt(diff2), tolerance * std::sqrt(ref2));
}

TEST(DpSgd, FastPerRecordNormsAndClippedSumsMatchTheRecordByRecordReference) {
  Fixture f = MakeFixture();
  ExpectMatchesRecordByRecord(*f.vae, f.batch, f.eps, 1e-5);
}

// The added noise is N(0, (sigma C)^2) per coordinate: KS test at alpha = 1e-6 (DKW bound)
// over every coordinate of five noise draws (~90,000 values: the critical value is 0.012,
// while a 10% error in sigma moves the CDF by ~0.026), with the power check that a 10% larger
// claimed sigma is rejected.
TEST(DpSgd, AddedNoiseHasTheStatedStandardDeviation) {
  Fixture f = MakeFixture();
  constexpr double kClip = 0.5, kSigma = 1.3;
  auto clean = f.vae->ClipPerRecordGradients(f.batch, f.eps, kClip);
  ASSERT_TRUE(clean.ok());
  std::vector<double> noise;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    testing::SeededRandom key_source(seed);
    auto noisy = f.vae->NoisyClippedGradient(f.batch, f.eps, kClip, kSigma, key_source);
    ASSERT_TRUE(noisy.ok());
    for (size_t j = 0; j < noisy->size(); ++j) noise.push_back((*noisy)[j] - clean->clipped_sum[j]);
  }
  ASSERT_GT(noise.size(), 50000u);
  auto normal_cdf = [](double sd) {
    return [sd](double x) { return 0.5 * std::erfc(-x / (sd * std::sqrt(2.0))); };
  };
  const double critical = testing::KsCriticalValue(noise.size(), 1e-6);
  EXPECT_LT(testing::KolmogorovSmirnov(noise, normal_cdf(kSigma * kClip)), critical);
  EXPECT_GT(testing::KolmogorovSmirnov(noise, normal_cdf(1.1 * kSigma * kClip)), critical);
}

TEST(DpSgd, TrainsWithinTheTargetEpsilon) {
  Fixture f = MakeFixture();
  const data::Matrix encoded = testing::LoadEncodedHeart("cleveland").encoded;
  DpSgdOptions dp;
  dp.target_epsilon = 4.0;
  dp.delta = 1e-4;
  dp.expected_batch_size = 32;
  dp.epochs = 3;
  TrainOptions options;
  options.learning_rate = 1e-3;
  options.threads = 2;
  base::NullProgress progress;
  testing::SeededRandom key_source(77);
  auto report = f.vae->TrainPrivately(encoded, dp, options, key_source, progress);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LE(report->epsilon, 4.0);
  EXPECT_GT(report->epsilon, 3.9);
  EXPECT_GT(report->noise_multiplier, 0.3);
  EXPECT_NEAR(report->sampling_rate, 32.0 / 303, 1e-12);
  EXPECT_EQ(report->steps, 3 * 9);
  EXPECT_EQ(report->train.epochs.size(), 3u);
  EXPECT_FALSE(report->accountant_state.empty());
}

// LibTorch's generator keeps 32 bits of its seed, and the published model carries the
// initialisation seed: if DP-SGD drew any of its masks or noise from it, the trained model would
// be one of at most 2^32 replayable candidates. Here the models depend on the key and on nothing
// LibTorch's generator says.
TEST(DpSgd, RandomnessComesFromTheKeyedStreamNotFromLibTorchsGenerator) {
  const testing::EncodedHeart heart = testing::LoadEncodedHeart("cleveland");
  DpSgdOptions dp;
  dp.target_epsilon = 4.0;
  dp.delta = 1e-4;
  dp.expected_batch_size = 32;
  dp.epochs = 1;
  TrainOptions options;
  options.threads = 1;
  auto train = [&](uint64_t key_seed, uint64_t torch_seed) {
    auto vae = Vae::Create(TableVaeSpec(heart.transformer, 8, {64, 32}), /*seed=*/4);
    EXPECT_TRUE(vae.ok());
    // Create seeds LibTorch's global generator (for initialisation): a throwaway model moves it.
    EXPECT_TRUE(Vae::Create(TableVaeSpec(heart.transformer, 8, {64, 32}), torch_seed).ok());
    testing::SeededRandom key_source(key_seed);
    base::NullProgress progress;
    EXPECT_TRUE((*vae)->TrainPrivately(heart.encoded, dp, options, key_source, progress).ok());
    return *(*vae)->Serialize("{}");
  };
  const std::string reference = train(1, 100);
  EXPECT_EQ(train(1, 200), reference) << "reseeding LibTorch's generator changed the model";
  EXPECT_NE(train(2, 100), reference) << "a different key must give a different model";
}

// The convolutional VAE's convolutions and transposed convolutions by unfolding: norms and
// clipped sums as one backward pass per record gives them (float sums over 784 pixels and
// 1,000-odd patch entries: 1e-4), then a short private run.
TEST(DpSgd, ConvolutionalVaeUnfoldsItsConvolutionsExactly) {
  auto vae = Vae::Create(ImageVaeSpec(4, 32), 1);
  ASSERT_TRUE(vae.ok());
  data::Matrix images(6, 784), eps(6, 4);
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> uniform;
  for (float& v : images.values) v = uniform(rng);
  for (float& v : eps.values) v = uniform(rng) - 0.5f;
  ExpectMatchesRecordByRecord(**vae, images, eps, 1e-4);
  DpSgdOptions dp;
  dp.target_epsilon = 8;
  dp.delta = 1e-3;
  dp.expected_batch_size = 3;
  dp.epochs = 1;
  base::NullProgress progress;
  testing::SeededRandom key_source(5);
  auto report = (*vae)->TrainPrivately(images, dp, {}, key_source, progress);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LE(report->epsilon, 8.0);
}

TEST(DpSgd, RefusesBadOptions) {
  Fixture f = MakeFixture();
  base::NullProgress progress;
  DpSgdOptions bad;
  bad.delta = 0;
  testing::SeededRandom key_source(1);
  EXPECT_EQ(f.vae->TrainPrivately(f.batch, bad, {}, key_source, progress).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.vae->ClipPerRecordGradients(f.batch, f.eps, 0.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Privacy units: a unit holding more rows than declared would break the per-unit clipping.
  DpSgdOptions units;
  units.max_rows_per_unit = 2;
  std::vector<int64_t> unit_of_row(16);
  for (size_t i = 0; i < unit_of_row.size(); ++i) unit_of_row[i] = static_cast<int64_t>(i / 2);
  unit_of_row[2] = 0;  // unit 0 now holds three rows
  EXPECT_EQ(
      f.vae->TrainPrivately(f.batch, units, {}, key_source, progress, unit_of_row).status().code(),
      absl::StatusCode::kInvalidArgument);
  unit_of_row.pop_back();  // one unit per row is required
  EXPECT_EQ(
      f.vae->TrainPrivately(f.batch, units, {}, key_source, progress, unit_of_row).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedsyn::model
