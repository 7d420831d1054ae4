// attnlab/analysis/ntk/analytic_ntk.hpp — infinite-width kernels of the 2-layer ReLU network
// (arc-cosine forms), part of the analysis/ntk kernel library.
//
// For w ~ N(0, I) and θ the angle between x and x' (u = cos θ = xᵀx' / (‖x‖‖x'‖)):
//   NTK (first layer trained, the studies' Θ∞; Du et al. 2019's Gram H∞):
//     Θ∞(x, x') = (xᵀx') · E[1[wᵀx > 0] 1[wᵀx' > 0]] = (xᵀx') · (π − θ) / (2π)
//     — for unit rows u (π − arccos u) / (2π) (SCIENCE.md §2);
//   NNGP (covariance of the output at init, arc-cosine kernel of degree 1, Cho & Saul 2009):
//     K(x, x') = E[relu(wᵀx) relu(wᵀx')] = ‖x‖‖x'‖ (sin θ + (π − θ) cos θ) / (2π).
// u is clamped to [−1, 1] before arccos (rounding can push xᵀx of a unit row past 1); a zero row
// gives a zero kernel row. For MLP-Attn apply them to the features normalize(C x).
// Precision: arccos is ill-conditioned at u = 1 (θ ≈ √(2(1−u))), so a pair of (nearly)
// identical rows gets θ ~ 1e-8 from rounding alone and the entry is off by ~1e-9. The one-matrix
// overloads (x with itself) therefore set the diagonal exactly (θ = 0: Θ∞ = NNGP = ‖x‖²/2);
// off-diagonal pairs with 1 − u ≫ 1e-16 are accurate to rounding.
//
// Usage:
//   MatrixD theta_inf = relu_ntk_infinite(x_train);            // [n, n], unit rows
//   MatrixD cross = relu_ntk_infinite(x_test, x_train);         // [n_test, n]
//   double t = relu_ntk_infinite_unit(0.5);                     // 0.5·(π − π/3)/(2π) = 1/6
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::ntk {

// u (π − arccos u) / (2π) for unit vectors with inner product u (clamped to [−1, 1]).
double relu_ntk_infinite_unit(double u);
// (sin θ + (π − θ) u) / (2π), θ = arccos u: the NNGP of unit vectors.
double relu_nngp_unit(double u);

// x1 [n1, D], x2 [n2, D] -> [n1, n2]. Any row norms (the general forms above).
MatrixD relu_ntk_infinite(const MatrixD& x1, const MatrixD& x2);
MatrixD relu_nngp(const MatrixD& x1, const MatrixD& x2);
// x [n, D] with itself -> [n, n], exactly symmetric with the exact diagonal ‖x_i‖²/2.
MatrixD relu_ntk_infinite(const MatrixD& x);
MatrixD relu_nngp(const MatrixD& x);

}  // namespace attnlab::analysis::ntk
