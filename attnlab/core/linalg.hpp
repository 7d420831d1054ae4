// attnlab/core/linalg.hpp — dense symmetric linear algebra in fp64: eigenvalues, Cholesky,
// condition numbers and numerical rank, all through LAPACKE (liblapacke) on row-major matrices.
//
// Kernels, Gram matrices and their condition numbers are always computed in fp64 here. What this
// module guarantees:
//   * symmetric_eigenvalues / symmetric_eigen (LAPACKE_dsyevd) read the UPPER triangle of a
//     square row-major matrix and return eigenvalues in ascending order. Non-finite input or a
//     LAPACK failure is a NumericError naming the caller's `what` and the shape.
//   * Cholesky (LAPACKE_dpotrf/dpotrs/dpotri) factors A + shift·I; a matrix that is not
//     numerically positive definite is a NumericError that names the leading minor that failed.
//   * summarize_spectrum turns eigenvalues into the numbers attnlab reports: λ_max, λ_min, κ,
//     numerical rank (tolerance max(n_rows, n_cols)·ε·λ_max, the LAPACK/NumPy convention),
//     κ_k = λ_1/λ_k for a chosen k (κ_D when a Gram matrix has n > D rows), and a `resolved`
//     flag: κ is only a measurement when the smallest eigenvalue used is above the rounding
//     floor and κ ≤ kKappaResolvable (≈ 1e15, where fp64 stops resolving λ_min). Eigensolvers
//     are backward stable (|δλ| ≲ n·ε·λ_max), so a resolved κ still carries the relative
//     uncertainty kappa_error = tolerance/λ_min, reported next to it.
//
// Threads: the eigensolvers run LAPACK with ONE OpenBLAS thread (restored afterwards): the
// BLAS-2-bound tridiagonal reduction gains little from threads and slows down 5-10x on shared
// cores; their results are therefore the same for every --threads. Cholesky (BLAS-3) uses the
// configured threads and is bit-identical for a fixed thread count.
//
// Usage:
//   VectorD ev = symmetric_eigenvalues(gram, "spectrum: G");      // ascending [n]
//   SpectrumSummary s = summarize_spectrum(ev, x.cols());          // κ, rank, κ_D, resolved
//   Cholesky chol(kernel, /*shift=*/1e-3, "krr: Θ∞ + λI");         // factors Θ∞ + 1e-3·I
//   MatrixD alpha = chol.solve(targets);                            // (Θ∞ + λI)⁻¹ Y  [n, C]
#pragma once

#include <string>
#include <string_view>

#include "attnlab/core/tensor.hpp"

namespace attnlab {

// Condition numbers above this are beyond what fp64 resolves (λ_min is at the rounding floor of
// λ_max): they are reported as "unresolved", never as measurements.
inline constexpr double kKappaResolvable = 1e15;

// Eigenvalues of the symmetric a [n, n] (upper triangle read), ascending [n].
VectorD symmetric_eigenvalues(const MatrixD& a, std::string_view what = "symmetric_eigenvalues");

struct SymmetricEigen {
  VectorD values;   // [n] ascending
  MatrixD vectors;  // [n, n]; column j is the unit eigenvector of values(j)
};
SymmetricEigen symmetric_eigen(const MatrixD& a, std::string_view what = "symmetric_eigen");

// max |λ| of the symmetric a [n, n]: its spectral norm ‖a‖₂.
double symmetric_spectral_norm(const MatrixD& a, std::string_view what = "spectral_norm");

// The rank tolerance max(rows, cols)·ε·λ_max for eigenvalues of a Gram-like matrix built from a
// [rows, cols] factor (use rows = cols = n for a kernel matrix).
double rank_tolerance(const VectorD& eigenvalues_ascending, Index rows, Index cols);
// Number of eigenvalues above `tolerance`.
Index numerical_rank(const VectorD& eigenvalues_ascending, double tolerance);

struct SpectrumSummary {
  Index n = 0;              // matrix size
  double lambda_max = 0.0;  // largest eigenvalue
  double lambda_min = 0.0;  // smallest eigenvalue (may be ≤ 0 from rounding)
  double tolerance = 0.0;   // rank tolerance used
  Index rank = 0;           // eigenvalues above tolerance
  double kappa = 0.0;       // λ_max / λ_min (+inf when λ_min ≤ 0)
  double kappa_error = 0.0;  // a-priori relative accuracy of κ: tolerance / λ_min = max(r,c)·ε·κ
  bool resolved = false;     // λ_min > tolerance and κ ≤ kKappaResolvable
  Index k = 0;               // index used for kappa_k (1-based; k = n means plain κ)
  double lambda_k = 0.0;     // k-th largest eigenvalue
  double kappa_k = 0.0;      // λ_max / λ_k (+inf when λ_k ≤ 0)
  double kappa_k_error = 0.0;  // tolerance / λ_k
  bool kappa_k_resolved = false;
  double kappa_rank = 0.0;  // λ_max / λ_rank: κ over the numerically nonzero spectrum
};

// Summary of the eigenvalues (ascending) of a PSD matrix built from a [rows, cols] factor
// (e.g. G = X Xᵀ with X [n, D]: rows = n, cols = D; a kernel: rows = cols = n). kappa_k uses
// k = min(n, k_requested) (k_requested ≤ 0: k = n).
SpectrumSummary summarize_spectrum(const VectorD& eigenvalues_ascending, Index rows, Index cols,
                                   Index k_requested = 0);

// Cholesky factorization of a + shift·I for a symmetric positive definite a [n, n] (upper
// triangle read). Solves, inverts and gives log det without forming the inverse unless asked.
class Cholesky {
 public:
  Cholesky() = default;
  explicit Cholesky(const MatrixD& a, double shift = 0.0, std::string_view what = "Cholesky");

  Index size() const { return factor_.rows(); }
  // (a + shift·I)⁻¹ b for b [n, k] -> [n, k].
  MatrixD solve(const MatrixD& b) const;
  VectorD solve(const VectorD& b) const;
  // (a + shift·I)⁻¹ [n, n], symmetric (both triangles filled).
  MatrixD inverse() const;
  // log det(a + shift·I).
  double log_determinant() const;
  // Upper-triangular U [n, n] with a + shift·I = Uᵀ U (the strictly lower part is zero).
  MatrixD upper_factor() const;

 private:
  MatrixD factor_;  // [n, n] row-major; upper triangle holds U
  std::string what_;
};

}  // namespace attnlab
