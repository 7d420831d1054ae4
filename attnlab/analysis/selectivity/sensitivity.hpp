// attnlab/analysis/selectivity/sensitivity.hpp — how sharply the weights react to the scores:
// the Jacobian J = ∂α/∂z of a normalizer with respect to the raw scores z = q·k (ℓ = c·z).
//
// What is differentiated. α = normalize(c·z) with c = 1/T (c = s·log L / T for ssmax), so by the
// chain rule J = c · ∂α/∂ℓ. For softmax this is SCIENCE.md's J = (1/T)(diag α − ααᵀ); the paper's
// bound 1/(4T) is about these entries. Every normalizer of the study has a Jacobian of the form
//   J = c · (diag(a) − u uᵀ),   symmetric positive semi-definite, with
//     softmax, ssmax:  a = α,                 u = α
//     sparsemax:       a = 1_S,               u = 1_S / √|S|          (S = support of α)
//     entmax15:        a = √α,                u = √α / √(Σ_j √α_j)
// jacobian_structure() reads (a, u) off the weights; a test checks c·(diag(a) − uuᵀ) against
// attention::normalizer_jacobian (the operator library's own Jacobian) entry by entry.
//
// Spectral norm ‖J‖₂ = c·λ_max(diag(a) − uuᵀ), found in O(L) per iteration from the secular
// equation 1 = Σ_i u_i² / (a_i − λ) on (a₍₂₎, a₍₁₎) (a rank-one downdate of a diagonal matrix:
// eigenvalues interlace with a) by Newton steps kept inside a shrinking bracket (bisection when a
// step leaves it), to ~1e-16 relative; exact shortcuts when the top entries of a tie (λ = a₍₁₎:
// two tied top logits) or u vanishes at the top. No L×L matrix is formed; a test compares with
// Eigen's SelfAdjointEigenSolver on the dense Jacobian.
// Max entry max_ij |J_ij| = c·max(max_i |a_i − u_i²|, |u|₍₁₎·|u|₍₂₎), also O(L).
//
// Bounds (softmax; exact statements): entries α_i(1−α_i)/T <= 1/(4T) and |α_iα_j|/T <= 1/(4T);
// spectral ‖J‖₂ <= 1/(2T), attained by two tied top logits with the rest of the mass → 0 (the
// paper's Corollary 3 quotes 1/(4T), which bounds the entries, not ‖J‖₂). For ssmax both bounds
// scale by s·log L. sparsemax: ‖J‖₂ = 1/T whenever |S| >= 2 (J/c is a projection). entmax15:
// ‖J‖₂ <= max_i √α_i / T <= 1/T.
//
// Finite differences (the paper's Algorithm 5 and checks of the analytic values):
//   fd_forward(v, ε)      ‖α(z + εv) − α(z)‖₂ / ε, v a unit direction (paper: v random)
//   fd_central(v, ε)      ‖α(z + εv) − α(z − εv)‖₂ / (2ε)   (→ ‖J v‖ as ε → 0)
//   fd_max_entry(cols, ε) max over the given columns j and all i of |α_i(z ± εe_j)| central
//                         differences (the max entry sits in the two top columns, see .cpp)
// Large ε (10 on scores of order 1–10) measures the secant, not the derivative: the values
// saturate at ≤ √2/ε (the simplex has diameter √2), which is where the linearization breaks.
//
// Usage:
//   JacobianStructure js = jacobian_structure(setting, z);        // z: [L] raw scores
//   double s2 = spectral_norm(js, top);                            // top: [L] unit eigenvector
//   double e  = max_abs_entry(js);
//   double g  = fd_forward(setting, z, v, 1e-3, ws);
#pragma once

#include <span>
#include <vector>

#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

// J = scale · (diag(a) − u uᵀ).
struct JacobianStructure {
  std::vector<double> a;        // [L]
  std::vector<double> u;        // [L]
  double scale = 1.0;           // c
  std::vector<double> weights;  // α [L] at which J was taken
  // a = u = α with Σα = 1 (softmax, ssmax). Then 1 − Σ u_i²/(a_i − λ) = −λ·Σ α_i/(α_i − λ), and
  // the top eigenvalue is the root of g(λ) = Σ α_i/(α_i − λ): no 1 − α₍₁₎ cancellation, so
  // saturated rows (α₍₂₎ ~ 1e-30) keep their tiny ‖J‖₂ instead of rounding noise ~1e-16.
  bool simplex_weights = false;
};

// (a, u, c) for the setting's normalizer at raw scores z [L].
JacobianStructure jacobian_structure(const NormalizerSetting& setting,
                                     std::span<const double> scores);

// ‖J‖₂ (= λ_max, J is PSD). When top_vector is non-empty ([L]) it receives a unit eigenvector.
double spectral_norm(const JacobianStructure& j, std::span<double> top_vector = {});

// max_ij |J_ij|.
double max_abs_entry(const JacobianStructure& j);

// Dense J [L, L] = c · attention::normalizer_jacobian(ℓ) (the reference, O(L²) memory).
MatrixD dense_jacobian(const NormalizerSetting& setting, std::span<const double> scores);

// Scratch for the finite differences (two weight vectors and a logit buffer, [L] each).
struct FdWorkspace {
  std::vector<double> z, logits, plus, minus;
};

double fd_forward(const NormalizerSetting& setting, std::span<const double> scores,
                  std::span<const double> direction, double eps, FdWorkspace& ws);
double fd_central(const NormalizerSetting& setting, std::span<const double> scores,
                  std::span<const double> direction, double eps, FdWorkspace& ws);
double fd_max_entry(const NormalizerSetting& setting, std::span<const double> scores,
                    std::span<const Index> columns, double eps, FdWorkspace& ws);

// Indices of the two largest scores (ties by lower index); L >= 2.
std::pair<Index, Index> top_two(std::span<const double> scores);

}  // namespace attnlab::analysis::selectivity
