#include "common/privacy/digest.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <random>

#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::privacy {
namespace {

TEST(Digest, MatchesKnownSha256Vectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, HashesFilesLikeBytes) {
  const std::string path = testing::ScratchDir("digest") + "/f.bin";
  std::string content(200'000, 'x');
  content[12345] = 'y';
  std::ofstream(path, std::ios::binary) << content;
  EXPECT_EQ(*Sha256HexOfFile(path), Sha256Hex(content));
  EXPECT_EQ(Sha256HexOfFile(path + ".missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(CanaryPositions, AreDeterminedByTheSaltAndValid) {
  const std::string salt(64, '7');
  const std::vector<int64_t> positions = CanaryPositions(salt, 400, 50);
  ASSERT_EQ(positions.size(), 50u);
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  EXPECT_EQ(std::adjacent_find(positions.begin(), positions.end()), positions.end()) << "distinct";
  EXPECT_LT(positions.back(), 400);
  EXPECT_EQ(CanaryPositions(salt, 400, 50), positions) << "the coordinator recomputes them";
  EXPECT_NE(CanaryPositions(std::string(64, '8'), 400, 50), positions) << "another salt";
  EXPECT_EQ(CanaryPositions(salt, 3, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(CanaryPositions(salt, 3, 0).empty());
  EXPECT_TRUE(CanaryPositions(salt, 3, 4).empty()) << "more canaries than rows";
  EXPECT_EQ(JoinPositions({3, 17, 40}), "3,17,40");
  EXPECT_EQ(JoinPositions({}), "");
}

TEST(CanaryPositions, EveryPlacementIsEquallyLikelyOverSalts) {
  // 2 canaries among 5 rows: 10 placements. Chi-square with 9 degrees of freedom at
  // alpha = 1e-6 (critical value 46.9) over 20,000 random salts.
  std::mt19937_64 salts(3);
  std::map<std::string, int> counts;
  for (int trial = 0; trial < 20000; ++trial) {
    ++counts[JoinPositions(CanaryPositions(RandomHex([&] { return salts(); }, 4), 5, 2))];
  }
  ASSERT_EQ(counts.size(), 10u);
  double chi2 = 0;
  for (const auto& [placement, n] : counts) chi2 += (n - 2000.0) * (n - 2000.0) / 2000.0;
  std::printf("placements chi-square %.2f (critical 46.9)\n", chi2);
  EXPECT_LT(chi2, 46.9);
  // Power: a generator that favoured the end (canaries appended) would put ~all mass on "3,4";
  // one off by a slot would never produce "0,1".
  EXPECT_LT(counts["3,4"], 2300);
  EXPECT_GT(counts["0,1"], 1700);
}

}  // namespace
}  // namespace fedsyn::privacy
