// Internal to common/model (includes LibTorch): what DP-SGD's per-record clipping hands the
// training loop. Its own header so that both clipping passes — the traced autograd one
// (dp_sgd_engine.h) and the MLP's hand-written one (mlp_trainer.h) — produce it without
// including each other.
#ifndef FEDSYN_COMMON_MODEL_CLIPPED_BATCH_H_
#define FEDSYN_COMMON_MODEL_CLIPPED_BATCH_H_

#include <torch/torch.h>

#include <vector>

namespace fedsyn::model {

// One batch after per-record clipping: the records' gradient norms before clipping and the sum
// of clipped gradients, one tensor per parameter (aligned with the module's parameters()).
struct ClippedBatch {
  double loss_sum = 0;  // summed loss of the batch, for progress reports
  torch::Tensor norms;
  std::vector<torch::Tensor> sums;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_CLIPPED_BATCH_H_
