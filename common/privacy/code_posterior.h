// Posterior decoding of a released code (issue #13): free post-processing of the metric
// mechanism's output.
//
// A released code y = clip_R(mu(x)) + N has the public law p(y | c) ∝ exp(-eps_d ||y - c||)
// (L2 or L1, metric_mechanism.h) around its centre c. Taking the VAE's prior N(0, I) restricted
// to the clip ball B_R as the law of c, the posterior is
//     pi(c | y) ∝ N(c; 0, I) 1[||c|| <= R] exp(-eps_d ||y - c||).
// At the ε a release can afford, y lies far outside anything the decoder was trained on (the
// noise norm is Gamma(k, 1/eps_d): k / eps_d on average), so decoding y itself extrapolates;
// decoding a draw of c | y (or E[c | y]) stays where the decoder learnt. Either uses only y, the
// mechanism's public parameters and fresh randomness: post-processing, no ε (docs/privacy.md
// §12).
#ifndef FEDSYN_COMMON_PRIVACY_CODE_POSTERIOR_H_
#define FEDSYN_COMMON_PRIVACY_CODE_POSTERIOR_H_

#include <span>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/random.h"

namespace fedsyn::privacy {

// An exact draw from pi(c | y), by rejection sampling that alternates two proposals, each with
// its own exact acceptance rule (so every accepted draw has the posterior's law, whichever
// proposal made it and however many trials it took):
//  - the prior on the ball, accepted with probability exp(-eps_d (||y - c|| - max(0, ||y|| - R)))
//    (the likelihood over its maximum on the ball): efficient when eps_d R is small;
//  - y plus the mechanism's own noise, accepted with probability exp(-||c||^2 / 2) 1[c in B_R]
//    (the prior over its maximum): efficient when eps_d is large and y near the ball.
// `params` as validated by MetricMechanism::Create; y of size params.dimension with finite
// entries (else InvalidArgument). ResourceExhausted if no proposal is accepted within
// `max_trials` (a pathological y; nothing is returned then).
absl::StatusOr<std::vector<double>> SamplePosteriorCode(const MetricMechanismParams& params,
                                                        std::span<const double> y,
                                                        RandomSource& rng,
                                                        int64_t max_trials = 10'000'000);

// E[c | y], estimated as the mean of `draws` exact posterior draws (Monte Carlo error of each
// coordinate: its posterior sd / sqrt(draws)).
absl::StatusOr<std::vector<double>> PosteriorMeanCode(const MetricMechanismParams& params,
                                                      std::span<const double> y, RandomSource& rng,
                                                      int draws = 64,
                                                      int64_t max_trials = 10'000'000);

// What a decoder is fed for a released code y.
enum class CodeDecoding {
  kNoisedCode,       // y itself (the paper's choice)
  kPosteriorSample,  // one draw of c | y (default)
  kPosteriorMean,    // E[c | y], estimated from 64 draws
};
const char* CodeDecodingName(CodeDecoding decoding);  // "noised" | "posterior" | "posterior-mean"
absl::StatusOr<CodeDecoding> ParseCodeDecoding(const std::string& name);

// Replaces every row of `codes` (row-major, rows of params.dimension) by what `decoding` feeds
// the decoder. A code whose posterior yields no draw within 20,000 trials (far outside the ball
// under little noise: fabricated, or astronomically unlikely) is replaced by its clip to the
// ball, where that posterior concentrates; the cap keeps a hostile release from stalling an
// export. On failure (a code that is not finite or beyond 1e100) `codes` is partly replaced:
// callers discard it.
absl::Status ApplyCodeDecoding(CodeDecoding decoding, const MetricMechanismParams& params,
                               std::span<float> codes, RandomSource& rng);

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_CODE_POSTERIOR_H_
