#include "common/privacy/random.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace fedsyn::privacy {

double RandomSource::UniformOpen01() {
  // 53 random bits k give (k + 0.5) / 2^53, the midpoint of one of 2^53 equal cells: every
  // value lies strictly inside (0, 1).
  const uint64_t bits = NextU64() >> 11;
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
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
    // Fail closed: without entropy no privacy guarantee holds, and no caller can repair it.
    std::fprintf(stderr, "fatal: OpenSSL RAND_bytes failed (error %lu); refusing to continue\n",
                 ERR_get_error());
    std::abort();
  }
  next_ = 0;
}

}  // namespace fedsyn::privacy
