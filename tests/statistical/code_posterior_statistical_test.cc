// Posterior decoding (privacy/code_posterior.h) against numerical integration of
// pi(c | y) ∝ N(c; 0, I) 1[||c|| <= R] exp(-eps_d ||y - c||) in one and two dimensions, L2 and
// L1. KS tests at size alpha = 1e-6 (DKW bound, Bonferroni-split over the cases), each with a
// power check: draws made under a mis-stated eps_d (x1.5) must be rejected against the true
// posterior.
#include <cmath>
#include <functional>
#include <vector>

#include "common/privacy/code_posterior.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/statistics.h"

namespace fedsyn::privacy {
namespace {

using ::fedsyn::testing::KsCriticalValue;
using ::fedsyn::testing::SeededRandom;

constexpr double kAlpha = 1e-6;
constexpr size_t kDraws = 20'000;

// The posterior's marginal CDF of one statistic (the first coordinate, or the norm) by a
// midpoint grid over [-R, R]^k, tabulated on `bins` points of [lo, hi].
struct GridCdf {
  double lo, hi;
  std::vector<double> cdf;
  double operator()(double x) const {
    if (x <= lo) return 0;
    if (x >= hi) return 1;
    const double position = (x - lo) / (hi - lo) * static_cast<double>(cdf.size());
    const size_t i = std::min(cdf.size() - 1, static_cast<size_t>(position));
    const double before = i == 0 ? 0.0 : cdf[i - 1];
    return before + (cdf[i] - before) * (position - static_cast<double>(i));
  }
};

double Density(const MetricMechanismParams& p, const std::vector<double>& y,
               const std::vector<double>& c) {
  std::vector<double> d(c.size());
  double squared = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    d[i] = y[i] - c[i];
    squared += c[i] * c[i];
  }
  if (Norm(c, p.metric) > p.clip_radius) return 0;
  return std::exp(-0.5 * squared - p.epsilon_per_unit * Norm(d, p.metric));
}

GridCdf NumericCdf(const MetricMechanismParams& p, const std::vector<double>& y,
                   const std::function<double(const std::vector<double>&)>& statistic, double lo,
                   double hi, std::vector<double>* mean = nullptr) {
  const int per_axis = p.dimension == 1 ? 400'000 : 1'200;
  const size_t bins = 4'000;
  const double step = 2 * p.clip_radius / per_axis;
  GridCdf out{lo, hi, std::vector<double>(bins, 0.0)};
  std::vector<double> c(static_cast<size_t>(p.dimension));
  std::vector<double> first_moment(c.size(), 0.0);
  double total = 0;
  const int64_t cells = p.dimension == 1 ? per_axis : int64_t{per_axis} * per_axis;
  for (int64_t cell = 0; cell < cells; ++cell) {
    c[0] = -p.clip_radius + (static_cast<double>(cell % per_axis) + 0.5) * step;
    if (p.dimension == 2)
      c[1] = -p.clip_radius + (static_cast<double>(cell / per_axis) + 0.5) * step;
    const double w = Density(p, y, c);
    if (w == 0) continue;
    total += w;
    for (size_t i = 0; i < c.size(); ++i) first_moment[i] += w * c[i];
    const double s = statistic(c);
    const size_t bin = std::min(bins - 1, static_cast<size_t>((s - lo) / (hi - lo) * bins));
    out.cdf[bin] += w;
  }
  double running = 0;
  for (double& v : out.cdf) v = (running += v) / total;
  if (mean != nullptr) {
    mean->resize(c.size());
    for (size_t i = 0; i < c.size(); ++i) (*mean)[i] = first_moment[i] / total;
  }
  return out;
}

double Ks(const std::vector<double>& sample, const GridCdf& cdf) {
  return ::fedsyn::testing::KolmogorovSmirnov(sample, [&](double x) { return cdf(x); });
}

std::vector<double> DrawStatistic(
    const MetricMechanismParams& p, const std::vector<double>& y,
    const std::function<double(const std::vector<double>&)>& statistic, uint64_t seed) {
  SeededRandom rng(seed);
  std::vector<double> out;
  for (size_t i = 0; i < kDraws; ++i) {
    auto c = SamplePosteriorCode(p, y, rng);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) break;
    EXPECT_LE(Norm(*c, p.metric), p.clip_radius);
    out.push_back(statistic(*c));
  }
  return out;
}

struct Case {
  NoiseMetric metric;
  int dimension;
  double epsilon;
  std::vector<double> y;
};

TEST(CodePosteriorStatistics, DrawsFollowTheNumericallyIntegratedPosterior) {
  const std::vector<Case> cases = {
      {NoiseMetric::kL2, 1, 1.0, {0.4}},       {NoiseMetric::kL2, 1, 0.5, {9.0}},
      {NoiseMetric::kL2, 1, 4.0, {-2.7}},      {NoiseMetric::kL2, 2, 1.5, {2.0, -1.0}},
      {NoiseMetric::kL2, 2, 0.7, {-6.0, 5.0}}, {NoiseMetric::kL1, 2, 1.2, {1.0, 3.5}},
  };
  const double critical = KsCriticalValue(kDraws, kAlpha / (2 * cases.size()));
  int rejected_misstated = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& t = cases[k];
    MetricMechanismParams p{t.metric, t.epsilon, 3.0, t.dimension, std::nullopt};
    auto first = [](const std::vector<double>& c) { return c[0]; };
    auto norm = [&](const std::vector<double>& c) { return Norm(c, p.metric); };
    const GridCdf first_cdf = NumericCdf(p, t.y, first, -3.0, 3.0);
    EXPECT_LT(Ks(DrawStatistic(p, t.y, first, 100 + k), first_cdf), critical) << "case " << k;
    if (t.dimension == 2) {
      const GridCdf norm_cdf = NumericCdf(p, t.y, norm, 0.0, 3.0);
      EXPECT_LT(Ks(DrawStatistic(p, t.y, norm, 200 + k), norm_cdf), critical) << "case " << k;
    }
    // Power: the same statistic on draws made with eps_d mis-stated by half again.
    MetricMechanismParams wrong = p;
    wrong.epsilon_per_unit *= 1.5;
    if (Ks(DrawStatistic(wrong, t.y, first, 300 + k), first_cdf) > critical) ++rejected_misstated;
  }
  // Where y sits far out the posterior is close to the prior for any eps_d; the cases near the
  // ball must tell a 50% error apart.
  EXPECT_GE(rejected_misstated, 4);
}

TEST(CodePosteriorStatistics, MeanMatchesTheIntegral) {
  MetricMechanismParams p{NoiseMetric::kL2, 1.5, 3.0, 2, std::nullopt};
  const std::vector<double> y = {2.0, -1.0};
  std::vector<double> expected;
  NumericCdf(
      p, y, [](const std::vector<double>& c) { return c[0]; }, -3.0, 3.0, &expected);
  SeededRandom rng(9);
  auto mean = PosteriorMeanCode(p, y, rng, 20'000);
  ASSERT_TRUE(mean.ok());
  // Posterior sd <= 1 (the prior's), so 5 standard errors are <= 5 / sqrt(20000) = 0.035.
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR((*mean)[i], expected[i], 0.035) << i;
}

TEST(CodePosterior, RefusesCodesThatDoNotFitTheMechanism) {
  MetricMechanismParams p{NoiseMetric::kL2, 1.0, 3.0, 2, std::nullopt};
  SeededRandom rng(1);
  EXPECT_FALSE(SamplePosteriorCode(p, std::vector<double>{1.0}, rng).ok());
  EXPECT_FALSE(SamplePosteriorCode(p, std::vector<double>{1.0, NAN}, rng).ok());
  EXPECT_EQ(SamplePosteriorCode(p, std::vector<double>{0.0, 0.0}, rng, 0).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Far out, the likelihood is computed without cancellation: draws still come, in the ball,
  // tilted towards y.
  double mean_first = 0;
  for (int i = 0; i < 2000; ++i) {
    auto c = SamplePosteriorCode(p, std::vector<double>{1e6, 0.0}, rng);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_LE(Norm(*c, p.metric), p.clip_radius);
    mean_first += (*c)[0] / 2000;
  }
  // pi(c | y) -> N(0, I) tilted by exp(eps_d c_1) on the disc: mean of c_1 about 0.9.
  EXPECT_GT(mean_first, 0.7);
  EXPECT_FALSE(SamplePosteriorCode(p, std::vector<double>{1e300, 0.0}, rng).ok());
  EXPECT_FALSE(PosteriorMeanCode(p, std::vector<double>{0.0, 0.0}, rng, 0).ok());
}

TEST(CodePosterior, BulkDecodingFallsBackToTheBallsEdgeForCodesNoNoiseExplains) {
  // eps_d 1e6: the noise is ~1e-5, so (50, 0) is 47 beyond anything it could explain. Its
  // posterior sits at the ball's edge nearest y; bulk decoding must not stall on it.
  MetricMechanismParams p{NoiseMetric::kL2, 1e6, 3.0, 2, std::nullopt};
  SeededRandom rng(4);
  std::vector<float> codes = {50.0f, 0.0f, 0.5f, -0.5f};
  ASSERT_TRUE(ApplyCodeDecoding(CodeDecoding::kPosteriorSample, p, codes, rng).ok());
  EXPECT_NEAR(codes[0], 3.0, 1e-5);
  EXPECT_NEAR(codes[1], 0.0, 1e-5);
  // The second code is inside the ball and noise is negligible: its posterior is at y.
  EXPECT_NEAR(codes[2], 0.5, 1e-3);
  EXPECT_NEAR(codes[3], -0.5, 1e-3);
  std::vector<float> noised = {50.0f, 0.0f};
  ASSERT_TRUE(ApplyCodeDecoding(CodeDecoding::kNoisedCode, p, noised, rng).ok());
  EXPECT_EQ(noised[0], 50.0f) << "noised decoding leaves codes alone";
  std::vector<float> ragged = {1.0f, 2.0f, 3.0f};
  EXPECT_FALSE(ApplyCodeDecoding(CodeDecoding::kPosteriorSample, p, ragged, rng).ok());
}

}  // namespace
}  // namespace fedsyn::privacy
