// Private to the Vae class (its pimpl), whose methods are split between vae.cc (Adam, encode,
// decode, files) and dp_sgd.cc (DP-SGD): both need the networks behind the torch-free
// interface. Not for other translation units.
#ifndef FEDSYN_COMMON_MODEL_VAE_IMPL_H_
#define FEDSYN_COMMON_MODEL_VAE_IMPL_H_

#include <memory>

#include "common/model/vae.h"
#include "common/model/vae_net.h"

namespace fedsyn::model {

struct Vae::Impl {
  explicit Impl(const VaeSpec& spec) : net(std::make_shared<VaeNet>(spec)) {}
  std::shared_ptr<VaeNet> net;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_VAE_IMPL_H_
