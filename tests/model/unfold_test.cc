// The hand-written unfolding of DP-SGD's per-record convolution gradients
// (common/model/dp_sgd_engine.h, UnfoldPatches) against LibTorch's unfold, which it replaced.
#include <torch/torch.h>

#include "common/model/dp_sgd_engine.h"
#include "gtest/gtest.h"

namespace fedsyn::model {
namespace {

namespace F = torch::nn::functional;

struct Case {
  int64_t records, channels, height, width;
  F::UnfoldFuncOptions options;
};

TEST(UnfoldPatches, MatchesLibTorchsUnfoldExactly) {
  const std::vector<Case> cases = {
      // The CNN classifier's layers (k5 s2 p2) and the convolutional VAE's (k4 s2 p1).
      {3, 1, 28, 28, F::UnfoldFuncOptions(5).stride(2).padding(2)},
      {3, 16, 14, 14, F::UnfoldFuncOptions(5).stride(2).padding(2)},
      {2, 32, 14, 14, F::UnfoldFuncOptions(4).stride(2).padding(1)},
      // No padding, unit stride; non-square everything; dilation; padding wider than a kernel
      // reach; a kernel as large as the padded input.
      {2, 3, 9, 7, F::UnfoldFuncOptions(3)},
      {2, 2, 11, 8, F::UnfoldFuncOptions({3, 2}).stride({1, 3}).padding({2, 1})},
      {2, 2, 10, 10, F::UnfoldFuncOptions(3).dilation(2).padding(1).stride(2)},
      {1, 2, 5, 6, F::UnfoldFuncOptions({2, 3}).dilation({3, 1}).padding({4, 3}).stride({3, 2})},
      {2, 1, 4, 4, F::UnfoldFuncOptions(6).padding(1)},
  };
  torch::manual_seed(3);
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(k);
    const Case& c = cases[k];
    const torch::Tensor x = torch::randn({c.records, c.channels, c.height, c.width});
    const torch::Tensor reference = F::unfold(x, c.options);
    const torch::Tensor ours = UnfoldPatches(x, c.options);
    ASSERT_EQ(ours.sizes(), reference.sizes());
    EXPECT_TRUE(torch::equal(ours, reference)) << (ours - reference).abs().max().item<float>();
    // A non-contiguous view of the same values unfolds the same.
    const torch::Tensor strided = x.transpose(2, 3).contiguous().transpose(2, 3);
    EXPECT_TRUE(torch::equal(UnfoldPatches(strided, c.options), reference));
  }
}

}  // namespace
}  // namespace fedsyn::model
