// attnlab/analysis/influence/tracin.hpp — TracIn (Pruthi et al. 2020) for the 2L-ReLU network,
// exact per-checkpoint gradient dot products without forming per-example gradients.
//
// TracInCP(z_i, z_t) = Σ_c η_c ∇_θ ℓ(θ_c, z_i) · ∇_θ ℓ(θ_c, z_t)   (positive = proponent/helpful,
// the sign convention of kernel influence). For f(x) = m^{-1/2} aᵀ relu(W x), W trained, and
// loss gradients g = ∂ℓ/∂f [C] per example:
//   ∇_W ℓ(x) = m^{-1/2} (s ⊙ (a g)) xᵀ,  s = 1[W x > 0]  =>
//   ∇ℓ(x_t)·∇ℓ(x_i) = (x_tᵀ x_i) · (1/m) Σ_r (a_r·g_t) s_tr (a_r·g_i) s_ir
// i.e. (X_t Xᵀ) ⊙ (P_t Pᵀ)/m with P = S ⊙ (G Aᵀ) [·, m]: two GEMMs per checkpoint.
// (For MLP-Attn pass the attention features as x.) The malleability study accumulates it over
// arm B's full-batch GD trajectory (η_c = η·k/n for a checkpoint every k steps of the mean loss).
//
// Usage:
//   MatrixD dots = gradient_dot_products(net, x_test, g_test, x_train, g_train);   // [T, n]
//   tracin += (lr * every / n) * dots;
#pragma once

#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab::analysis::influence {

// x_a [T, D], g_a [T, C], x_b [n, D], g_b [n, C] -> [T, n] of ∇_θℓ(a_t)·∇_θℓ(b_i).
MatrixD gradient_dot_products(const nn::TwoLayerRelu& net, const MatrixD& x_a, const MatrixD& g_a,
                              const MatrixD& x_b, const MatrixD& g_b);

}  // namespace attnlab::analysis::influence
