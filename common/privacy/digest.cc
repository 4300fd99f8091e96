#include "common/privacy/digest.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>

namespace fedsyn::privacy {
namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  std::string FinishHex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest.data(), &size);
    std::string hex;
    hex.reserve(2 * size);
    char pair[3];
    for (unsigned int i = 0; i < size; ++i) {
      std::snprintf(pair, sizeof pair, "%02x", digest[i]);
      hex += pair;
    }
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  Sha256 hash;
  hash.Update(bytes.data(), bytes.size());
  return hash.FinishHex();
}

absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path);
  Sha256 hash;
  std::array<char, 1 << 16> block;
  while (in.read(block.data(), block.size()) || in.gcount() > 0) {
    hash.Update(block.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::DataLossError("read error on " + path);
  return hash.FinishHex();
}

std::string Commitment(std::string_view message, std::string_view salt_hex) {
  std::string preimage(salt_hex);
  preimage += ':';
  preimage += message;
  return Sha256Hex(preimage);
}

std::string DrawInclusionBits(int count, const std::function<uint64_t()>& random_u64) {
  std::string bits;
  for (int i = 0; i < count; ++i) bits += (random_u64() & 1) ? '1' : '0';
  return bits;
}

std::string RandomHex(const std::function<uint64_t()>& random_u64, int words) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (int word = 0; word < words; ++word) {
    const uint64_t bits = random_u64();
    for (int nibble = 0; nibble < 16; ++nibble) hex += kHex[(bits >> (4 * nibble)) & 0xf];
  }
  return hex;
}

}  // namespace fedsyn::privacy
