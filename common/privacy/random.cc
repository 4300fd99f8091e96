#include "common/privacy/random.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace fedsyn::privacy {
namespace {

[[noreturn]] void FailClosed(const char* what) {
  // Without entropy (or the keystream built from it) no privacy guarantee holds, and no caller can
  // repair it.
  std::fprintf(stderr, "fatal: OpenSSL %s failed (error %lu); refusing to continue\n", what,
               ERR_get_error());
  std::abort();
}

}  // namespace

double RandomSource::UniformOpen01() {
  // 52 random bits k give (2k + 1) / 2^53. Every such value is a double exactly: it has at most
  // 53 significant bits, and in [1/2, 1) doubles are spaced 2^-53, so all 2^52 cells stay
  // distinct. The extremes are 2^-53 and 1 - 2^-53. (With 53 bits the top cell's midpoint
  // 1 - 2^-54 rounds to exactly 1.0, and cells in the upper half merge in pairs.)
  const uint64_t bits = NextU64() >> 12;
  return static_cast<double>(2 * bits + 1) * 0x1.0p-53;
}

uint64_t RandomSource::UniformBelow(uint64_t n) {
  // Rejection sampling: accept only draws below the largest multiple of n.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t draw;
  do {
    draw = NextU64();
  } while (draw >= limit);
  return draw % n;
}

SecureRandom::~SecureRandom() { OPENSSL_cleanse(buffer_.data(), sizeof(buffer_)); }

uint64_t SecureRandom::NextU64() {
  if (next_ == kBufferWords) Refill();
  const uint64_t value = buffer_[next_];
  buffer_[next_] = 0;
  ++next_;
  return value;
}

void SecureRandom::Refill() {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(buffer_.data()),
                 static_cast<int>(sizeof(buffer_))) != 1) {
    FailClosed("RAND_bytes");
  }
  next_ = 0;
}

KeyedStream::KeyedStream(RandomSource& key_source) {
  std::array<uint64_t, 4> key;
  for (uint64_t& word : key) word = key_source.NextU64();
  const std::array<unsigned char, 16> counter{};  // fresh key per stream: a zero start is safe
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) FailClosed("EVP_CIPHER_CTX_new");
  cipher_ = ctx;
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), counter.data()) != 1) {
    FailClosed("EVP_EncryptInit_ex(aes-256-ctr)");
  }
  OPENSSL_cleanse(key.data(), sizeof(key));
}

KeyedStream::~KeyedStream() {
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(cipher_));
  OPENSSL_cleanse(buffer_.data(), sizeof(buffer_));
}

uint64_t KeyedStream::NextU64() {
  if (next_ == kBufferWords) Refill();
  return buffer_[next_++];
}

void KeyedStream::Refill() {
  // Encrypting zeros yields the keystream itself.
  buffer_.fill(0);
  auto* bytes = reinterpret_cast<unsigned char*>(buffer_.data());
  int written = 0;
  if (EVP_EncryptUpdate(static_cast<EVP_CIPHER_CTX*>(cipher_), bytes, &written, bytes,
                        static_cast<int>(sizeof(buffer_))) != 1 ||
      written != static_cast<int>(sizeof(buffer_))) {
    FailClosed("EVP_EncryptUpdate(aes-256-ctr)");
  }
  next_ = 0;
}

}  // namespace fedsyn::privacy
