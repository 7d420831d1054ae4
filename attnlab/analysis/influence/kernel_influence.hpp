// attnlab/analysis/influence/kernel_influence.hpp — exact leave-one-out (LOO) influence of every
// training point on every test point for a kernel ridge predictor, from ONE factorization.
//
// Definitions (SCIENCE.md §3; reference/ntk_influence_anchors.md §4.1). Kernel K [n, n] on the
// training set (Θ_0, Θ_T or Θ∞), targets Y [n, C], absolute ridge λ > 0:
//   A = (K + λI)⁻¹ [n, n],  α = A Y [n, C],  f(x) = k(x)ᵀ α  with k(x) = K(X, x) [n].
// Exact LOO without refitting (B = K_test A [T, n]):
//   f(x_t) − f₋ᵢ(x_t) = B_ti · α_i / A_ii                        (row α_i ∈ R^C)
// First-order (Koh–Liang / upweighting) variant: the same times λA_ii = 1 − H_ii, i.e.
//   f(x_t) − f₋ᵢ(x_t) ≈ B_ti · λ α_i   (residual r_i = y_i − f(x_i) = λ α_i).
// Influence of training point i on test point t (positive = helpful):
//   target loss    I_ti = ℓ(f₋ᵢ(x_t), y_t) − ℓ(f(x_t), y_t),   ℓ(f, y) = ½‖f − y‖²
//   target margin  I_ti = m(f(x_t)) − m(f₋ᵢ(x_t)),   m(f) = f_{y} − max_{c≠y} f_c (C ≥ 2),
//                  m(f) = y·f for one ±1 output (labels 0/1 map to y = −1/+1).
// y_t are the test targets in the SAME encoding the predictor was fitted on (one-hot or centered
// one-hot rows, or ±1); the margin target needs the class labels.
//
// Cost: one Cholesky + inverse O(n³) (LAPACK, fp64), B = K_test A one GEMM O(T n²), then O(T n C)
// for all influences — the n refits of a brute-force LOO collapse into one factorization.
//
// Usage:
//   KernelInfluence inf(theta_train, targets.values, /*ridge=*/1e-3);
//   InfluenceTargets t{targets_test.values, labels_test};
//   MatrixD infl = inf.influence(theta_test_train, t, InfluenceTarget::loss);   // [T, n]
//   MatrixD brute = brute_force_loo_influence(theta_train, theta_test_train, targets.values, 1e-3,
//                                             t, InfluenceTarget::loss);       // test oracle
#pragma once

#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::influence {

enum class InfluenceTarget { loss, margin };
std::string_view to_string(InfluenceTarget t);
InfluenceTarget parse_influence_target(std::string_view name);  // "loss" | "margin"

enum class LooKind { exact, first_order };

// What the influence is measured against at the test points.
struct InfluenceTargets {
  MatrixD values;           // [T, C] targets in the fitted encoding (loss target)
  std::vector<int> labels;  // [T] class labels (margin target)
};

// ℓ(f, target) for one row (the loss is ½‖f − y‖², the margin target uses −m(f)) and its gradient
// with respect to f; `row` indexes targets. grad may be null.
double target_loss(InfluenceTarget target, const double* f, Index outputs,
                   const InfluenceTargets& targets, Index row, double* grad);

class KernelInfluence {
 public:
  // k_train [n, n] symmetric PSD, y [n, C], ridge > 0. NumericError if K + λI is not PD.
  KernelInfluence(const MatrixD& k_train, const MatrixD& y, double ridge);

  Index size() const { return alpha_.rows(); }
  double ridge() const { return ridge_; }
  const MatrixD& inverse() const { return a_; }    // A [n, n]
  const MatrixD& alpha() const { return alpha_; }  // α [n, C]

  // f(x_t) for k_test_train [T, n] -> [T, C].
  MatrixD predict(const MatrixD& k_test_train) const;
  // B = K_test A [T, n].
  MatrixD leverage_rows(const MatrixD& k_test_train) const;
  // I [T, n] for k_test_train [T, n] (see header).
  MatrixD influence(const MatrixD& k_test_train, const InfluenceTargets& targets,
                    InfluenceTarget target, LooKind kind = LooKind::exact) const;

 private:
  double ridge_;
  MatrixD a_;      // [n, n]
  MatrixD alpha_;  // [n, C]
};

// Oracle: refits kernel ridge regression n times without point i (O(n⁴)); same output as
// KernelInfluence::influence(..., LooKind::exact). For tests and small n only.
MatrixD brute_force_loo_influence(const MatrixD& k_train, const MatrixD& k_test_train,
                                  const MatrixD& y, double ridge, const InfluenceTargets& targets,
                                  InfluenceTarget target);

}  // namespace attnlab::analysis::influence
