#include "common/privacy/distributions.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <utility>

namespace fedsyn::privacy {

double SampleStandardNormal(RandomSource& rng) {
  const double u1 = rng.UniformOpen01();
  const double u2 = rng.UniformOpen01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double SampleGammaIntegerShape(RandomSource& rng, int shape, double scale) {
  double sum_of_logs = 0.0;
  for (int i = 0; i < shape; ++i) sum_of_logs += std::log(rng.UniformOpen01());
  return -scale * sum_of_logs;
}

double SampleLaplace(RandomSource& rng, double scale) {
  const double magnitude = -scale * std::log(rng.UniformOpen01());
  return (rng.NextU64() & 1u) ? magnitude : -magnitude;
}

std::vector<double> SampleUnitSphere(RandomSource& rng, int dimension) {
  std::vector<double> direction(static_cast<size_t>(dimension));
  double squared_norm = 0.0;
  // A zero vector has probability zero, but a redraw keeps the division well-defined.
  while (squared_norm == 0.0) {
    FillStandardNormal(rng, direction);
    squared_norm = 0.0;
    for (const double x : direction) squared_norm += x * x;
  }
  const double norm = std::sqrt(squared_norm);
  for (double& x : direction) x /= norm;
  return direction;
}

namespace {
// Marsaglia's polar method: a uniform point of the unit disc (rejection, accepted with
// probability pi/4) gives two independent normals with one logarithm and no trigonometry.
// DP-SGD draws ~65,000 per step and the release's posterior decoding eight per proposal, so
// this is where their noise costs. Candidates go in blocks: their words come from one Fill()
// and their points from one loop the compiler vectorises, leaving the logarithm of each
// accepted point as the only per-pair call. The words are read in the order the one-at-a-time
// method reads them (u then v of each candidate) and the same candidates are accepted, so a
// stream gives the same values either way; words past the last pair needed are drawn and
// dropped.
template <typename T>
void FillNormalPairs(RandomSource& rng, double stddev, std::span<T> out) {
  constexpr size_t kBlock = 256;  // candidates per block
  std::array<uint64_t, 2 * kBlock> words;
  std::array<double, kBlock> u, v, s;
  size_t most_candidates = 0;
  size_t i = 0;
  while (i < out.size()) {
    const size_t pairs_needed = (out.size() - i + 1) / 2;
    // pi/4 of candidates are accepted: ask for 4/3 as many (plus a few) so that one block
    // usually suffices without drawing many words that go unused.
    const size_t candidates = std::min(kBlock, pairs_needed + pairs_needed / 3 + 4);
    most_candidates = std::max(most_candidates, candidates);
    rng.Fill(std::span<uint64_t>(words.data(), 2 * candidates));
    for (size_t c = 0; c < candidates; ++c) {
      u[c] = 2.0 * RandomSource::OpenInterval01(words[2 * c]) - 1.0;
      v[c] = 2.0 * RandomSource::OpenInterval01(words[2 * c + 1]) - 1.0;
      s[c] = u[c] * u[c] + v[c] * v[c];
    }
    for (size_t c = 0; c < candidates && i < out.size(); ++c) {
      if (s[c] >= 1.0 || s[c] == 0.0) continue;
      const double factor = stddev * std::sqrt(-2.0 * std::log(s[c]) / s[c]);
      out[i++] = static_cast<T>(u[c] * factor);
      if (i < out.size()) out[i++] = static_cast<T>(v[c] * factor);
    }
  }
  // No noise left behind on the stack.
  OPENSSL_cleanse(words.data(), 2 * most_candidates * sizeof(uint64_t));
  for (auto* block : {&u, &v, &s}) OPENSSL_cleanse(block->data(), most_candidates * sizeof(double));
}
}  // namespace

void FillNormal(RandomSource& rng, double stddev, std::span<float> out) {
  FillNormalPairs(rng, stddev, out);
}

void FillStandardNormal(RandomSource& rng, std::span<double> out) {
  FillNormalPairs(rng, 1.0, out);
}

std::vector<int64_t> PoissonSample(RandomSource& rng, int64_t n, double q) {
  std::vector<int64_t> kept;
  if (!(q > 0) || n <= 0) return kept;
  if (q >= 1) {
    kept.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) kept[static_cast<size_t>(i)] = i;
    return kept;
  }
  // q < 1, so q * 2^64 < 2^64 and the threshold fits (ldexp is exact; the cast truncates).
  const auto threshold = static_cast<uint64_t>(std::ldexp(q, 64));
  for (int64_t i = 0; i < n; ++i) {
    if (rng.NextU64() < threshold) kept.push_back(i);
  }
  return kept;
}

std::vector<int64_t> RandomPermutation(RandomSource& rng, int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[rng.UniformBelow(i)]);
  }
  return order;
}

}  // namespace fedsyn::privacy
