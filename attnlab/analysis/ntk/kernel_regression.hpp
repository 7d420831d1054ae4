// attnlab/analysis/ntk/kernel_regression.hpp — kernel predictors: ridge regression (the NTK
// predictor f_NTK) and finite-time kernel gradient descent; part of the analysis/ntk library.
//
// KernelRidge, for a PSD kernel K [n, n] on the training set, targets Y [n, C], ridge λ > 0
// (ABSOLUTE: the λ of the paper and SCIENCE.md; relative_ridge() converts neural-tangents'
// trace-relative diag_reg):
//   A = (K + λI)⁻¹ (never formed unless inverse() is called),  α = A Y  [n, C],
//   f(x) = k(x)ᵀ α  for k(x) = K(X, x)  — predict(K_test_train [n*, n]) -> [n*, C].
// Solved with a Cholesky factorization (LAPACK dpotrf/dpotrs) in fp64; a kernel that is not
// positive definite after the ridge is a NumericError that says to raise the ridge. The
// factor, α and A_ii are exposed for exact leave-one-out influence (issue #5):
//   f(x) − f₋ᵢ(x) = (k(x)ᵀ A)_i α_i / A_ii.
//
// KernelGradientDescent: the linearized (kernel) dynamics of full-batch GD on
// L = (1/(2n))‖f − y‖² from f₀ = 0 with step η for T steps —
//   f_T(x) = k(x)ᵀ U diag(φ_T(λ_j)) Uᵀ Y,  φ_T(λ) = (1 − (1 − ηλ/n)^T) / λ   (φ_T(0) = ηT/n),
// with K = U diag(λ) Uᵀ. It is what a network in the kernel regime converges to after T steps of
// arm B, so comparing the network with it separates "not lazy" from "not trained to the ridge
// solution". stable(η) is false when ηλ_max/n ≥ 2 (the kernel dynamics diverge); predict() then
// returns NaN rows. Negative eigenvalues from rounding are clipped to 0.
//
// Usage:
//   KernelRidge krr(theta_inf_train, targets.values, 1e-3);
//   MatrixD f_ntk = krr.predict(theta_inf_test_train);              // [n_test, C]
//   KernelGradientDescent gd(theta_inf_train, targets.values);
//   MatrixD f_t = gd.predict(theta_inf_test_train, eta, steps);     // [n_test, C]
#pragma once

#include "attnlab/core/linalg.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::ntk {

class KernelRidge {
 public:
  KernelRidge(const MatrixD& k_train, const MatrixD& y, double ridge);

  double ridge() const { return ridge_; }
  Index size() const { return alpha_.rows(); }
  const MatrixD& alpha() const { return alpha_; }  // [n, C]
  const Cholesky& factor() const { return chol_; }
  // k_test_train [n*, n] -> [n*, C].
  MatrixD predict(const MatrixD& k_test_train) const;
  // A = (K + λI)⁻¹ [n, n].
  MatrixD inverse() const { return chol_.inverse(); }

 private:
  double ridge_;
  Cholesky chol_;
  MatrixD alpha_;  // [n, C]
};

// neural-tangents' relative diag_reg r -> absolute ridge r·trace(K)/n.
double relative_ridge(const MatrixD& k_train, double relative);

class KernelGradientDescent {
 public:
  // k_train [n, n], y [n, C]; eigendecomposes k_train once.
  KernelGradientDescent(const MatrixD& k_train, const MatrixD& y);

  Index size() const { return n_; }
  double lambda_max() const { return n_ > 0 ? eig_.values(n_ - 1) : 0.0; }
  // ηλ_max/n: the kernel dynamics are stable below 2.
  double rate(double lr) const { return lr * lambda_max() / static_cast<double>(n_ > 0 ? n_ : 1); }
  bool stable(double lr) const { return rate(lr) < 2.0; }
  // f_T on k_test_train [n*, n] after `steps` GD steps of size lr -> [n*, C] (NaN if unstable).
  MatrixD predict(const MatrixD& k_test_train, double lr, Index steps) const;

 private:
  Index n_;
  SymmetricEigen eig_;
  MatrixD projected_y_;  // Uᵀ Y [n, C]
};

}  // namespace attnlab::analysis::ntk
