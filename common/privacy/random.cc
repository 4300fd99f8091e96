#include "common/privacy/random.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
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

// Calls fill_part(bytes, length) over `out` in parts of at most 2^30 bytes: OpenSSL takes
// lengths as int.
template <typename FillPart>
void FillInParts(std::span<uint64_t> out, FillPart fill_part) {
  constexpr size_t kMaxWordsPerCall = size_t{1} << 27;
  for (size_t start = 0; start < out.size(); start += kMaxWordsPerCall) {
    const std::span<uint64_t> part =
        out.subspan(start, std::min(kMaxWordsPerCall, out.size() - start));
    fill_part(reinterpret_cast<unsigned char*>(part.data()), static_cast<int>(part.size_bytes()));
  }
}

void FillFromDrbg(std::span<uint64_t> out) {
  FillInParts(out, [](unsigned char* bytes, int length) {
    if (RAND_bytes(bytes, length) != 1) FailClosed("RAND_bytes");
  });
}

}  // namespace

void RandomSource::Fill(std::span<uint64_t> out) {
  for (uint64_t& word : out) word = NextU64();
}

double RandomSource::UniformOpen01() { return OpenInterval01(NextU64()); }

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

void SecureRandom::Fill(std::span<uint64_t> out) {
  // What is left of the buffer first (wiped as it goes), then the rest straight from the DRBG:
  // the words NextU64() would have returned, without the copy.
  size_t filled = 0;
  while (filled < out.size() && next_ < kBufferWords) out[filled++] = NextU64();
  FillFromDrbg(out.subspan(filled));
}

void SecureRandom::Refill() {
  FillFromDrbg(buffer_);
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

void KeyedStream::Fill(std::span<uint64_t> out) {
  // What is left of the buffer first, then the keystream written straight into `out`: counter
  // mode continues where the buffer ended, so these are the words NextU64() would return.
  const size_t from_buffer = std::min(out.size(), kBufferWords - next_);
  std::copy_n(buffer_.begin() + static_cast<ptrdiff_t>(next_), from_buffer, out.begin());
  next_ += from_buffer;
  WriteKeystream(out.subspan(from_buffer));
}

void KeyedStream::Refill() {
  WriteKeystream(buffer_);
  next_ = 0;
}

void KeyedStream::WriteKeystream(std::span<uint64_t> out) {
  // Encrypting zeros yields the keystream itself.
  std::fill(out.begin(), out.end(), 0);
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(cipher_);
  FillInParts(out, [ctx](unsigned char* bytes, int length) {
    int written = 0;
    if (EVP_EncryptUpdate(ctx, bytes, &written, bytes, length) != 1 || written != length) {
      FailClosed("EVP_EncryptUpdate(aes-256-ctr)");
    }
  });
}

}  // namespace fedsyn::privacy
