// attnlab/nn/jacobian.hpp — per-example derivatives of any nn::Model, by repeated backward passes.
//
// These are the generic (slow, obviously correct) derivatives that structured formulas are
// tested against, and the input gradients that attacks need:
//   parameter_jacobian(model, x)   J [B·C, P]: row b·C + c = ∂f_c(x_b)/∂θ  (one backward per row
//                                  and output: B·C backward passes on single rows)
//   input_jacobian(model, x)       [B, C, D]: slice b = ∂f(x_b)/∂x_b
//   loss_input_gradient(...)       [B, D]: ∂ℓ(f(x_b), y_b)/∂x_b of the PER-EXAMPLE loss (not the
//                                  batch mean), e.g. the FGSM direction sign(∂ℓ/∂x)
// The empirical NTK of any model is J(X₁) J(X₂)ᵀ (analysis/ntk/empirical_ntk.hpp).
//
// Usage:
//   MatrixD j = parameter_jacobian(net, x);          // [B*C, P]
//   MatrixD theta = j * j.transpose();               // [B*C, B*C] empirical NTK
//   MatrixD g = loss_input_gradient(net, x, targets, LossKind::mse);   // [B, D]
#pragma once

#include "attnlab/nn/losses.hpp"
#include "attnlab/nn/model.hpp"

namespace attnlab::nn {

MatrixD parameter_jacobian(const Model& model, const MatrixD& x);
Tensor3d input_jacobian(const Model& model, const MatrixD& x);
MatrixD loss_input_gradient(const Model& model, const MatrixD& x, const Targets& targets,
                            LossKind loss);

}  // namespace attnlab::nn
