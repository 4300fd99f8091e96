// Adam (Kingma and Ba 2015) with torch::optim::AdamOptions' defaults — betas 0.9 and 0.999,
// eps 1e-8, no weight decay, no AMSGrad — as one loop over each parameter's floats. LibTorch's
// optimizer dispatches about ten operations per parameter and step, each with a temporary; on the
// tabular VAE (14 tensors, 69,270 values) that was 0.06 s of a 0.7 s DP-SGD epoch measured
// under load (docs/performance.md, "What else a DP-SGD run paid"). The hand-written training
// step (mlp_trainer.h) and the DP-SGD loop (dp_sgd_engine.h) update through it;
// tests/model/adam_optimizer_test.cc checks two steps in closed form, and the training loops'
// tests check it against torch::optim::Adam.
// Torch-free: parameters and gradients are plain float spans, handed to every step so that the
// optimizer keeps no pointer into a model that could move.
#ifndef FEDSYN_COMMON_MODEL_ADAM_OPTIMIZER_H_
#define FEDSYN_COMMON_MODEL_ADAM_OPTIMIZER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::model {

class AdamOptimizer {
 public:
  // `parameters`: the lists every Step will receive, in that order; only their sizes are kept.
  AdamOptimizer(std::span<const std::span<float>> parameters, double learning_rate);

  // One step: `values[p]` moves against `gradients[p]`. Refuses (leaving everything unchanged)
  // any list whose count or sizes differ from the constructor's.
  absl::Status Step(std::span<const std::span<float>> values,
                    std::span<const std::span<const float>> gradients);

 private:
  std::vector<std::vector<float>> first_moment_, second_moment_;
  double learning_rate_;
  int64_t step_ = 0;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_ADAM_OPTIMIZER_H_
