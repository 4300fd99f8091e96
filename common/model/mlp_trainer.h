// Internal to common/model (includes LibTorch): the tabular VAE's training step written out by
// hand — forward, the loss's gradient, backward and Adam — on buffers allocated once, instead of
// LibTorch's autograd (issue #15). On this model (widths <= 128, batch 256) the arithmetic is a
// sixth of an autograd step; operator dispatch, graph bookkeeping and a fresh allocation for
// every intermediate are the rest (docs/performance.md, "Where the time goes"). Matrix products
// still go through LibTorch (the same BLAS, into preallocated outputs); everything elementwise is
// a plain loop over the rows, and Adam is AdamOptimizer's loop.
//
// It computes exactly what VaeNet::RecordLoss + backward() computes (tested against autograd:
// tests/model/mlp_trainer_test.cc) and draws the reparameterisation noise from LibTorch's
// generator in the same order as the autograd loop, so a seed trains the same model up to float
// rounding. DP-SGD uses its per-record clipping (ClipPerRecord). Only Architecture::kMlp.
#ifndef FEDSYN_COMMON_MODEL_MLP_TRAINER_H_
#define FEDSYN_COMMON_MODEL_MLP_TRAINER_H_

#include <vector>

#include "common/model/adam_optimizer.h"
#include "common/model/clipped_batch.h"
#include "common/model/vae_net.h"

namespace fedsyn::model {

class MlpTrainer {
 public:
  // Whether a model of `spec` trains through this class when the caller `requested` it
  // (TrainOptions::fused_mlp_step): only MLPs have a hand-written step.
  static bool Serves(const VaeSpec& spec, bool requested) {
    return requested && spec.architecture == Architecture::kMlp;
  }

  // `net` must be an MLP VaeNet and outlive the trainer. Buffers are sized for `max_batch` rows
  // and grow when a larger batch comes (DP-SGD's Poisson batches vary).
  MlpTrainer(VaeNet& net, int64_t max_batch, double learning_rate);

  // One Adam step on the mean loss of `x` (rows x input_width, float, contiguous), with the
  // reparameterisation noise drawn from LibTorch's generator. Returns the batch's summed loss.
  absl::StatusOr<double> Step(const torch::Tensor& x);

  // Leaves in every parameter's grad() the gradient of `scale` times the summed loss of `x` at
  // reparameterisation noise `eps` (rows x latent_dim); returns the summed loss.
  double ComputeGradients(const torch::Tensor& x, const torch::Tensor& eps, double scale);

  // DP-SGD's clipping, what LayerTrace::Clip computes through autograd: each record's gradient
  // norm (every linear layer's |g_i|^2 (|x_i|^2 + 1), plus log_sigma's closed form) and the sum
  // of the records' gradients scaled by min(1, clip_norm / norm), one tensor per parameter.
  ClippedBatch ClipPerRecord(const torch::Tensor& x, const torch::Tensor& eps, double clip_norm);

 private:
  struct Layer {
    torch::Tensor weight, bias;  // the module's own parameters (out x in, out)
    torch::Tensor output;        // max_batch x out: after the ReLU where the layer has one
    torch::Tensor grad;          // max_batch x out: the loss's gradient with respect to output
  };
  // Activations of `layers` applied to `input` (rows `rows`); ReLU after all but the last when
  // `relu_last` is false.
  void Forward(std::vector<Layer>& layers, const torch::Tensor& input, int64_t rows,
               bool relu_last);
  // Back through `layers` from the last one's `grad` (filled by the caller): the gradient below
  // each layer (through the ReLU on every output but the last), the input's gradient into
  // `grad_in` unless it is undefined, and each layer's parameter gradients when
  // `parameter_gradients`.
  void Backward(std::vector<Layer>& layers, const torch::Tensor& input,
                const torch::Tensor& grad_in, int64_t rows, bool parameter_gradients);
  // The loss and every layer's output gradient (times `scale`); the parameters' gradients too
  // when `parameter_gradients`. Per-record log_sigma gradients go to log_sigma_rows_.
  double Propagate(const torch::Tensor& x, const torch::Tensor& eps, double scale,
                   bool parameter_gradients);
  // Each layer's weight and bias gradients from its output gradient and input.
  void ParameterGradients(Layer& layer, const torch::Tensor& input, int64_t rows);
  void Allocate(int64_t max_batch);
  // The reconstruction loss of the decoder's output summed over `rows` records of `x`, and its
  // gradient times `scale` into the last decoder layer's `grad` and log_sigma's grad(); each
  // record's own (unscaled) log_sigma gradient into log_sigma_rows_.
  double OutputLoss(const float* x, int64_t rows, double scale);

  VaeNet& net_;
  int64_t max_batch_;
  std::vector<Layer> encoder_, decoder_, heads_;  // heads_: mu, log variance
  std::vector<torch::Tensor> parameters_;
  AdamOptimizer optimizer_;
  torch::Tensor eps_, std_, z_, grad_z_;  // max_batch x latent_dim
  std::vector<float> log_sigma_rows_;     // max_batch x Gaussian columns
  std::vector<int64_t> gaussian_, bernoulli_;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_MLP_TRAINER_H_
