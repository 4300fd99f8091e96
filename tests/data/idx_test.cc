#include "common/data/idx.h"

#include <zlib.h>

#include <fstream>

#include "common/data/table_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::data {
namespace {

using ::testing::HasSubstr;

ImageSet Sample(int count) {
  ImageSet images;
  images.count = count;
  images.height = 28;
  images.width = 28;
  for (int i = 0; i < count * 28 * 28; ++i) images.pixels.push_back(static_cast<uint8_t>(i * 7));
  return images;
}

TEST(Idx, WritesAndReadsImagesAndLabels) {
  const std::string dir = testing::ScratchDir("idx");
  const ImageSet images = Sample(5);
  ASSERT_TRUE(WriteIdxImages(dir + "/i.idx", images).ok());
  ASSERT_TRUE(WriteIdxLabels(dir + "/l.idx", {1, 2, 3, 4, 9}).ok());
  auto back = ReadIdxImages(dir + "/i.idx");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->count, 5);
  EXPECT_EQ(back->pixels, images.pixels);
  EXPECT_EQ(*ReadIdxLabels(dir + "/l.idx"), (std::vector<uint8_t>{1, 2, 3, 4, 9}));
  auto first_two = ReadIdxImages(dir + "/i.idx", 2);
  ASSERT_TRUE(first_two.ok());
  EXPECT_EQ(first_two->count, 2);
}

TEST(Idx, ReadsGzipCompressedFiles) {
  const std::string dir = testing::ScratchDir("idx_gz");
  ASSERT_TRUE(WriteIdxImages(dir + "/i.idx", Sample(3)).ok());
  const std::string raw = *ReadFileToString(dir + "/i.idx");
  gzFile gz = gzopen((dir + "/i.idx.gz").c_str(), "wb");
  gzwrite(gz, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(gz);
  auto back = ReadIdxImages(dir + "/i.idx.gz");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->pixels, Sample(3).pixels);
}

TEST(Idx, RejectsCorruptFiles) {
  const std::string dir = testing::ScratchDir("idx_bad");
  ASSERT_TRUE(WriteIdxImages(dir + "/i.idx", Sample(3)).ok());
  std::string raw = *ReadFileToString(dir + "/i.idx");

  ASSERT_TRUE(WriteFileAtomically(dir + "/short.idx", raw.substr(0, raw.size() - 10)).ok());
  EXPECT_THAT(std::string(ReadIdxImages(dir + "/short.idx").status().message()),
              HasSubstr("shorter"));
  ASSERT_TRUE(WriteFileAtomically(dir + "/long.idx", raw + "x").ok());
  EXPECT_THAT(std::string(ReadIdxImages(dir + "/long.idx").status().message()),
              HasSubstr("trailing"));
  std::string magic = raw;
  magic[3] = 0x01;
  ASSERT_TRUE(WriteFileAtomically(dir + "/magic.idx", magic).ok());
  EXPECT_THAT(std::string(ReadIdxImages(dir + "/magic.idx").status().message()),
              HasSubstr("bad magic"));
  // A header claiming 2^31 images of 28x28 must be refused before any allocation.
  std::string huge = raw.substr(0, 16);
  huge[4] = static_cast<char>(0x80);
  ASSERT_TRUE(WriteFileAtomically(dir + "/huge.idx", huge).ok());
  EXPECT_THAT(std::string(ReadIdxImages(dir + "/huge.idx").status().message()),
              HasSubstr("out of the supported range"));
  EXPECT_EQ(ReadIdxImages(dir + "/none.idx").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ReadIdxLabels(dir + "/i.idx").ok());  // an image file is not a label file
}

TEST(Idx, ReadsFashionMnistFromTheDebianPackageWhenInstalled) {
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!std::ifstream(path)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto images = ReadIdxImages(path);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->count, 10000);
  EXPECT_EQ(images->height, 28);
  auto labels = ReadIdxLabels("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->size(), 10000u);
}

TEST(Idx, MatrixConversionRoundTrips) {
  const ImageSet images = Sample(2);
  const ImageSet back = MatrixToImages(ImagesToMatrix(images), 28, 28);
  EXPECT_EQ(back.pixels, images.pixels);
}

}  // namespace
}  // namespace fedsyn::data
