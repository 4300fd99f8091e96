// A site's release from a VAE able to memorise (weak KL weight, wide latent space, long
// training in the clear), so that without noise the release would reproduce its inputs — what a
// canary audit needs to show its teeth. Shared by the canary-audit tests.
#ifndef FEDSYN_TESTS_SUPPORT_MEMORISING_RELEASE_H_
#define FEDSYN_TESTS_SUPPORT_MEMORISING_RELEASE_H_

#include <utility>

#include "common/base/progress.h"
#include "common/model/model_bundle.h"
#include "common/privacy/metric_mechanism.h"
#include "gtest/gtest.h"
#include "site_agent/release.h"
#include "tests/support/heart_data.h"

namespace fedsyn::testing {

inline constexpr double kMemorisingClipRadius = 10.0;
inline constexpr int kMemorisingLatentDim = 16;

// A VAE (latent 16) trained in the clear on `input` until it memorises.
inline model::ModelBundle MemorisingModel(const EncodedHeart& heart, const data::Table& input,
                                          uint64_t seed) {
  model::ModelBundle bundle;
  bundle.schema = heart.schema;
  bundle.transformer = heart.transformer;
  model::VaeSpec spec = model::TableVaeSpec(heart.transformer, kMemorisingLatentDim, {128, 128});
  spec.beta = 0.05;
  bundle.vae = std::move(*model::Vae::Create(spec, seed));
  model::TrainOptions options;
  options.max_epochs = 200;
  options.patience = 200;
  options.seed = seed;
  base::NullProgress quiet;
  EXPECT_TRUE(bundle.vae->Train(heart.transformer.Encode(input), options, quiet).ok());
  return bundle;
}

// The metric mechanism at `epsilon_per_unit` with R = 10, k = 16. A huge epsilon_per_unit is the
// test-only way of switching the noise off: nothing in the product can ask for it while
// claiming less.
inline privacy::MetricMechanism MemorisingMechanism(double epsilon_per_unit) {
  privacy::MetricMechanismParams params;
  params.epsilon_per_unit = epsilon_per_unit;
  params.clip_radius = kMemorisingClipRadius;
  params.dimension = kMemorisingLatentDim;
  return *privacy::MetricMechanism::Create(params);
}

// Trains on `input` and releases every row of it through MemorisingMechanism, decoding by
// argmax.
inline data::Table MemorisingRelease(const EncodedHeart& heart, const data::Table& input,
                                     double epsilon_per_unit, uint64_t seed,
                                     privacy::RandomSource& rng) {
  const model::ModelBundle bundle = MemorisingModel(heart, input, seed);
  auto released =
      site::ReleaseTable(bundle, input, MemorisingMechanism(epsilon_per_unit),
                         data::DecodingMode::kArgmax, privacy::CodeDecoding::kNoisedCode, rng);
  EXPECT_TRUE(released.ok()) << released.status();
  return released.ok() ? std::move(released->synthetic) : data::Table{};
}

// The release epsilon per record the mechanism above claims at `epsilon_per_unit`.
inline double MemorisingReleaseEpsilon(double epsilon_per_unit) {
  return MemorisingMechanism(epsilon_per_unit).RecordEpsilon();
}

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_MEMORISING_RELEASE_H_
