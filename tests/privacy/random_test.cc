// The uniform at its edges, the keyed stream DP-SGD draws from, bulk normals and Poisson masks.
#include "common/privacy/random.h"

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "common/privacy/distributions.h"
#include "gtest/gtest.h"
#include "tests/support/reference_normal.h"
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

// The block-wise filler gives exactly the values of the textbook one-pair-at-a-time polar
// method on the same stream (the same candidates accepted in the same order), in double and in
// float, for lengths that end on half a pair and span several blocks.
TEST(FillNormal, MatchesThePolarMethodDrawnOnePairAtATime) {
  for (size_t n : {size_t{1}, size_t{8}, size_t{301}, size_t{5001}}) {
    testing::SeededRandom a(11), b(11);
    KeyedStream stream_a(a), stream_b(b);
    const std::vector<double> want = testing::PolarNormalsOnePairAtATime(stream_a, 1.0, n);
    std::vector<double> got(n);
    FillStandardNormal(stream_b, got);
    EXPECT_EQ(got, want) << n;

    testing::SeededRandom c(12), d(12);
    KeyedStream stream_c(c), stream_d(d);
    const std::vector<double> want_scaled = testing::PolarNormalsOnePairAtATime(stream_c, 2.5, n);
    std::vector<float> got_float(n);
    FillNormal(stream_d, 2.5, got_float);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(got_float[i], static_cast<float>(want_scaled[i])) << n << " " << i;
    }
  }
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
