// Statistical tests of the metric-privacy mechanism's noise (DESIGN.md §2.2).
//
// Each test has size alpha = 1e-6 (Bonferroni-split where it makes several comparisons): a
// correct sampler fails it with probability at most 1e-6 per run. KS tests use the DKW bound,
// which is valid at every sample size. Each test also has a power check: the same statistic,
// on a sampler whose scale is off by 10% (or whose direction or mean is skewed), must reject.
// With n = 20,000 (fast) the 10% radius error moves the Gamma CDF by ~0.1 against a critical
// value of 0.019, so the power is essentially 1; the Long versions use n = 400,000.
//
// The samples come through MetricMechanism::Release with a zero code and a very fine grid
// (2^-40), so they test exactly what the product releases, not a separate sampler.
#include <cmath>
#include <numeric>

#include "common/privacy/metric_mechanism.h"
#include "common/privacy/randomized_response.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/statistics.h"

namespace fedsyn::privacy {
namespace {

using ::fedsyn::testing::BetaCdf;
using ::fedsyn::testing::GammaIntegerShapeCdf;
using ::fedsyn::testing::KolmogorovSmirnov;
using ::fedsyn::testing::KsCriticalValue;
using ::fedsyn::testing::LaplaceCdf;
using ::fedsyn::testing::NormalTwoSidedQuantile;
using ::fedsyn::testing::SeededRandom;

constexpr double kAlpha = 1e-6;
constexpr size_t kFastSamples = 20'000;
constexpr size_t kLongSamples = 400'000;

// Noise vectors of the mechanism (code = 0). The clip radius only has to be positive.
std::vector<std::vector<double>> Draw(NoiseMetric metric, int k, double epsilon, size_t n,
                                      uint64_t seed) {
  auto mechanism = MetricMechanism::Create({metric, epsilon, 1.0, k, -40});
  EXPECT_TRUE(mechanism.ok()) << mechanism.status();
  SeededRandom rng(seed);
  const std::vector<double> zero(static_cast<size_t>(k), 0.0);
  std::vector<std::vector<double>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*mechanism->Release(zero, rng));
  return out;
}

std::vector<double> Radii(const std::vector<std::vector<double>>& noise) {
  std::vector<double> r;
  for (const auto& v : noise)
    r.push_back(std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0)));
  return r;
}

// KS distance of the L2 radii from Gamma(k, 1/epsilon_claimed).
double RadiusKs(const std::vector<std::vector<double>>& noise, int k, double epsilon_claimed) {
  return KolmogorovSmirnov(
      Radii(noise), [&](double x) { return GammaIntegerShapeCdf(x, k, 1.0 / epsilon_claimed); });
}

// Largest KS distance, over the fixed unit vectors e_1 and (1,...,1)/sqrt(k), of
// (<u, e> + 1) / 2 from Beta((k-1)/2, (k-1)/2), the law of one coordinate of a uniform
// point on S^{k-1}.
double DirectionKs(const std::vector<std::vector<double>>& noise, int k) {
  const BetaCdf coordinate_cdf((k - 1) / 2.0, (k - 1) / 2.0);
  double worst = 0.0;
  for (int which = 0; which < 2; ++which) {
    std::vector<double> projections;
    for (const auto& v : noise) {
      const double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
      double dot = 0.0;
      if (which == 0) {
        dot = v[0];
      } else {
        for (double x : v) dot += x / std::sqrt(static_cast<double>(k));
      }
      projections.push_back((dot / norm + 1.0) / 2.0);
    }
    worst = std::max(worst, KolmogorovSmirnov(projections, coordinate_cdf));
  }
  return worst;
}

// Largest |z| over coordinates of the sample mean (unknown variance, n large).
double MaxMeanZ(const std::vector<std::vector<double>>& noise) {
  const size_t k = noise.front().size();
  double worst = 0.0;
  for (size_t c = 0; c < k; ++c) {
    double sum = 0, sq = 0;
    for (const auto& v : noise) {
      sum += v[c];
      sq += v[c] * v[c];
    }
    const double n = static_cast<double>(noise.size());
    const double mean = sum / n;
    const double sd = std::sqrt(sq / n - mean * mean);
    worst = std::max(worst, std::fabs(mean) / (sd / std::sqrt(n)));
  }
  return worst;
}

void CheckL2Mechanism(size_t n, uint64_t seed) {
  constexpr int k = 8;
  constexpr double epsilon = 2.0;
  const auto noise = Draw(NoiseMetric::kL2, k, epsilon, n, seed);
  // Three comparisons (radius, direction, mean): alpha/3 each.
  EXPECT_LT(RadiusKs(noise, k, epsilon), KsCriticalValue(n, kAlpha / 3));
  // DirectionKs takes two projections: alpha/6 each.
  EXPECT_LT(DirectionKs(noise, k), KsCriticalValue(n, kAlpha / 6));
  EXPECT_LT(MaxMeanZ(noise), NormalTwoSidedQuantile(kAlpha / 3 / k));

  // Power: a sampler whose radius scale is 10% too large (epsilon / 1.1) must fail the
  // radius test that the correct one passes.
  const auto mis_scaled = Draw(NoiseMetric::kL2, k, epsilon / 1.1, n, seed + 1);
  EXPECT_GT(RadiusKs(mis_scaled, k, epsilon), KsCriticalValue(n, kAlpha / 3));
  // Power of the direction test: stretch one axis by 1.5 before normalising.
  auto skewed = Draw(NoiseMetric::kL2, k, epsilon, n, seed + 2);
  for (auto& v : skewed) v[0] *= 1.5;
  EXPECT_GT(DirectionKs(skewed, k), KsCriticalValue(n, kAlpha / 6));
  // Power of the mean test: shift by a tenth of the per-coordinate standard deviation.
  auto shifted = Draw(NoiseMetric::kL2, k, epsilon, n, seed + 3);
  const double coordinate_sd = std::sqrt(k * (k + 1.0) / (epsilon * epsilon) / k);
  for (auto& v : shifted) v[3] += 0.1 * coordinate_sd;
  EXPECT_GT(MaxMeanZ(shifted), NormalTwoSidedQuantile(kAlpha / 3 / k));
}

void CheckL1Mechanism(size_t n, uint64_t seed) {
  constexpr int k = 4;
  constexpr double epsilon = 1.5;
  const auto noise = Draw(NoiseMetric::kL1, k, epsilon, n, seed);
  const auto correct = [&](double x) { return LaplaceCdf(x, 1.0 / epsilon); };
  for (int c = 0; c < k; ++c) {
    std::vector<double> coordinate;
    for (const auto& v : noise) coordinate.push_back(v[static_cast<size_t>(c)]);
    EXPECT_LT(KolmogorovSmirnov(coordinate, correct), KsCriticalValue(n, kAlpha / k))
        << "coordinate " << c;
  }
  const auto mis_scaled = Draw(NoiseMetric::kL1, k, epsilon / 1.1, n, seed + 1);
  std::vector<double> coordinate;
  for (const auto& v : mis_scaled) coordinate.push_back(v[0]);
  EXPECT_GT(KolmogorovSmirnov(coordinate, correct), KsCriticalValue(n, kAlpha / k));
}

TEST(MetricMechanismStatistics, L2NoiseHasGammaRadiusUniformDirectionZeroMean) {
  CheckL2Mechanism(kFastSamples, 11);
}
TEST(MetricMechanismStatistics, L1NoiseIsLaplacePerCoordinate) {
  CheckL1Mechanism(kFastSamples, 12);
}
TEST(MetricMechanismStatistics, LongL2NoiseHasGammaRadiusUniformDirectionZeroMean) {
  CheckL2Mechanism(kLongSamples, 21);
}
TEST(MetricMechanismStatistics, LongL1NoiseIsLaplacePerCoordinate) {
  CheckL1Mechanism(kLongSamples, 22);
}

// Randomized response keeps the true class with p = e^eps / (e^eps + K - 1) and spreads the
// rest evenly. Two-sided binomial z-tests at alpha/2 each (keep rate; share of one specific
// other class), with the power check on a mechanism whose epsilon is 10% off.
double KeepRateZ(const RandomizedResponse& rr, double claimed_keep, size_t n, uint64_t seed) {
  SeededRandom rng(seed);
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) kept += rr.Privatize(3, rng) == 3;
  const double rate = static_cast<double>(kept) / n;
  return std::fabs(rate - claimed_keep) / std::sqrt(claimed_keep * (1 - claimed_keep) / n);
}

TEST(RandomizedResponseStatistics, KeepRateMatchesEpsilon) {
  constexpr int kClasses = 10;
  constexpr double kEpsilon = 2.0;
  constexpr size_t n = 200'000;
  const auto rr = RandomizedResponse::Create(kClasses, kEpsilon);
  ASSERT_TRUE(rr.ok());
  const double z = NormalTwoSidedQuantile(kAlpha / 2);
  EXPECT_LT(KeepRateZ(*rr, rr->KeepProbability(), n, 31), z);

  // The other classes share the rest evenly: class 7 appears with (1 - p) / (K - 1).
  SeededRandom rng(32);
  size_t sevens = 0;
  for (size_t i = 0; i < n; ++i) sevens += rr->Privatize(3, rng) == 7;
  const double q = (1 - rr->KeepProbability()) / (kClasses - 1);
  EXPECT_LT(std::fabs(static_cast<double>(sevens) / n - q) / std::sqrt(q * (1 - q) / n), z);

  // Power: an epsilon 10% too large keeps too often.
  const auto wrong = RandomizedResponse::Create(kClasses, kEpsilon * 1.1);
  ASSERT_TRUE(wrong.ok());
  EXPECT_GT(KeepRateZ(*wrong, rr->KeepProbability(), n, 33), z);
}

}  // namespace
}  // namespace fedsyn::privacy
