// attnlab/analysis/influence/kernel_pipeline.hpp — the infinite-width NTK Θ∞ of 2L-ReLU or
// MLP-Attn as a differentiable function of the RAW training rows (pixel space), for data
// sensitivity (M3) and poisoning (NTGA), SCIENCE.md §3.
//
// Forward, for raw training rows R [n, D] and raw query rows R* [T, D] (e.g. test points):
//   U = normalize_rows(R), U* = normalize_rows(R*)                          (SCIENCE.md §0)
//   relu: F = U, F* = U*
//   attn: C = UᵀU [D, D] (the TRAINING rows only), F = normalize(U C), F* = normalize(U* C)
//   S = F Fᵀ, S* = F* Fᵀ,   K = κ(S) [n, n],  K* = κ(S*) [T, n],  κ(u) = u (π − arccos u)/(2π)
// (Θ∞ on unit rows; analysis/ntk/analytic_ntk). For MLP-Attn, moving ONE training row moves C and
// therefore every feature, train and query: the transductive path is differentiated exactly.
//
// Backward: given G = ∂L/∂K [n, n] and G* = ∂L/∂K* [T, n], returns ∂L/∂R [n, D] (R* held fixed;
// its features still move through C). With κ'(u) = (π − arccos u)/(2π) + u/(2π√(1 − u²)):
//   ∂L/∂S = G ⊙ κ'(S) (off-diagonal; K_ii = ½ is constant on unit rows),  ∂L/∂S* = G* ⊙ κ'(S*)
//   ∂L/∂F = (∂S + ∂Sᵀ) F + ∂S*ᵀ F*,  ∂L/∂F* = ∂S* F
//   normalize backward  ∂z = (∂f − f (fᵀ∂f)) / ‖z‖  per row
//   attn: ∂U = ∂Z C, ∂C = Uᵀ∂Z + U*ᵀ∂Z*, then ∂U += U (∂C + ∂Cᵀ)   (C = UᵀU)
//   ∂R = normalize backward of ∂U.
// κ' diverges at |u| → 1: off-diagonal pairs with 1 − u² < 1e-14 (duplicate rows) get κ' of
// 1 − u² = 1e-14 — a bounded stand-in; Fashion-MNIST subsets have none.
//
// Usage:
//   KernelPipeline p(ntk::ModelKind::attn, raw_train, raw_test);   // forward once
//   const MatrixD& k = p.k_train();  const MatrixD& ks = p.k_query();
//   MatrixD d_raw = p.backward(d_k_train, d_k_query);               // [n, D]
#pragma once

#include "attnlab/analysis/ntk/kernel_data.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::influence {

class KernelPipeline {
 public:
  // raw_train [n, D], raw_query [T, D] (T may be 0); rows must be nonzero (NumericError).
  KernelPipeline(ntk::ModelKind model, const MatrixD& raw_train, const MatrixD& raw_query);

  const MatrixD& k_train() const { return k_; }          // [n, n]
  const MatrixD& k_query() const { return ks_; }         // [T, n]
  const MatrixD& features() const { return f_; }         // [n, D] unit rows the MLP sees
  const MatrixD& query_features() const { return fs_; }  // [T, D]

  // ∂L/∂R [n, D] from d_k_train [n, n] and d_k_query [T, n] (either may be empty = zero).
  MatrixD backward(const MatrixD& d_k_train, const MatrixD& d_k_query) const;

 private:
  ntk::ModelKind model_;
  MatrixD u_, us_;            // [n, D], [T, D] unit raw rows
  VectorD r_norm_;            // [n] ‖R_i‖
  MatrixD c_;                 // [D, D] (attn)
  VectorD z_norm_, zs_norm_;  // [n], [T] ‖U C‖ rows (attn)
  MatrixD f_, fs_;            // [n, D], [T, D] features
  MatrixD s_, ss_;            // [n, n], [T, n] cosines
  MatrixD k_, ks_;            // [n, n], [T, n]
};

// κ'(u) of the unit-row Θ∞ (see header; clamped near |u| = 1).
double relu_ntk_infinite_unit_derivative(double u);

}  // namespace attnlab::analysis::influence
