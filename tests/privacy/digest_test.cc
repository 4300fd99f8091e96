#include "common/privacy/digest.h"

#include <fstream>

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

}  // namespace
}  // namespace fedsyn::privacy
