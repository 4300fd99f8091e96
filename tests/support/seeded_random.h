// A seeded, NON-cryptographic RandomSource for tests only. It lives under tests/ so that no
// product binary can link it, let alone select it from a command line.
#ifndef FEDSYN_TESTS_SUPPORT_SEEDED_RANDOM_H_
#define FEDSYN_TESTS_SUPPORT_SEEDED_RANDOM_H_

#include <random>

#include "common/privacy/random.h"

namespace fedsyn::testing {

class SeededRandom final : public privacy::RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t NextU64() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_SEEDED_RANDOM_H_
