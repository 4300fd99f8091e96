// Sources of randomness. Privacy noise is drawn ONLY from SecureRandom, which reads the
// OpenSSL DRBG and aborts the process if it ever fails (fail closed: a release without real
// entropy would be silently non-private). Seeded generators live in tests/support only and
// cannot be selected from any command line.
#ifndef FEDSYN_COMMON_PRIVACY_RANDOM_H_
#define FEDSYN_COMMON_PRIVACY_RANDOM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fedsyn::privacy {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // 64 uniformly random bits.
  virtual uint64_t NextU64() = 0;
  // The next out.size() words: the same words, in the same order, as that many NextU64()
  // calls. Bulk consumers (DP-SGD's noise) call this once per block instead of once per word;
  // the sources override it to fill `out` straight from OpenSSL.
  virtual void Fill(std::span<uint64_t> out);

  // Uniform on the open interval (0, 1): the midpoints (k + 1/2) / 2^52 of 2^52 equal cells,
  // every one exactly representable (so no two cells merge) and strictly inside (0, 1): log()
  // and log1p(-u) are both finite. OpenInterval01(NextU64()).
  double UniformOpen01();
  // The map UniformOpen01 applies to one word (its top 52 bits), for words from Fill().
  static double OpenInterval01(uint64_t word) {
    // 52 random bits k give (2k + 1) / 2^53. Every such value is a double exactly: it has at
    // most 53 significant bits, and in [1/2, 1) doubles are spaced 2^-53, so all 2^52 cells
    // stay distinct. The extremes are 2^-53 and 1 - 2^-53. (With 53 bits the top cell's
    // midpoint 1 - 2^-54 rounds to exactly 1.0, and cells in the upper half merge in pairs.)
    const uint64_t bits = word >> 12;
    // Through int64_t: 2k + 1 < 2^53 converts exactly either way, and the signed conversion is
    // one instruction where the unsigned one needs a branch.
    return static_cast<double>(static_cast<int64_t>(2 * bits + 1)) * 0x1.0p-53;
  }
  // Uniform integer in [0, n), n > 0, without modulo bias.
  uint64_t UniformBelow(uint64_t n);
};

// Cryptographically secure randomness from OpenSSL's RAND_bytes. Not thread-safe; create
// one per thread. Aborts (never returns an error) when OpenSSL cannot supply bytes.
class SecureRandom final : public RandomSource {
 public:
  SecureRandom() = default;
  SecureRandom(const SecureRandom&) = delete;
  SecureRandom& operator=(const SecureRandom&) = delete;
  ~SecureRandom() override;

  uint64_t NextU64() override;
  void Fill(std::span<uint64_t> out) override;

 private:
  void Refill();

  // Bytes are fetched in blocks to amortise the DRBG call; the buffer is wiped on destruction.
  static constexpr size_t kBufferWords = 512;
  std::array<uint64_t, kBufferWords> buffer_{};
  size_t next_ = kBufferWords;
};

// A keystream generator for bulk privacy randomness (DP-SGD's sampling masks, reparameterisation
// and gradient noise): AES-256 in counter mode under a 256-bit key drawn from another source
// (in production SecureRandom), so its output is computationally indistinguishable from
// uniform for anyone without the key, at a fraction of the DRBG's cost per byte. The 128-bit
// counter starts at zero; a key is never reused because every stream draws a fresh one.
// Aborts, like SecureRandom, if OpenSSL fails. Not thread-safe.
class KeyedStream final : public RandomSource {
 public:
  // Draws the 256-bit key from `key_source`.
  explicit KeyedStream(RandomSource& key_source);
  KeyedStream(const KeyedStream&) = delete;
  KeyedStream& operator=(const KeyedStream&) = delete;
  ~KeyedStream() override;

  uint64_t NextU64() override;
  void Fill(std::span<uint64_t> out) override;

 private:
  void Refill();
  // The next out.size() words of the keystream, written into `out`.
  void WriteKeystream(std::span<uint64_t> out);

  static constexpr size_t kBufferWords = 4096;
  void* cipher_ = nullptr;  // EVP_CIPHER_CTX, kept out of the header
  std::array<uint64_t, kBufferWords> buffer_{};
  size_t next_ = kBufferWords;
};

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_RANDOM_H_
