// Internal to common/model, torch-free: the loops DP-SGD's per-record clipping runs over each
// record's gradient rows (the MLP's hand-written pass, mlp_trainer.cc, and the traced one,
// dp_sgd_engine.h), written once.
#ifndef FEDSYN_COMMON_MODEL_FLOAT_LOOPS_H_
#define FEDSYN_COMMON_MODEL_FLOAT_LOOPS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

namespace fedsyn::model {

// The sum of squares of v[0, n), in double, in four independent partial sums: one running sum
// is a chain of dependent additions (about 4 cycles each), which made the norms a tenth of a
// DP-SGD step (docs/performance.md, "The clipping pass's own loops").
inline double SquaredNorm(const float* v, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += static_cast<double>(v[k]) * v[k];
    s1 += static_cast<double>(v[k + 1]) * v[k + 1];
    s2 += static_cast<double>(v[k + 2]) * v[k + 2];
    s3 += static_cast<double>(v[k + 3]) * v[k + 3];
  }
  for (; k < n; ++k) s0 += static_cast<double>(v[k]) * v[k];
  return (s0 + s1) + (s2 + s3);
}

// From each record's squared gradient norm norm2[r]: its norm into norms[r], and its clipping
// factor c_r = min(1, clip_norm / norm) into factors[r] — records inside the ball keep their
// gradient; the others are scaled onto its surface. The one place DP-SGD's clipping factor is
// computed (both clipping passes call it).
inline void ClipFactors(std::span<const double> norm2, double clip_norm, std::span<float> norms,
                        std::span<float> factors) {
  for (size_t r = 0; r < norm2.size(); ++r) {
    const double norm = std::sqrt(norm2[r]);
    norms[r] = static_cast<float>(norm);
    factors[r] = static_cast<float>(std::min(1.0, clip_norm / std::max(norm, 1e-12)));
  }
}

// sum[0, n) += scale * v[0, n).
inline void AddScaled(float* sum, const float* v, float scale, int64_t n) {
  for (int64_t k = 0; k < n; ++k) sum[k] += scale * v[k];
}

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_FLOAT_LOOPS_H_
