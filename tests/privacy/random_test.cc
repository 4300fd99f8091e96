// The uniform at its edges, the keyed stream DP-SGD draws from, bulk normals and Poisson masks.
#include "common/privacy/random.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "common/privacy/distributions.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/statistics.h"

namespace fedsyn::privacy {
namespace {

// Replays a fixed list of 64-bit words.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::vector<uint64_t> words) : words_(std::move(words)) {}
  uint64_t NextU64() override { return words_.at(next_++ % words_.size()); }

 private:
  std::vector<uint64_t> words_;
  size_t next_ = 0;
};

double Uniform(uint64_t word) {
  ScriptedRandom rng({word});
  return rng.UniformOpen01();
}

TEST(UniformOpen01, StaysStrictlyInsideTheUnitIntervalAtBothEdges) {
  EXPECT_EQ(Uniform(0), 0x1.0p-53);
  EXPECT_EQ(Uniform(UINT64_MAX), 1.0 - 0x1.0p-53);
  EXPECT_LT(Uniform(UINT64_MAX), 1.0);
  EXPECT_TRUE(std::isfinite(std::log1p(-Uniform(UINT64_MAX))));
  EXPECT_TRUE(std::isfinite(std::log(Uniform(0))));
}

TEST(UniformOpen01, NeighbouringCellsStayDistinctInTheUpperHalf) {
  // The top 52 bits select the cell; the top cells (where doubles are coarsest) must not merge.
  const uint64_t top = UINT64_MAX >> 12;
  std::set<double> values;
  for (uint64_t k = top - 100; k <= top; ++k) values.insert(Uniform(k << 12));
  EXPECT_EQ(values.size(), 101u);
  for (uint64_t k : {uint64_t{0}, uint64_t{1}, top / 2, top}) {
    EXPECT_EQ(Uniform(k << 12), (2.0 * static_cast<double>(k) + 1.0) * 0x1.0p-53) << k;
  }
}

TEST(KeyedStream, DependsOnTheKeyAndOnlyOnTheKey) {
  auto first_words = [](uint64_t seed) {
    testing::SeededRandom key_source(seed);
    KeyedStream stream(key_source);
    std::vector<uint64_t> words(5000);  // more than one internal block
    for (uint64_t& w : words) w = stream.NextU64();
    return words;
  };
  const std::vector<uint64_t> a = first_words(1);
  EXPECT_EQ(first_words(1), a);
  EXPECT_NE(first_words(2), a);
  // The stream is not the key source's own output.
  testing::SeededRandom key_source(1);
  std::vector<uint64_t> source_words(a.size());
  for (uint64_t& w : source_words) w = key_source.NextU64();
  EXPECT_NE(source_words, a);
  // A keystream block is not repeated (the counter advances across refills).
  EXPECT_NE(std::vector<uint64_t>(a.begin(), a.begin() + 8),
            std::vector<uint64_t>(a.begin() + 4096, a.begin() + 4104));
}

// Fill() hands out exactly the words NextU64() would, whatever mix of the two a caller uses:
// fills that start mid-buffer, cross the 4,096-word buffer and span several buffers.
TEST(KeyedStream, FillGivesTheWordsNextU64WouldInTheSameOrder) {
  auto stream_words = [](size_t count) {
    testing::SeededRandom key_source(7);
    KeyedStream stream(key_source);
    std::vector<uint64_t> words(count);
    for (uint64_t& w : words) w = stream.NextU64();
    return words;
  };
  const std::vector<uint64_t> expected = stream_words(20000);
  testing::SeededRandom key_source(7);
  KeyedStream stream(key_source);
  std::vector<uint64_t> got;
  auto fill = [&](size_t count) {
    std::vector<uint64_t> part(count);
    stream.Fill(part);
    got.insert(got.end(), part.begin(), part.end());
  };
  got.push_back(stream.NextU64());  // the buffer is now part-used
  fill(10);
  fill(5000);                       // the rest of the buffer, then straight from the cipher
  got.push_back(stream.NextU64());  // refills the buffer after the fill
  fill(0);
  fill(9000);
  while (got.size() < expected.size()) got.push_back(stream.NextU64());
  EXPECT_EQ(got, expected);
}

// The generic Fill() of a source that only defines NextU64(), and SecureRandom's own.
TEST(RandomSource, FillDrawsFreshWords) {
  ScriptedRandom scripted({1, 2, 3});
  std::vector<uint64_t> words(5);
  scripted.Fill(words);
  EXPECT_EQ(words, (std::vector<uint64_t>{1, 2, 3, 1, 2}));
  SecureRandom secure;
  secure.NextU64();
  std::vector<uint64_t> drawn(3000);  // past the 512-word buffer
  secure.Fill(drawn);
  EXPECT_EQ(std::set<uint64_t>(drawn.begin(), drawn.end()).size(), drawn.size());
}

TEST(KeyedStream, BitsAreBalanced) {
  // Each of the 64 bit positions over 20,000 words is Binomial(20000, 1/2); a bound of 5.33
  // standard deviations (two-sided tail 1e-7 per position, < 1e-5 for all 64) must hold.
  testing::SeededRandom key_source(3);
  KeyedStream stream(key_source);
  constexpr int kWords = 20000;
  std::vector<int> ones(64, 0);
  for (int i = 0; i < kWords; ++i) {
    const uint64_t w = stream.NextU64();
    for (int b = 0; b < 64; ++b) ones[b] += (w >> b) & 1;
  }
  const double sd = std::sqrt(kWords * 0.25);
  for (int b = 0; b < 64; ++b) EXPECT_LT(std::fabs(ones[b] - kWords / 2.0), 5.33 * sd) << b;
}

// Bulk normals: KS at alpha = 1e-6 over 200,000 draws (critical value 0.0061); power check: the
// same draws tested against a 5% larger standard deviation are rejected (distance ~0.012).
TEST(FillNormal, HasTheStatedStandardDeviation) {
  testing::SeededRandom key_source(4);
  KeyedStream stream(key_source);
  std::vector<float> draws(200001);  // odd: the last pair is used half
  FillNormal(stream, 2.5, draws);
  const std::vector<double> sample(draws.begin(), draws.end());
  auto cdf = [](double sd) {
    return [sd](double x) { return 0.5 * std::erfc(-x / (sd * std::sqrt(2.0))); };
  };
  const double critical = testing::KsCriticalValue(sample.size(), 1e-6);
  EXPECT_LT(testing::KolmogorovSmirnov(sample, cdf(2.5)), critical);
  EXPECT_GT(testing::KolmogorovSmirnov(sample, cdf(2.5 * 1.05)), critical);
}

// The ziggurat's table closes at x = 0: the 256 layers computed from r and v end where the
// density reaches 1 (residual ~3e-15; r cut to 3.6541528 fails it).
TEST(FillNormal, TheZigguratTableClosesAtZero) {
  EXPECT_LT(std::fabs(ZigguratClosureResidual()), 1e-13);
}

// 4e7 standard normals from FillStandardNormal (and, scaled, FillNormal) against the exact
// distribution, finely enough to see one layer's wedge or the tail go wrong:
// - chi-square over 720 bins of width 0.01 on [-3.6, 3.6] and the two outer bins, at a size of
//   1e-6 (Wilson-Hilferty quantile, 916); a wedge test that always accepts scores ~5,400, a
//   sign taken from the layer's lowest bit ~16,000;
// - the count beyond r = 3.654 (Binomial, p = 2.58e-4: 10,321 expected), within 5.33 sd;
// - the tail's shape: |x| - r against the normal's conditional tail by KS at 1e-6 (critical
//   ~0.027 with 10,300 values); a tail drawn without its rejection step (plain exponential)
//   scores 0.042-0.044.
template <typename Draw>
void ExpectStandardNormalFinelyAndInTheTail(Draw draw_block) {
  constexpr double kTail = 3.6541528853610088;
  constexpr int kInner = 720;  // bins of 0.01 on [-3.6, 3.6]
  constexpr size_t kBlock = 1 << 20;
  constexpr int kBlocks = 38;  // ~4e7 draws
  std::vector<double> counts(kInner + 2, 0.0);
  std::vector<double> tail;
  std::vector<double> block(kBlock);
  for (int b = 0; b < kBlocks; ++b) {
    draw_block(block);
    for (const double x : block) {
      int bin;
      if (x < -3.6) {
        bin = 0;
      } else if (x >= 3.6) {
        bin = kInner + 1;
      } else {
        bin = std::min(kInner, 1 + static_cast<int>((x + 3.6) / 0.01));
      }
      counts[static_cast<size_t>(bin)] += 1;
      if (std::fabs(x) > kTail) tail.push_back(std::fabs(x) - kTail);
    }
  }
  const double n = static_cast<double>(kBlock) * kBlocks;
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  double chi_square = 0;
  for (int bin = 0; bin < kInner + 2; ++bin) {
    const double lo = bin == 0 ? -INFINITY : -3.6 + 0.01 * (bin - 1);
    const double hi = bin == kInner + 1 ? INFINITY : -3.6 + 0.01 * bin;
    const double expected = n * ((bin == kInner + 1 ? 1.0 : cdf(hi)) - (bin == 0 ? 0.0 : cdf(lo)));
    chi_square += (counts[bin] - expected) * (counts[bin] - expected) / expected;
  }
  const double dof = kInner + 1;
  const double z = 4.753;  // one-sided 1e-6
  const double critical = dof * std::pow(1 - 2 / (9 * dof) + z * std::sqrt(2 / (9 * dof)), 3);
  EXPECT_LT(chi_square, critical);

  const double p_tail = std::erfc(kTail / std::sqrt(2.0));
  const double sd = std::sqrt(n * p_tail * (1 - p_tail));
  EXPECT_LT(std::fabs(static_cast<double>(tail.size()) - n * p_tail), 5.33 * sd);
  const double tail_mass = std::erfc(kTail / std::sqrt(2.0));
  auto tail_cdf = [tail_mass](double t) {
    return 1.0 - std::erfc((kTail + t) / std::sqrt(2.0)) / tail_mass;
  };
  EXPECT_LT(testing::KolmogorovSmirnov(tail, tail_cdf),
            testing::KsCriticalValue(tail.size(), 1e-6));
}

TEST(FillStandardNormal, MatchesTheNormalFinelyAndInTheTail) {
  testing::SeededRandom key_source(21);
  KeyedStream stream(key_source);
  ExpectStandardNormalFinelyAndInTheTail(
      [&](std::vector<double>& block) { FillStandardNormal(stream, block); });
}

TEST(FillNormal, MatchesTheNormalFinelyAndInTheTailAtItsScale) {
  testing::SeededRandom key_source(22);
  KeyedStream stream(key_source);
  std::vector<float> drawn;
  ExpectStandardNormalFinelyAndInTheTail([&](std::vector<double>& block) {
    drawn.resize(block.size());
    FillNormal(stream, 0.5, drawn);
    for (size_t i = 0; i < block.size(); ++i) block[i] = drawn[i] / 0.5;
  });
}

// The double-precision filler behind the mechanism's directions and the posterior decoding:
// standard normal by KS at alpha = 1e-6 (power: a 5% larger scale is rejected), and the two
// values of each pair uncorrelated (|r| < 5.33 / sqrt(pairs), size 1e-7; a filler that
// repeated or mirrored a pair's first value would have |r| = 1).
TEST(FillStandardNormal, DrawsIndependentStandardNormals) {
  testing::SeededRandom key_source(6);
  KeyedStream stream(key_source);
  std::vector<double> draws(200001);
  FillStandardNormal(stream, draws);
  auto cdf = [](double sd) {
    return [sd](double x) { return 0.5 * std::erfc(-x / (sd * std::sqrt(2.0))); };
  };
  const double critical = testing::KsCriticalValue(draws.size(), 1e-6);
  EXPECT_LT(testing::KolmogorovSmirnov(draws, cdf(1.0)), critical);
  EXPECT_GT(testing::KolmogorovSmirnov(draws, cdf(1.05)), critical);
  double product = 0, first_squares = 0, second_squares = 0;
  const size_t pairs = draws.size() / 2;
  for (size_t i = 0; i < pairs; ++i) {
    product += draws[2 * i] * draws[2 * i + 1];
    first_squares += draws[2 * i] * draws[2 * i];
    second_squares += draws[2 * i + 1] * draws[2 * i + 1];
  }
  const double r = product / std::sqrt(first_squares * second_squares);
  EXPECT_LT(std::fabs(r), 5.33 / std::sqrt(static_cast<double>(pairs)));
}

TEST(PoissonSample, KeepsARecordIffItsWordIsBelowTheThreshold) {
  // q = 1/4: threshold 2^62. Words at the threshold and just below it decide exactly.
  const uint64_t threshold = uint64_t{1} << 62;
  ScriptedRandom rng({threshold - 1, threshold, 0, UINT64_MAX});
  EXPECT_EQ(PoissonSample(rng, 4, 0.25), (std::vector<int64_t>{0, 2}));
  ScriptedRandom any({0});
  EXPECT_TRUE(PoissonSample(any, 10, 0.0).empty());
  EXPECT_EQ(PoissonSample(any, 3, 1.0), (std::vector<int64_t>{0, 1, 2}));
}

TEST(PoissonSample, RecordIGetsTheIthWordAcrossBlocks) {
  // The words are read in blocks; record i must still be decided by the stream's i-th word,
  // including across block boundaries (1,500 records: three blocks, the last one partial).
  testing::SeededRandom key_a(11), key_b(11);
  KeyedStream sampled(key_a), reference(key_b);
  constexpr int64_t kN = 1'500;
  const double q = 0.3;
  const auto threshold = static_cast<uint64_t>(std::ldexp(q, 64));
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < kN; ++i) {
    if (reference.NextU64() < threshold) expected.push_back(i);
  }
  EXPECT_EQ(PoissonSample(sampled, kN, q), expected);
  EXPECT_EQ(sampled.NextU64(), reference.NextU64()) << "the sampler must use exactly n words";
}

TEST(PoissonSample, KeepsEachRecordWithProbabilityQ) {
  // 10^6 records at q = 0.04: the count is Binomial; |count - nq| < 5.33 sd has size 1e-7, and
  // a sampler at 1.05 q (off by 2,000, ~10 sd) fails it.
  testing::SeededRandom key_source(5);
  KeyedStream stream(key_source);
  constexpr int64_t kN = 1'000'000;
  const double q = 0.04;
  const double count = static_cast<double>(PoissonSample(stream, kN, q).size());
  const double sd = std::sqrt(kN * q * (1 - q));
  EXPECT_LT(std::fabs(count - kN * q), 5.33 * sd);
  EXPECT_GT(std::fabs(count - kN * q * 1.05), 5.33 * sd);
}

}  // namespace
}  // namespace fedsyn::privacy
