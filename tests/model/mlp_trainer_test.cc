// The tabular VAE's hand-written training step (common/model/mlp_trainer.h) against LibTorch's
// autograd: the same gradients and DP-SGD clipping to 1e-5, and training (plain and private)
// that follows the autograd loops.
#include <algorithm>
#include <cmath>
#include <random>

#include "common/data/transformer.h"
#include "common/model/vae.h"
#include "gtest/gtest.h"
#include "tests/support/heart_data.h"
#include "tests/support/seeded_random.h"

namespace fedsyn::model {
namespace {

bool HasBlock(const VaeSpec& spec, data::BlockKind kind) {
  return std::any_of(spec.blocks.begin(), spec.blocks.end(),
                     [kind](const data::Block& b) { return b.kind == kind; });
}

// Rows [0, rows) of `m`.
data::Matrix Head(const data::Matrix& m, int64_t rows) {
  data::Matrix head(rows, m.cols);
  std::copy(m.values.begin(), m.values.begin() + rows * m.cols, head.values.begin());
  return head;
}

data::Matrix Normals(int64_t rows, int64_t cols, uint64_t seed, float scale) {
  data::Matrix m(rows, cols);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  for (float& v : m.values) v = scale * normal(rng);
  return m;
}

// The largest difference between two vectors, relative to the reference's largest entry.
double WorstRelativeDifference(const std::vector<float>& fused,
                               const std::vector<float>& reference) {
  double scale = 0, worst = 0;
  for (float r : reference) scale = std::max(scale, static_cast<double>(std::fabs(r)));
  for (size_t i = 0; i < fused.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(fused[i]) - reference[i]));
  }
  return worst / std::max(scale, 1e-30);
}

class MlpTrainerTest : public ::testing::Test {
 protected:
  // A VAE trained a few epochs on Cleveland, so that no gradient is at its initial value and
  // the learned Gaussian scales have moved from zero.
  std::unique_ptr<Vae> TrainedVae(const VaeSpec& spec, int epochs, uint64_t seed) {
    auto vae = std::move(*Vae::Create(spec, seed));
    TrainOptions options;
    options.max_epochs = epochs;
    options.seed = seed;
    base::NullProgress progress;
    EXPECT_TRUE(vae->Train(heart_.encoded, options, progress).ok());
    return vae;
  }

  const testing::EncodedHeart heart_ = testing::LoadEncodedHeart("cleveland");
};

TEST_F(MlpTrainerTest, GradientsMatchAutogradForEveryKindOfColumn) {
  const VaeSpec spec = TableVaeSpec(heart_.transformer, 8, {64, 32});
  // Cleveland has Gaussian (numeric), Bernoulli (missing indicators) and categorical blocks: the
  // three losses the step writes out.
  ASSERT_TRUE(HasBlock(spec, data::BlockKind::kGaussian));
  ASSERT_TRUE(HasBlock(spec, data::BlockKind::kBernoulli));
  ASSERT_TRUE(HasBlock(spec, data::BlockKind::kCategorical));
  const auto vae = TrainedVae(spec, 3, 3);

  const data::Matrix batch = Head(heart_.encoded, 64);
  // Wide noise reaches codes far from the means, where ReLUs switch off.
  const data::Matrix eps = Normals(64, 8, 11, 2.0f);
  const std::vector<float> reference = vae->SummedGradient(batch, eps);
  auto fused = vae->FusedSummedGradient(batch, eps);
  ASSERT_TRUE(fused.ok()) << fused.status();
  ASSERT_EQ(fused->size(), reference.size());
  EXPECT_LT(WorstRelativeDifference(*fused, reference), 1e-5);
  // Power: a gradient off by 0.1% in one coordinate is seen.
  std::vector<float> wrong = *fused;
  const auto largest = std::max_element(
      wrong.begin(), wrong.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); });
  *largest *= 1.001f;
  EXPECT_GT(WorstRelativeDifference(wrong, reference), 1e-5);
}

TEST_F(MlpTrainerTest, TrainingFollowsTheAutogradLoop) {
  // Same seed, same data: the same shuffles and reparameterisation draws, so the two loops
  // differ only by float rounding, and the per-epoch losses agree closely.
  const VaeSpec spec = TableVaeSpec(heart_.transformer, 8, {64, 64});
  TrainOptions options;
  options.max_epochs = 4;
  options.batch_size = 32;
  options.seed = 7;
  options.patience = 100;
  base::NullProgress progress;
  auto reference_vae = std::move(*Vae::Create(spec, 7));
  options.fused_mlp_step = false;
  auto reference = reference_vae->Train(heart_.encoded, options, progress);
  auto fused_vae = std::move(*Vae::Create(spec, 7));
  options.fused_mlp_step = true;
  auto fused = fused_vae->Train(heart_.encoded, options, progress);
  ASSERT_TRUE(reference.ok() && fused.ok());
  ASSERT_EQ(reference->epochs.size(), fused->epochs.size());
  for (size_t e = 0; e < fused->epochs.size(); ++e) {
    SCOPED_TRACE(e);
    EXPECT_NEAR(fused->epochs[e].train_loss, reference->epochs[e].train_loss,
                1e-3 * std::fabs(reference->epochs[e].train_loss));
    EXPECT_NEAR(fused->epochs[e].validation_loss, reference->epochs[e].validation_loss,
                1e-3 * std::fabs(reference->epochs[e].validation_loss));
  }
  // And it learns: the last epoch's loss is well below the first's.
  EXPECT_LT(fused->epochs.back().train_loss, 0.9 * fused->epochs.front().train_loss);
}

// DP-SGD's clipping is where a wrong norm becomes a wrong epsilon: the hand-written norms and
// clipped sums against the traced autograd pass (which dp_sgd_test.cc checks against one
// backward pass per record; the fused path, the default, is checked there too).
TEST_F(MlpTrainerTest, PerRecordClippingMatchesTheTracedAutogradPass) {
  const auto vae = TrainedVae(TableVaeSpec(heart_.transformer, 8, {64, 32}), 2, 8);
  const data::Matrix batch = Head(heart_.encoded, 48);
  const data::Matrix eps = Normals(48, 8, 13, 1.0f);
  auto traced = vae->ClipPerRecordGradients(batch, eps, 1.0, /*fused_mlp_step=*/false);
  ASSERT_TRUE(traced.ok());
  // A clip norm at the median: half the records are scaled down, half kept.
  std::vector<float> sorted = traced->norms;
  std::nth_element(sorted.begin(), sorted.begin() + 24, sorted.end());
  const double clip_norm = sorted[24];
  traced = vae->ClipPerRecordGradients(batch, eps, clip_norm, /*fused_mlp_step=*/false);
  auto fused = vae->ClipPerRecordGradients(batch, eps, clip_norm, /*fused_mlp_step=*/true);
  ASSERT_TRUE(traced.ok() && fused.ok());
  EXPECT_LT(WorstRelativeDifference(fused->norms, traced->norms), 1e-5);
  EXPECT_LT(WorstRelativeDifference(fused->clipped_sum, traced->clipped_sum), 1e-5);
  int clipped = 0;
  for (float norm : fused->norms) clipped += norm > clip_norm ? 1 : 0;
  EXPECT_GE(clipped, 20);
  EXPECT_LE(clipped, 28);
}

TEST_F(MlpTrainerTest, PrivateTrainingFollowsTheTracedLoop) {
  // The same key: the same Poisson masks, reparameterisation draws and gradient noise.
  const VaeSpec spec = TableVaeSpec(heart_.transformer, 8, {64, 32});
  DpSgdOptions dp;
  dp.target_epsilon = 4.0;
  dp.delta = 1e-4;
  dp.expected_batch_size = 32;
  dp.epochs = 3;
  TrainOptions options;
  options.threads = 1;
  auto train = [&](bool fused) {
    auto vae = std::move(*Vae::Create(spec, 4));
    options.fused_mlp_step = fused;
    testing::SeededRandom key_source(21);
    base::NullProgress progress;
    auto report = vae->TrainPrivately(heart_.encoded, dp, options, key_source, progress);
    EXPECT_TRUE(report.ok());
    return report.ok() ? report->train.epochs : std::vector<EpochStats>{};
  };
  const std::vector<EpochStats> traced = train(false), fused = train(true);
  ASSERT_EQ(traced.size(), 3u);
  ASSERT_EQ(fused.size(), 3u);
  for (size_t e = 0; e < fused.size(); ++e) {
    EXPECT_NEAR(fused[e].train_loss, traced[e].train_loss, 1e-3 * std::fabs(traced[e].train_loss))
        << "epoch " << e + 1;
  }
}

TEST_F(MlpTrainerTest, ABatchOrNoiseOfTheWrongShapeIsRefusedBeforeAnythingIsRead) {
  auto vae = std::move(*Vae::Create(TableVaeSpec(heart_.transformer, 8, {16}), 1));
  const data::Matrix batch = Head(heart_.encoded, 4);
  const data::Matrix narrow(4, heart_.encoded.cols - 1);
  EXPECT_EQ(vae->FusedSummedGradient(narrow, Normals(4, 8, 1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vae->FusedSummedGradient(batch, Normals(3, 8, 1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vae->FusedSummedGradient(batch, Normals(4, 7, 1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vae->ClipPerRecordGradients(batch, Normals(4, 9, 1, 1), 1.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(vae->FusedSummedGradient(batch, Normals(4, 8, 1, 1)).ok());
}

TEST_F(MlpTrainerTest, TheConvolutionalVaeIsRefused) {
  auto vae = std::move(*Vae::Create(ImageVaeSpec(4, 32), 1));
  const auto gradient = vae->FusedSummedGradient(data::Matrix(2, 784), data::Matrix(2, 4));
  EXPECT_EQ(gradient.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace fedsyn::model
