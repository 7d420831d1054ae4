// attnlab/analysis/ntk/empirical_ntk.hpp — finite-width (empirical) NTKs of the nn/ models:
// the structured GEMM form for 2L-ReLU and MLP-Attn, and the generic Jacobian-contraction oracle.
//
// This file is part of the analysis/ntk KERNEL LIBRARY (empirical_ntk, analytic_ntk,
// kernel_regression, kernel_metrics), which the spectral and influence studies use; the NTK
// convergence STUDY is convergence.hpp.
//
// Definitions (SCIENCE.md §2). For f(x) = m^{-1/2} aᵀ relu(W x) with W [m, D] trained, a [m, C]:
//   full NTK     Θ[(i,c),(j,c')] = Σ_θ ∂f_c(x_i)/∂θ · ∂f_c'(x'_j)/∂θ
//                                = (x_iᵀx'_j) · (1/m) Σ_r a_rc a_rc' s_ir s'_jr,   s_ir = 1[w_rᵀx_i
//                                > 0]
//                laid out [n1·C, n2·C] with row i·C + c (the layout of nn::parameter_jacobian);
//   traced NTK   Θ(x_i, x'_j) = (1/C) Σ_c Θ[(i,c),(j,c)] = (X₁X₂ᵀ) ⊙ (S₁ diag(ā) S₂ᵀ)/m,
//                ā_r = (1/C) Σ_c a_rc² (= 1 for ±1 output weights). This is neural-tangents'
//                default (trace over the output axis); for ±1 weights every diagonal block
//                equals it, and Θ∞ ⊗ I_C is the infinite-width limit of the full NTK.
// "Θ_m" in the studies means the traced kernel. For MLP-Attn the same formulas apply to the
// features x̃ = normalize(C x).
//
// Cost and precision: H = X Wᵀ (sign patterns) and the Gram X₁X₂ᵀ are fp64 GEMMs; the count
// matrix S₁S₂ᵀ holds integers ≤ m, which fp32 GEMM computes EXACTLY for m < 2^24, so it runs in
// fp32 (half the time of fp64) without rounding. The symmetric overloads (one x) use SYRK for
// both products. fp32_preactivations = true also computes H in fp32: faster, but a sign whose
// pre-activation is within fp32 rounding of 0 may flip (benchmarks only).
//
// The oracle jacobian_ntk() works for ANY nn::Model via nn::parameter_jacobian (J₁ J₂ᵀ); the
// structured forms equal it to ~1e-13 in fp64 (tests/analysis/ntk_empirical_test.cpp).
//
// Usage:
//   MatrixD theta = empirical_ntk(net, x_train);                 // [n, n] traced, symmetric
//   MatrixD cross = empirical_ntk(net, x_test, x_train);         // [n_test, n]
//   MatrixD full = empirical_ntk_full(net, x_train, x_train);    // [n*C, n*C]
//   MatrixD oracle = jacobian_ntk(net, x_small, x_small, NtkOutputs::full);
//   double lmax = full_ntk_lambda_max(net, x_train);             // for arm B's step size
#pragma once

#include <cstdint>

#include "attnlab/core/tensor.hpp"
#include "attnlab/nn/mlp_attn.hpp"
#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab::analysis::ntk {

struct StructuredNtkOptions {
  bool fp32_preactivations = false;  // compute H = X Wᵀ in fp32 (see header comment)
};

// Traced NTK of 2L-ReLU: x1 [n1, D], x2 [n2, D] -> [n1, n2].
MatrixD empirical_ntk(const nn::TwoLayerRelu& net, const MatrixD& x1, const MatrixD& x2,
                      const StructuredNtkOptions& options = {});
// Symmetric case x1 = x2 = x [n, D] -> [n, n] (SYRK; exactly symmetric).
MatrixD empirical_ntk(const nn::TwoLayerRelu& net, const MatrixD& x,
                      const StructuredNtkOptions& options = {});
// MLP-Attn: the same on normalize(x C).
MatrixD empirical_ntk(const nn::MlpAttn& net, const MatrixD& x1, const MatrixD& x2,
                      const StructuredNtkOptions& options = {});
MatrixD empirical_ntk(const nn::MlpAttn& net, const MatrixD& x,
                      const StructuredNtkOptions& options = {});

// Full NTK [n1·C, n2·C] (row i·C + c).
MatrixD empirical_ntk_full(const nn::TwoLayerRelu& net, const MatrixD& x1, const MatrixD& x2);
MatrixD empirical_ntk_full(const nn::MlpAttn& net, const MatrixD& x1, const MatrixD& x2);

enum class NtkOutputs { traced, full };
// Oracle for any model: J(x1) J(x2)ᵀ from per-example parameter gradients.
// traced -> [n1, n2]; full -> [n1·C, n2·C].
MatrixD jacobian_ntk(const nn::Model& model, const MatrixD& x1, const MatrixD& x2,
                     NtkOutputs outputs = NtkOutputs::traced);

// Largest eigenvalue of the full NTK [n·C, n·C] of 2L-ReLU on x [n, D], by power iteration on a
// structured matrix-vector product (never forming the n·C × n·C matrix; O(n²m) per iteration).
// Returns the Rayleigh quotient once it changes by < tol relatively (or after max_iter
// iterations): a lower bound that converges to λ_max. For C = 1 it is the exact λ_max of the
// traced kernel (LAPACK). NumericError if the iteration produces a non-finite value.
double full_ntk_lambda_max(const nn::TwoLayerRelu& net, const MatrixD& x, Index max_iter = 500,
                           double tol = 1e-10);

// Mean of the traced NTK of `samples` independent width-m 2L-ReLU nets (w ~ N(0, I), one
// output) on x [n, D], seeds Rng streams of `seed`. Converges to Θ∞ as samples·m -> ∞.
MatrixD monte_carlo_ntk(const MatrixD& x, Index width, Index samples, std::uint64_t seed);

}  // namespace attnlab::analysis::ntk
