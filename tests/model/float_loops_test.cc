// The clipping loops of common/model/float_loops.h: four partial sums with a tail, and the one
// computation of DP-SGD's clipping factor.
#include "common/model/float_loops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace fedsyn::model {
namespace {

TEST(FloatLoops, SquaredNormCountsEveryElementWhateverTheLength) {
  // Lengths around the four-wide steps: an element dropped from the tail or counted twice shows.
  for (int n = 0; n <= 13; ++n) {
    std::vector<float> v(static_cast<size_t>(n));
    double expected = 0;
    for (int k = 0; k < n; ++k) {
      v[static_cast<size_t>(k)] = 0.5f + static_cast<float>(k);
      expected += static_cast<double>(v[static_cast<size_t>(k)]) * v[static_cast<size_t>(k)];
    }
    EXPECT_DOUBLE_EQ(SquaredNorm(v.data(), n), expected) << n;
  }
}

TEST(FloatLoops, ClipFactorsKeepRecordsInsideTheBallAndScaleTheRestOntoIt) {
  const std::vector<double> norm2 = {0.0, 0.25, 1.0, 4.0, 100.0};
  std::vector<float> norms(norm2.size()), factors(norm2.size());
  ClipFactors(norm2, 1.0, norms, factors);
  const std::vector<float> expected_norms = {0.0f, 0.5f, 1.0f, 2.0f, 10.0f};
  const std::vector<float> expected_factors = {1.0f, 1.0f, 1.0f, 0.5f, 0.1f};
  for (size_t r = 0; r < norm2.size(); ++r) {
    EXPECT_FLOAT_EQ(norms[r], expected_norms[r]) << r;
    EXPECT_FLOAT_EQ(factors[r], expected_factors[r]) << r;
    // What sensitivity C rests on: a clipped record's norm is at most C.
    EXPECT_LE(static_cast<double>(factors[r]) * norms[r], 1.0 + 1e-6) << r;
  }
}

TEST(FloatLoops, AddScaledAccumulates) {
  std::vector<float> sum = {1, 2, 3};
  const std::vector<float> v = {4, 5, 6};
  AddScaled(sum.data(), v.data(), 0.5f, 3);
  EXPECT_EQ(sum, (std::vector<float>{3, 4.5f, 6}));
}

}  // namespace
}  // namespace fedsyn::model
