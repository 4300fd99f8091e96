// Statistical tests of the marginal generator's samplers (privacy/zcdp.h): the discrete
// Gaussian and the exponential mechanism. Size alpha = 1e-6 per test (Bonferroni-split), each
// with a power check: a sampler 10% off in scale (or an exponential mechanism at twice its
// epsilon) must be rejected by the same statistic.
#include <cmath>
#include <map>
#include <vector>

#include "common/privacy/zcdp.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/statistics.h"

namespace fedsyn::privacy {
namespace {

using ::fedsyn::testing::KsCriticalValue;
using ::fedsyn::testing::NormalTwoSidedQuantile;
using ::fedsyn::testing::SeededRandom;

constexpr double kAlpha = 1e-6;

// sup over integers k of |F_n(k) - F(k)| against the exact discrete Gaussian CDF of `sigma`.
// A supremum over a subset of points is at most the full KS statistic, so the DKW critical
// value stays valid for this discrete law.
double DiscreteGaussianKs(const std::vector<int64_t>& sample, double sigma) {
  const int64_t span = static_cast<int64_t>(std::ceil(40 * sigma)) + 1;
  double normaliser = 0;
  for (int64_t k = -span; k <= span; ++k) normaliser += std::exp(-0.5 * k * k / (sigma * sigma));
  std::map<int64_t, int64_t> counts;
  for (int64_t x : sample) ++counts[x];
  double cdf = 0, empirical = 0, worst = 0;
  for (int64_t k = -span; k <= span; ++k) {
    cdf += std::exp(-0.5 * k * k / (sigma * sigma)) / normaliser;
    empirical += static_cast<double>(counts[k]) / static_cast<double>(sample.size());
    worst = std::max(worst, std::fabs(empirical - cdf));
  }
  return worst;
}

std::vector<int64_t> Draws(double sigma, size_t n, uint64_t seed) {
  SeededRandom rng(seed);
  std::vector<int64_t> out(n);
  for (int64_t& x : out) x = SampleDiscreteGaussian(rng, sigma);
  return out;
}

TEST(DiscreteGaussianStatistics, MatchesItsLawAndRejectsAMisScaledOne) {
  constexpr size_t kN = 100'000;
  for (double sigma : {0.7, 3.0, 41.0}) {
    const double critical = KsCriticalValue(kN, kAlpha / 6);
    EXPECT_LT(DiscreteGaussianKs(Draws(sigma, kN, 7), sigma), critical) << "sigma " << sigma;
    // Power: draws with 1.1 sigma tested against sigma.
    EXPECT_GT(DiscreteGaussianKs(Draws(1.1 * sigma, kN, 8), sigma), critical)
        << "a 10% scale error went unnoticed at sigma " << sigma;
  }
}

// Largest |z| of the observed frequencies against the exponential mechanism's probabilities.
double WorstFrequencyZ(const std::vector<double>& scores, double epsilon_drawn,
                       double epsilon_claimed, size_t n, uint64_t seed) {
  SeededRandom rng(seed);
  std::vector<double> counts(scores.size(), 0.0);
  for (size_t i = 0; i < n; ++i) counts[ExponentialMechanism(rng, scores, epsilon_drawn, 2.0)] += 1;
  double normaliser = 0;
  for (double s : scores) normaliser += std::exp(epsilon_claimed * s / 4.0);
  double worst = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const double p = std::exp(epsilon_claimed * scores[i] / 4.0) / normaliser;
    const double z = (counts[i] / n - p) / std::sqrt(p * (1 - p) / n);
    worst = std::max(worst, std::fabs(z));
  }
  return worst;
}

TEST(ExponentialMechanismStatistics, PicksWithTheSoftmaxOfItsScores) {
  const std::vector<double> scores = {0.0, 1.0, 2.5, 4.0, -3.0};
  constexpr size_t kN = 200'000;
  const double critical = NormalTwoSidedQuantile(kAlpha / scores.size());
  EXPECT_LT(WorstFrequencyZ(scores, 1.0, 1.0, kN, 21), critical);
  // Power: a mechanism running at twice the epsilon it claims is caught.
  EXPECT_GT(WorstFrequencyZ(scores, 2.0, 1.0, kN, 22), critical);
}

}  // namespace
}  // namespace fedsyn::privacy
