#include "common/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "common/base/regular_file.h"
#include "common/data/table_io.h"

namespace fedsyn::data {
namespace {

// Limits against a corrupt or hostile header asking for a huge allocation: Fashion-MNIST
// has 60,000 images of 28x28; the limits leave ample room for real data sets.
constexpr uint32_t kMaxSide = 1024;
constexpr uint32_t kMaxItems = 10'000'000;
constexpr uint64_t kMaxBytes = uint64_t{4} << 30;

constexpr uint32_t kImageMagic = 0x00000803;
constexpr uint32_t kLabelMagic = 0x00000801;

using GzFile = std::unique_ptr<gzFile_s, decltype(&gzclose)>;

absl::StatusOr<GzFile> Open(const std::string& path) {
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  GzFile file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) return absl::NotFoundError("cannot open " + path);
  return file;
}

absl::Status ReadExactly(gzFile file, void* out, uint64_t size, const std::string& path) {
  auto* cursor = static_cast<unsigned char*>(out);
  while (size > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(size, 1u << 30));
    const int got = gzread(file, cursor, chunk);
    if (got <= 0)
      return absl::InvalidArgumentError(path + ": file is shorter than its IDX header says");
    cursor += got;
    size -= static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ReadBigEndian(gzFile file, const std::string& path) {
  unsigned char b[4];
  RETURN_IF_ERROR(ReadExactly(file, b, 4, path));
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

absl::Status ExpectEnd(gzFile file, const std::string& path) {
  unsigned char extra;
  if (gzread(file, &extra, 1) != 0)
    return absl::InvalidArgumentError(path + ": trailing bytes after the IDX data");
  return absl::OkStatus();
}

void AppendBigEndian(std::string& out, uint32_t v) {
  out += static_cast<char>(v >> 24);
  out += static_cast<char>(v >> 16);
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v);
}

}  // namespace

absl::StatusOr<ImageSet> ReadIdxImages(const std::string& path, int64_t max_images) {
  ASSIGN_OR_RETURN(GzFile file, Open(path));
  ASSIGN_OR_RETURN(const uint32_t magic, ReadBigEndian(file.get(), path));
  if (magic != kImageMagic)
    return absl::InvalidArgumentError(path + ": not an IDX image file (bad magic number)");
  ASSIGN_OR_RETURN(const uint32_t count, ReadBigEndian(file.get(), path));
  ASSIGN_OR_RETURN(const uint32_t height, ReadBigEndian(file.get(), path));
  ASSIGN_OR_RETURN(const uint32_t width, ReadBigEndian(file.get(), path));
  if (count == 0 || count > kMaxItems || height == 0 || height > kMaxSide || width == 0 ||
      width > kMaxSide || uint64_t{count} * height * width > kMaxBytes) {
    return absl::InvalidArgumentError(path + ": IDX dimensions out of the supported range");
  }
  ImageSet images;
  images.count = (max_images > 0) ? std::min<int64_t>(max_images, count) : count;
  images.height = static_cast<int>(height);
  images.width = static_cast<int>(width);
  images.pixels.resize(static_cast<size_t>(images.count) * height * width);
  RETURN_IF_ERROR(ReadExactly(file.get(), images.pixels.data(), images.pixels.size(), path));
  if (images.count == count) RETURN_IF_ERROR(ExpectEnd(file.get(), path));
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path, int64_t max_labels) {
  ASSIGN_OR_RETURN(GzFile file, Open(path));
  ASSIGN_OR_RETURN(const uint32_t magic, ReadBigEndian(file.get(), path));
  if (magic != kLabelMagic)
    return absl::InvalidArgumentError(path + ": not an IDX label file (bad magic number)");
  ASSIGN_OR_RETURN(const uint32_t count, ReadBigEndian(file.get(), path));
  if (count == 0 || count > kMaxItems)
    return absl::InvalidArgumentError(path + ": IDX label count out of range");
  const int64_t keep = (max_labels > 0) ? std::min<int64_t>(max_labels, count) : count;
  std::vector<uint8_t> labels(static_cast<size_t>(keep));
  RETURN_IF_ERROR(ReadExactly(file.get(), labels.data(), labels.size(), path));
  if (keep == count) RETURN_IF_ERROR(ExpectEnd(file.get(), path));
  return labels;
}

absl::Status WriteIdxImages(const std::string& path, const ImageSet& images) {
  std::string out;
  AppendBigEndian(out, kImageMagic);
  AppendBigEndian(out, static_cast<uint32_t>(images.count));
  AppendBigEndian(out, static_cast<uint32_t>(images.height));
  AppendBigEndian(out, static_cast<uint32_t>(images.width));
  out.append(reinterpret_cast<const char*>(images.pixels.data()), images.pixels.size());
  return WriteFileAtomically(path, out);
}

absl::Status WriteIdxLabels(const std::string& path, const std::vector<uint8_t>& labels) {
  std::string out;
  AppendBigEndian(out, kLabelMagic);
  AppendBigEndian(out, static_cast<uint32_t>(labels.size()));
  out.append(reinterpret_cast<const char*>(labels.data()), labels.size());
  return WriteFileAtomically(path, out);
}

Matrix ImagesToMatrix(const ImageSet& images) {
  Matrix m(images.count, static_cast<int64_t>(images.height) * images.width);
  for (size_t i = 0; i < images.pixels.size(); ++i) m.values[i] = images.pixels[i] / 255.0f;
  return m;
}

ImageSet MatrixToImages(const Matrix& intensities, int height, int width) {
  ImageSet images;
  images.count = intensities.rows;
  images.height = height;
  images.width = width;
  images.pixels.resize(intensities.values.size());
  for (size_t i = 0; i < intensities.values.size(); ++i) {
    images.pixels[i] =
        static_cast<uint8_t>(std::lround(std::clamp(intensities.values[i], 0.0f, 1.0f) * 255.0f));
  }
  return images;
}

}  // namespace fedsyn::data
