// Samplers for the distributions the mechanisms need. Each takes the RandomSource explicitly:
// production passes SecureRandom, tests pass a seeded generator.
#ifndef FEDSYN_COMMON_PRIVACY_DISTRIBUTIONS_H_
#define FEDSYN_COMMON_PRIVACY_DISTRIBUTIONS_H_

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

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_DISTRIBUTIONS_H_
