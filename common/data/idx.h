// IDX files (the MNIST / Fashion-MNIST format; big-endian header, then raw bytes), plain or
// gzip-compressed. Images are 8-bit grayscale; labels are one byte each.
#ifndef FEDSYN_COMMON_DATA_IDX_H_
#define FEDSYN_COMMON_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/data/table.h"

namespace fedsyn::data {

struct ImageSet {
  int64_t count = 0;
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // count * height * width, row-major
};

// Reads an IDX3 (magic 0x00000803) image file. Rejects a wrong magic number, dimensions
// above the limits below (checked before allocating), and a file shorter or longer than its
// header says. `max_images` > 0 reads only the first images (documented subsets).
absl::StatusOr<ImageSet> ReadIdxImages(const std::string& path, int64_t max_images = 0);
// Reads an IDX1 (magic 0x00000801) label file.
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path, int64_t max_labels = 0);

// Writes uncompressed IDX files atomically.
absl::Status WriteIdxImages(const std::string& path, const ImageSet& images);
absl::Status WriteIdxLabels(const std::string& path, const std::vector<uint8_t>& labels);

// Pixels scaled to [0, 1] (one row per image) and back (values clamped, rounded to 0..255).
Matrix ImagesToMatrix(const ImageSet& images);
ImageSet MatrixToImages(const Matrix& intensities, int height, int width);

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_IDX_H_
