#include "common/privacy/code_posterior.h"

#include <cmath>
#include <string>

#include "common/privacy/clipping.h"
#include "common/privacy/distributions.h"

namespace fedsyn::privacy {
namespace {

constexpr double kMaxCodeEntry = 1e100;
// Trials per code in bulk decoding: honest releases accept within a few hundred at the epsilons
// releases use, and a hostile code must not stall an export.
constexpr int64_t kMaxTrialsPerCode = 20'000;

absl::Status CheckCode(const MetricMechanismParams& params, std::span<const double> y) {
  // The mechanism's own validation says which parameters a release can have.
  if (absl::Status valid = MetricMechanism::Create(params).status(); !valid.ok()) return valid;
  if (y.size() != static_cast<size_t>(params.dimension)) {
    return absl::InvalidArgumentError("a released code has " + std::to_string(y.size()) +
                                      " entries, the mechanism " +
                                      std::to_string(params.dimension));
  }
  for (double v : y) {
    // Far beyond any noise draw (whose norm is Gamma(k, 1/eps_d)); also keeps squares finite.
    if (!std::isfinite(v) || std::fabs(v) > kMaxCodeEntry) {
      return absl::InvalidArgumentError("a released code entry is not finite or beyond 1e100");
    }
  }
  return absl::OkStatus();
}

// The mechanism's noise: L2 a uniform direction times a Gamma(k, 1/eps_d) radius, L1 i.i.d.
// Laplace(1/eps_d).
void AddMechanismNoise(const MetricMechanismParams& params, std::vector<double>& c,
                       RandomSource& rng) {
  const double scale = 1.0 / params.epsilon_per_unit;
  if (params.metric == NoiseMetric::kL1) {
    for (double& v : c) v += SampleLaplace(rng, scale);
    return;
  }
  const double radius = SampleGammaIntegerShape(rng, params.dimension, scale);
  const std::vector<double> direction = SampleUnitSphere(rng, params.dimension);
  for (size_t i = 0; i < c.size(); ++i) c[i] += radius * direction[i];
}

// ||y - c|| - ||y||, computed without cancellation when y is far from c: L2 through
// (||c||^2 - 2 y.c) / (||y - c|| + ||y||), L1 coordinate by coordinate the same way.
double DistanceExcess(const MetricMechanismParams& params, std::span<const double> y,
                      std::span<const double> c) {
  if (params.metric == NoiseMetric::kL1) {
    double excess = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double denominator = std::fabs(y[i] - c[i]) + std::fabs(y[i]);
      if (denominator > 0) excess += (c[i] * c[i] - 2 * y[i] * c[i]) / denominator;
    }
    return excess;
  }
  double cc = 0, yc = 0, distance = 0, norm_y = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    cc += c[i] * c[i];
    yc += y[i] * c[i];
    distance += (y[i] - c[i]) * (y[i] - c[i]);
    norm_y += y[i] * y[i];
  }
  const double denominator = std::sqrt(distance) + std::sqrt(norm_y);
  return denominator > 0 ? (cc - 2 * yc) / denominator : 0.0;
}

}  // namespace

absl::StatusOr<std::vector<double>> SamplePosteriorCode(const MetricMechanismParams& params,
                                                        std::span<const double> y,
                                                        RandomSource& rng, int64_t max_trials) {
  if (absl::Status st = CheckCode(params, y); !st.ok()) return st;
  const double radius = params.clip_radius;
  const double eps = params.epsilon_per_unit;
  // The likelihood's largest value on the ball: ||y - c|| >= ||y|| - ||c|| >= ||y|| - R, so
  // ||y - c|| - max(0, ||y|| - R) = (||y - c|| - ||y||) + min(||y||, R) >= 0.
  const double margin = std::fmin(Norm(y, params.metric), radius);
  std::vector<double> c(y.size());
  for (int64_t trial = 0; trial < max_trials; ++trial) {
    if (trial % 2 == 0) {
      // Prior proposal: N(0, I), kept only inside the ball (the restricted prior).
      FillStandardNormal(rng, c);
      if (Norm(c, params.metric) > radius) continue;
      const double log_accept = -eps * std::fmax(0.0, DistanceExcess(params, y, c) + margin);
      if (std::log(rng.UniformOpen01()) < log_accept) return c;
    } else {
      // Likelihood proposal: y plus the mechanism's noise (its density is exp(-eps ||c - y||)).
      for (size_t i = 0; i < c.size(); ++i) c[i] = y[i];
      AddMechanismNoise(params, c, rng);
      if (Norm(c, params.metric) > radius) continue;
      double squared = 0;
      for (double v : c) squared += v * v;
      if (std::log(rng.UniformOpen01()) < -0.5 * squared) return c;
    }
  }
  return absl::ResourceExhaustedError("posterior decoding found no draw within " +
                                      std::to_string(max_trials) + " trials");
}

absl::StatusOr<std::vector<double>> PosteriorMeanCode(const MetricMechanismParams& params,
                                                      std::span<const double> y, RandomSource& rng,
                                                      int draws, int64_t max_trials) {
  if (draws < 1) return absl::InvalidArgumentError("posterior mean needs at least one draw");
  std::vector<double> mean(y.size(), 0.0);
  for (int d = 0; d < draws; ++d) {
    auto c = SamplePosteriorCode(params, y, rng, max_trials);
    if (!c.ok()) return c.status();
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += (*c)[i] / draws;
  }
  return mean;
}

const char* CodeDecodingName(CodeDecoding decoding) {
  switch (decoding) {
    case CodeDecoding::kNoisedCode:
      return "noised";
    case CodeDecoding::kPosteriorSample:
      return "posterior";
    case CodeDecoding::kPosteriorMean:
      return "posterior-mean";
  }
  return "?";
}

absl::StatusOr<CodeDecoding> ParseCodeDecoding(const std::string& name) {
  for (CodeDecoding d :
       {CodeDecoding::kNoisedCode, CodeDecoding::kPosteriorSample, CodeDecoding::kPosteriorMean}) {
    if (name == CodeDecodingName(d)) return d;
  }
  return absl::InvalidArgumentError(
      "code decoding must be noised, posterior or posterior-mean, "
      "not '" +
      name + "'");
}

absl::Status ApplyCodeDecoding(CodeDecoding decoding, const MetricMechanismParams& params,
                               std::span<float> codes, RandomSource& rng) {
  if (decoding == CodeDecoding::kNoisedCode) return absl::OkStatus();
  const auto k = static_cast<size_t>(params.dimension);
  if (k == 0 || codes.size() % k != 0) {
    return absl::InvalidArgumentError("codes do not come in rows of the mechanism's dimension");
  }
  std::vector<double> y(k);
  for (size_t row = 0; row < codes.size() / k; ++row) {
    for (size_t i = 0; i < k; ++i) y[i] = codes[row * k + i];
    auto c = decoding == CodeDecoding::kPosteriorMean
                 ? PosteriorMeanCode(params, y, rng, 64, kMaxTrialsPerCode)
                 : SamplePosteriorCode(params, y, rng, kMaxTrialsPerCode);
    if (c.status().code() == absl::StatusCode::kResourceExhausted) {
      // Only a code far outside the ball under little noise gets here (a fabricated one, or an
      // astronomically unlikely draw); the posterior then sits against the ball's edge nearest
      // y, so that point stands in for it. Still a function of y alone.
      c = ClipToBall(y, params.clip_radius, params.metric);
    }
    if (!c.ok()) return c.status();
    for (size_t i = 0; i < k; ++i) codes[row * k + i] = static_cast<float>((*c)[i]);
  }
  return absl::OkStatus();
}

}  // namespace fedsyn::privacy
