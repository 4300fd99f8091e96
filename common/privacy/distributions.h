// Samplers for the distributions the mechanisms need. Each takes the RandomSource explicitly:
// production passes SecureRandom, tests pass a seeded generator.
#ifndef FEDSYN_COMMON_PRIVACY_DISTRIBUTIONS_H_
#define FEDSYN_COMMON_PRIVACY_DISTRIBUTIONS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/privacy/random.h"

namespace fedsyn::privacy {

// Standard normal N(0, 1) by the Box-Muller transform.
double SampleStandardNormal(RandomSource& rng);

// Gamma(shape, scale) for an integer shape >= 1, as a sum of `shape` independent
// Exponential(scale) draws: exact for integer shapes, which is all the metric mechanism
// needs (shape = latent dimension k).
double SampleGammaIntegerShape(RandomSource& rng, int shape, double scale);

// Laplace(0, scale): density exp(-|x|/scale) / (2 scale).
double SampleLaplace(RandomSource& rng, double scale);

// A point uniform on the unit sphere S^{k-1}: a standard normal vector divided by its norm.
std::vector<double> SampleUnitSphere(RandomSource& rng, int dimension);

// Fills `out` with independent N(0, stddev^2) draws: computed in double precision (the ziggurat
// method with an exact tail, one 64-bit word for 98.5% of values), then rounded to float. For
// bulk noise such as DP-SGD's.
void FillNormal(RandomSource& rng, double stddev, std::span<float> out);
// The same in double precision with stddev 1: the mechanism's directions and the posterior
// decoding's prior proposals.
void FillStandardNormal(RandomSource& rng, std::span<double> out);
// How far the ziggurat's table misses closing at x = 0 (zero for an exact table; for its test).
double ZigguratClosureResidual();

// Poisson subsampling of n records at rate q in [0, 1]: record i is kept iff a fresh 64-bit
// uniform is below floor(q * 2^64) (every record when q = 1), so the inclusion probability is q
// to within 2^-64. Returns the kept indices in increasing order.
std::vector<int64_t> PoissonSample(RandomSource& rng, int64_t n, double q);

// A uniformly random permutation of 0..n-1 (Fisher-Yates with unbiased UniformBelow). Releases
// reorder their records by one: the input's order (sorted by admission date, by diagnosis) is
// data, and nothing in a release may carry it without noise.
std::vector<int64_t> RandomPermutation(RandomSource& rng, int64_t n);

// `items` reordered by a fresh RandomPermutation.
template <typename T>
void Shuffle(RandomSource& rng, std::vector<T>& items) {
  const std::vector<int64_t> order = RandomPermutation(rng, static_cast<int64_t>(items.size()));
  std::vector<T> shuffled;
  shuffled.reserve(items.size());
  for (int64_t i : order) shuffled.push_back(std::move(items[static_cast<size_t>(i)]));
  items = std::move(shuffled);
}

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_DISTRIBUTIONS_H_
