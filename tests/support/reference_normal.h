// Marsaglia's polar method drawn the textbook way, one pair at a time from UniformOpen01(): how
// privacy::FillNormal drew DP-SGD's noise before its ziggurat, kept as the baseline the
// benchmark times it against (bench/dp_sgd.cc).
#ifndef FEDSYN_TESTS_SUPPORT_REFERENCE_NORMAL_H_
#define FEDSYN_TESTS_SUPPORT_REFERENCE_NORMAL_H_

#include <cmath>
#include <cstddef>
#include <vector>

#include "common/privacy/random.h"

namespace fedsyn::testing {

inline std::vector<double> PolarNormalsOnePairAtATime(privacy::RandomSource& rng, double stddev,
                                                      size_t n) {
  std::vector<double> out;
  out.reserve(n);
  while (out.size() < n) {
    double u, v, s;
    do {
      u = 2.0 * rng.UniformOpen01() - 1.0;
      v = 2.0 * rng.UniformOpen01() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = stddev * std::sqrt(-2.0 * std::log(s) / s);
    out.push_back(u * factor);
    if (out.size() < n) out.push_back(v * factor);
  }
  return out;
}

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_REFERENCE_NORMAL_H_
