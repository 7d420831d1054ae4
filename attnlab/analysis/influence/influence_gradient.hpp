// attnlab/analysis/influence/influence_gradient.hpp — exact reverse-mode gradients of kernel
// influence and of the kernel predictor's validation loss with respect to the kernel matrices.
// Chained through KernelPipeline they give ∂/∂(raw training rows): M3 and the NTGA attack.
//
// Notation as kernel_influence.hpp: A = (K + λI)⁻¹, α = A Y, k = K*(x_t, X) [n], b = A k,
// a_i = A e_i, f = kᵀα, f₋ᵢ = f − (b_i / A_ii) α_i. Differentials use dA = −A dK A:
//   dα = −A dK α,  db_i = dkᵀ a_i − bᵀ dK a_i,  dA_ii = −a_iᵀ dK a_i,  dα_i = −a_iᵀ dK α.
// Influence I = ℓ(f₋ᵢ) − ℓ(f) with g₁ = ℓ'(f₋ᵢ), g₀ = ℓ'(f), h = g₁ − g₀, s = g₁·α_i:
//   ∂I/∂k = α h − (s/A_ii) a_i
//   ∂I/∂K = −b (α h)ᵀ + (s/A_ii) b a_iᵀ + (b_i/A_ii) a_i (α g₁)ᵀ − (b_i s/A_ii²) a_i a_iᵀ
// (K enters as a general matrix; KernelPipeline symmetrizes through S = F Fᵀ).
// Validation loss of the kernel predictor, L = (1/T) Σ_t ℓ(f(x_t), y_t) with ℓ the cross-entropy
// on the outputs (C ≥ 2), the logistic loss log(1 + e^{−y f}) of one ±1 output, or ½‖f − y‖²
// (mse): with G = ∂L/∂F [T, C],
//   ∂L/∂K* = G αᵀ,   ∂L/∂K = −(K* A)ᵀ G αᵀ.
// Every formula is finite-difference tested (tests/analysis/influence_test.cpp).
//
// Usage:
//   KernelInfluence inf(k, y, 1e-3);
//   KernelGradient g = influence_kernel_gradient(inf, k_test.row(t), targets, t, i, target);
//   MatrixD d_raw = pipeline.backward(g.d_k_train, g.d_k_query);   // ∂I_ti/∂R [n, D]
#pragma once

#include "attnlab/analysis/influence/kernel_influence.hpp"
#include "attnlab/nn/losses.hpp"

namespace attnlab::analysis::influence {

struct KernelGradient {
  double value = 0.0;  // the differentiated scalar
  MatrixD d_k_train;   // [n, n]
  MatrixD d_k_query;   // [T, n] (rows other than the differentiated test point are zero)
};

// ∂I_ti/∂K and ∂I_ti/∂K* for k_test_train [T, n], test row t and training point i.
KernelGradient influence_kernel_gradient(const KernelInfluence& inf, const MatrixD& k_test_train,
                                         const InfluenceTargets& targets, Index t, Index i,
                                         InfluenceTarget target);

enum class ValidationLoss { cross_entropy, logistic, mse };
// L and its kernel gradients for validation rows k_val_train [T, n]; labels [T] (cross-entropy,
// logistic: label 1 -> y = +1, else −1) or targets [T, C] (mse).
KernelGradient validation_loss_gradient(const KernelInfluence& inf, const MatrixD& k_val_train,
                                        const nn::Targets& val_targets, ValidationLoss loss);

}  // namespace attnlab::analysis::influence
