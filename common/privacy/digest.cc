#include "common/privacy/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>

#include "common/base/regular_file.h"

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
  RETURN_IF_ERROR(base::RequireRegularFile(path));
  RETURN_IF_ERROR(base::RequireRegularFile(path));
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

int64_t IncludedCanaryIndex(int64_t pair, char bit) { return 2 * pair + (bit == '1' ? 1 : 0); }

std::vector<bool> IncludedCanaryFlags(std::string_view bits) {
  std::vector<bool> included(2 * bits.size(), false);
  for (size_t j = 0; j < bits.size(); ++j)
    included[static_cast<size_t>(IncludedCanaryIndex(static_cast<int64_t>(j), bits[j]))] = true;
  return included;
}

bool PlausibleFairBits(std::string_view bits, double tail) {
  const auto n = static_cast<double>(bits.size());
  const auto ones = static_cast<double>(std::count(bits.begin(), bits.end(), '1'));
  // P[X <= k] for X ~ Binomial(n, 1/2), summed in log space; the smaller tail, doubled.
  auto log_pmf = [n](double i) {
    return std::lgamma(n + 1) - std::lgamma(i + 1) - std::lgamma(n - i + 1) - n * std::log(2.0);
  };
  const double k = std::min(ones, n - ones);
  double log_tail = -INFINITY;
  for (double i = 0; i <= k; ++i) {
    const double term = log_pmf(i);
    const double hi = std::max(log_tail, term);
    log_tail = hi + std::log(std::exp(log_tail - hi) + std::exp(term - hi));
  }
  return std::log(2.0) + log_tail >= std::log(tail);
}

std::vector<int64_t> CanaryPositions(std::string_view salt_hex, int64_t total, int64_t count) {
  if (count < 0 || count > total) return {};
  // A deterministic stream of 64-bit words: SHA-256(salt ":canary-positions:" counter), four
  // words per block.
  uint64_t counter = 0;
  std::string block;
  size_t used = 4;
  auto next_word = [&]() -> uint64_t {
    if (used == 4) {
      block = Sha256Hex(std::string(salt_hex) + ":canary-positions:" + std::to_string(counter++));
      used = 0;
    }
    const uint64_t word = std::stoull(block.substr(16 * used++, 16), nullptr, 16);
    return word;
  };
  auto below = [&](uint64_t n) {  // uniform in [0, n) by rejection
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t word = next_word();
    while (word >= limit) word = next_word();
    return word % n;
  };
  std::vector<bool> chosen(static_cast<size_t>(std::max<int64_t>(total, 0)), false);
  for (int64_t j = total - count; j < total; ++j) {
    const uint64_t t = below(static_cast<uint64_t>(j + 1));
    chosen[chosen[t] ? static_cast<size_t>(j) : t] = true;
  }
  std::vector<int64_t> positions;
  for (int64_t i = 0; i < total; ++i)
    if (chosen[static_cast<size_t>(i)]) positions.push_back(i);
  return positions;
}

std::string JoinPositions(const std::vector<int64_t>& positions) {
  std::string text;
  for (const int64_t p : positions) text += (text.empty() ? "" : ",") + std::to_string(p);
  return text;
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
