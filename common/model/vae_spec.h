// What a VAE is made of: its architecture and sizes, torch-free. Its own header because the
// model file format (model_file.h) reads and writes specs without needing the model itself.
#ifndef FEDSYN_COMMON_MODEL_VAE_SPEC_H_
#define FEDSYN_COMMON_MODEL_VAE_SPEC_H_

#include <vector>

#include "common/data/transformer.h"

namespace fedsyn::model {

enum class Architecture {
  kMlp,     // tables: width -> hidden... -> (mu, log var) -> hidden... -> width
  kConv28,  // 1x28x28 images, Bernoulli pixels
};

struct VaeSpec {
  Architecture architecture = Architecture::kMlp;
  int input_width = 0;              // model-space width; 784 for kConv28
  std::vector<data::Block> blocks;  // loss layout; kConv28 uses one Bernoulli block per pixel
  int latent_dim = 8;
  std::vector<int> hidden = {128, 128};
  double beta = 1.0;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_VAE_SPEC_H_
