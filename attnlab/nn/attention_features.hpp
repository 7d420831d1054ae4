// attnlab/nn/attention_features.hpp — parameter-free linearized attention over a context set.
//
// With W_Q = W_K = W_V = I and exp(a) ≈ 1 + a, attention of a query x over the context rows
// X [n, D] (unit rows) is f_att(x) = Σ_k (xᵀx_k) x_k = C x with C = XᵀX [D, D] (SCIENCE.md §1).
// So the training set's own outputs are X C = (X Xᵀ) X — the paper's X Xᵀ X — computed here in
// O(nD²) instead of O(n²D), and test points map with the same C. MlpAttn feeds the unit-norm
// features x̃ = normalize(C x) to a TwoLayerRelu. The Gram of the unnormalized training features
// is X C² Xᵀ = G³ with G = X Xᵀ.
//
// Backward: for s = Σ_b d_featᵀ x̃_b, backward() gives ∂s/∂x (C held fixed: the inductive view,
// e.g. an attack on a test point) and ∂s/∂C [D, D]. context_gradient() chains ∂s/∂C through
// C = XᵀX to the context rows: ∂s/∂X = X (∂s/∂C + ∂s/∂Cᵀ) — the transductive path through which
// perturbing ONE training point moves EVERY feature (issue #5's malleability mechanism).
//
// Invariants: C is symmetric PSD; features have unit rows (a row with C x = 0 is a NumericError).
//
// Usage:
//   LinearAttentionFeatures attn(x_train);          // C = x_trainᵀ x_train   [D, D]
//   MatrixD f_train = attn.features(x_train);       // normalize(x_train C)  [n, D]
//   MatrixD f_test = attn.features(x_test);         // same C                 [n_test, D]
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

class LinearAttentionFeatures {
 public:
  LinearAttentionFeatures() = default;
  // C = contextᵀ context for context [n, D] (n ≥ 1).
  explicit LinearAttentionFeatures(const MatrixD& context);
  // Uses a given symmetric c [D, D] (e.g. one read back from disk).
  static LinearAttentionFeatures from_matrix(MatrixD c);

  Index dim() const { return c_.rows(); }  // D
  const MatrixD& c() const { return c_; }  // [D, D]

  // Unnormalized attention output z = x C: [B, D] -> [B, D].
  MatrixD attend(const MatrixD& x) const;
  // normalize(x C): [B, D] -> [B, D] unit rows.
  MatrixD features(const MatrixD& x) const;

  struct Cache {
    MatrixD x;         // [B, D] inputs
    MatrixD features;  // [B, D] unit-norm outputs
    VectorD norms;     // [B] ‖x_b C‖
  };
  MatrixD features(const MatrixD& x, Cache& cache) const;
  // d_features [B, D] -> d_x [B, D] (C fixed) and d_c [D, D] (C as a free matrix); either may
  // be null.
  void backward(const Cache& cache, const MatrixD& d_features, MatrixD* d_x, MatrixD* d_c) const;
  // ∂s/∂X for C = XᵀX: context [n, D], d_c [D, D] -> [n, D].
  static MatrixD context_gradient(const MatrixD& context, const MatrixD& d_c);

 private:
  MatrixD c_;  // [D, D]
};

}  // namespace attnlab::nn
