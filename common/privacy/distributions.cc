#include "common/privacy/distributions.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <bit>
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
// The ziggurat method (Marsaglia and Tsang, 2000, with independent bits for the layer and the
// abscissa as Doornik, 2005, recommends) for the standard normal. Bulk normals are privacy noise
// — DP-SGD draws 69,270 per step for the tabular VAE and 1.6 million for the convolutional one,
// the posterior decoding eight per proposal — so their cost is DP-SGD's overhead.
//
// The half density f(x) = exp(-x^2/2) on [0, inf) is covered by 256 layers of equal area v: a
// base layer (the rectangle [0, r] x [0, f(r)] and the tail beyond r) and 255 rectangles
// [0, x_i] x [f(x_i), f(x_(i+1))], r = x_1 > x_2 > ... > x_256 = 0. A uniform layer and a uniform
// point of it are drawn; the point lies under the curve for sure when it is left of the next
// layer's edge (98.5% of draws: one 64-bit word, one multiplication, one comparison), and
// otherwise it is tested against the curve (the wedge) or, in the base layer, replaced by an
// exact draw from the tail (Marsaglia, 1964). In exact arithmetic every accepted value has the
// half-normal distribution, given a sign by an independent bit. r is the root, to double precision,
// of the condition that the 256 layers close at x = 0 (computed with 40 digits); v follows from r,
// and the table is built from both at first use: it closes with a residual of about 3e-15 (the top
// layer's area is v to a relative 1e-13; tested).
constexpr int kLayers = 256;
constexpr double kTailStart = 3.6541528853610088;  // r

double HalfDensity(double x) { return std::exp(-0.5 * x * x); }

struct ZigguratTable {
  std::array<double, kLayers + 1> x;  // x[0] = v / f(r): the base layer's width, tail included
  std::array<double, kLayers + 1> f;  // f(x[i]) (f[0] unused: the base layer has no wedge)
  double closure_residual;            // v / x[255] + f(x[255]) - 1, zero for an exact table
};

ZigguratTable BuildZigguratTable() {
  ZigguratTable t;
  const double r = kTailStart;
  const double area =
      r * HalfDensity(r) + std::sqrt(std::numbers::pi / 2) * std::erfc(r / std::sqrt(2.0));
  t.x[0] = area / HalfDensity(r);
  t.x[1] = r;
  for (int i = 1; i < kLayers - 1; ++i) {
    t.x[i + 1] = std::sqrt(-2.0 * std::log(area / t.x[i] + HalfDensity(t.x[i])));
  }
  t.x[kLayers] = 0.0;
  for (int i = 0; i <= kLayers; ++i) t.f[i] = HalfDensity(t.x[i]);
  t.closure_residual = area / t.x[kLayers - 1] + t.f[kLayers - 1] - 1.0;
  return t;
}

const ZigguratTable& Ziggurat() {
  static const ZigguratTable table = BuildZigguratTable();
  return table;
}

// The point `word` draws in its layer (bits 0-7 the layer, bits 12-63 the point); it lies under
// the curve for sure when InsideTheRectangle.
double PointInLayer(uint64_t word, const ZigguratTable& z) {
  return RandomSource::OpenInterval01(word) * z.x[word & 0xFF];
}
bool InsideTheRectangle(uint64_t word, double x, const ZigguratTable& z) {
  return x < z.x[(word & 0xFF) + 1];
}

// `magnitude` with the sign bit of `word` (bit 8) — without a branch: the sign is a coin flip
// that a branch predictor would miss half the time.
double WithSignOf(uint64_t word, double magnitude) {
  return std::bit_cast<double>(std::bit_cast<uint64_t>(magnitude) ^ (((word >> 8) & 1) << 63));
}

// The draws that leave their layer's rectangle (1.5%): the wedge test, the tail, and redraws,
// for `word` whose point x fell outside.
[[gnu::noinline]] double StandardNormalOutsideTheRectangle(uint64_t word, double x,
                                                           RandomSource& rng,
                                                           const ZigguratTable& z) {
  for (;;) {
    const unsigned layer = static_cast<unsigned>(word & 0xFF);
    if (layer == 0) {
      // Beyond r: r + a with a exponential of rate r, kept with probability exp(-a^2/2).
      double a, b;
      do {
        a = -std::log(rng.UniformOpen01()) / kTailStart;
        b = -std::log(rng.UniformOpen01());
      } while (2.0 * b < a * a);
      return WithSignOf(word, kTailStart + a);
    }
    // The wedge between the layer's rectangle and the curve.
    const double y = z.f[layer] + rng.UniformOpen01() * (z.f[layer + 1] - z.f[layer]);
    if (y < HalfDensity(x)) return WithSignOf(word, x);
    // Rejected: a fresh word, tried like the first.
    word = rng.NextU64();
    x = PointInLayer(word, z);
    if (InsideTheRectangle(word, x, z)) return WithSignOf(word, x);
  }
}

// Fills `out` with N(0, stddev^2) draws computed in double precision: one word per value from
// a block-sized Fill() (bits 0-7 the layer, bit 8 the sign, bits 12-63 the point), more words
// only for the 1.5% that leave the rectangles.
template <typename T>
void FillNormalZiggurat(RandomSource& rng, double stddev, std::span<T> out) {
  const ZigguratTable& z = Ziggurat();
  constexpr size_t kBlock = 512;
  std::array<uint64_t, kBlock> words;
  size_t most = 0;
  for (size_t i = 0; i < out.size(); i += kBlock) {
    const size_t n = std::min(kBlock, out.size() - i);
    most = std::max(most, n);
    rng.Fill(std::span<uint64_t>(words.data(), n));
    for (size_t c = 0; c < n; ++c) {
      const uint64_t word = words[c];
      const double x = PointInLayer(word, z);
      const double value = InsideTheRectangle(word, x, z)
                               ? WithSignOf(word, x)
                               : StandardNormalOutsideTheRectangle(word, x, rng, z);
      out[i + c] = static_cast<T>(stddev * value);
    }
  }
  OPENSSL_cleanse(words.data(), most * sizeof(uint64_t));  // no noise left behind on the stack
}
}  // namespace

double ZigguratClosureResidual() { return Ziggurat().closure_residual; }

void FillNormal(RandomSource& rng, double stddev, std::span<float> out) {
  FillNormalZiggurat(rng, stddev, out);
}

void FillStandardNormal(RandomSource& rng, std::span<double> out) {
  FillNormalZiggurat(rng, 1.0, out);
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
  // The words in blocks: Fill gives the very words NextU64 would, in one call per block instead
  // of a virtual call per record (a DP-SGD step samples every record of the site).
  std::array<uint64_t, 512> words;
  for (int64_t begin = 0; begin < n; begin += static_cast<int64_t>(words.size())) {
    const auto count = static_cast<size_t>(std::min<int64_t>(words.size(), n - begin));
    rng.Fill(std::span<uint64_t>(words.data(), count));
    for (size_t k = 0; k < count; ++k) {
      if (words[k] < threshold) kept.push_back(begin + static_cast<int64_t>(k));
    }
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
