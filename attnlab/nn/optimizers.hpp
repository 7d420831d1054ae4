// attnlab/nn/optimizers.hpp — first-order optimizers on a flat parameter vector.
//
//   Sgd   θ ← θ − η v,  v ← μ v + g   (μ = 0: plain (full-batch) gradient descent)
//   Adam  m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ − η m̂ / (√v̂ + ε)  (bias-corrected)
//
// weight_decay λ is COUPLED L2 regularization: g ← g + λθ before the update, i.e. the loss gets
// + (λ/2)‖θ‖² (PyTorch's Adam(weight_decay=λ) semantics; the paper's "L2 1e-3").
// Updates are elementwise in a fixed order: bit-identical for any thread count.
//
// Usage:
//   Adam opt(model.num_params(), {.lr = 1e-3, .weight_decay = 1e-3});
//   opt.step(model.params(), grad);                   // grad [P]
#pragma once

#include "attnlab/nn/model.hpp"

namespace attnlab::nn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam {
 public:
  Adam(Index num_params, const AdamOptions& options);
  void step(ParamMap params, const VectorD& grad);  // params [P], grad [P]
  Index steps() const { return t_; }
  const AdamOptions& options() const { return o_; }

 private:
  AdamOptions o_;
  VectorD m_, v_;  // [P] moment estimates
  Index t_ = 0;
};

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double weight_decay = 0.0;
};

class Sgd {
 public:
  Sgd(Index num_params, const SgdOptions& options);
  void step(ParamMap params, const VectorD& grad);  // params [P], grad [P]
  Index steps() const { return t_; }
  const SgdOptions& options() const { return o_; }

 private:
  SgdOptions o_;
  VectorD velocity_;  // [P]
  Index t_ = 0;
};

}  // namespace attnlab::nn
