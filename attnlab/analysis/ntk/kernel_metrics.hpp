// attnlab/analysis/ntk/kernel_metrics.hpp — how far a finite-width kernel is from its limit,
// and the small statistics the NTK studies report; part of the analysis/ntk library.
//
// Definitions (SCIENCE.md §2), all in fp64 on [n, n] kernels of the training set:
//   rel_frob   = ‖Θ_m − Θ∞‖_F / ‖Θ∞‖_F
//   spec_ratio = ‖Θ_m − Θ∞‖₂ / λ_min(Θ∞)       (< 0.5: Θ_m stays positive definite with at
//                least half of Θ∞'s smallest eigenvalue — "the kernel regime holds")
//   drift      = ‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F        (how much training moved the kernel)
// spec_ratio is only defined when λ_min(Θ∞) is resolved in fp64 (KernelReference::resolved).
//
// Width thresholds:
//   bernstein_width: matrix Bernstein for Θ_m = (1/m) Σ_r Z_r with i.i.d. PSD Z_r = G̃ ⊙ s_r s_rᵀ,
//     ‖Z_r‖ ≤ L = λ_max(G̃) (G̃ the Gram of the network's unit inputs): with probability ≥ 1 − δ,
//     ‖Θ_m − Θ∞‖₂ ≤ λ_min(Θ∞)/2 once m ≥ 8 L (λ_max + λ_min/3) ln(2n/δ) / λ_min²
//     (reference/ntk_influence_anchors.md §3; a sufficient width, not a necessary one);
//   empirical_threshold_width: the m at which a measured spec_ratio ∝ m^slope reaches 0.5,
//     extrapolated from a fitted log-log line.
//
// Usage:
//   KernelReference ref = make_kernel_reference(theta_inf);      // eigenvalues once
//   KernelDeviation d = kernel_deviation(theta_m, ref);           // rel_frob, spec_ratio
//   SlopeFit f = fit_loglog_slope(widths, mean_rel_frob);        // slope ≈ −0.5 at init
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "attnlab/core/linalg.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::ntk {

// Θ∞ with its spectrum, computed once and compared against many Θ_m.
struct KernelReference {
  MatrixD kernel;            // [n, n]
  double frobenius = 0.0;    // ‖Θ∞‖_F
  SpectrumSummary spectrum;  // λ_min, λ_max, κ, resolved
};
KernelReference make_kernel_reference(MatrixD theta_inf);

struct KernelDeviation {
  double rel_frob = 0.0;
  double spec_norm = 0.0;   // ‖Θ_m − Θ∞‖₂
  double spec_ratio = 0.0;  // NaN when λ_min(Θ∞) is not resolved
};
KernelDeviation kernel_deviation(const MatrixD& theta_m, const KernelReference& reference);

double relative_frobenius(const MatrixD& a, const MatrixD& reference);
double kernel_drift(const MatrixD& theta_t, const MatrixD& theta_0);

struct SlopeFit {
  double slope = 0.0;
  double intercept = 0.0;  // log10(y) at log10(x) = 0
  double r2 = 0.0;
  Index points = 0;
};
// Least-squares line through (log10 x, log10 y) over the pairs with x > 0, y > 0 finite.
// UsageError with fewer than 2 such points.
SlopeFit fit_loglog_slope(const std::vector<double>& x, const std::vector<double>& y);

// The sufficient width of the matrix-Bernstein bound above (δ in (0, 1)).
double bernstein_width(double l_bound, double lambda_max, double lambda_min, Index n, double delta);
// Width where the fitted y = 10^intercept · m^slope reaches `level` (NaN unless slope < 0).
double empirical_threshold_width(const SlopeFit& fit, double level);

// Mean, sample standard deviation and a 95% Student-t interval over finite values.
struct SampleStats {
  Index count = 0;  // finite values used
  double mean = 0.0, stddev = 0.0, ci_low = 0.0, ci_high = 0.0;
};
SampleStats sample_stats(const std::vector<double>& values);
// Two-sided 97.5% quantile of Student's t with `dof` degrees of freedom (dof ≥ 1).
double student_t_975(Index dof);

// JSON for the numbers above. Non-finite doubles are written as null and read back as NaN
// (JSON has no NaN/inf; +inf κ values are therefore paired with an explicit `resolved` flag).
nlohmann::json json_number(double v);
double number_from_json(const nlohmann::json& j);  // null -> NaN; FormatError if not a number
nlohmann::json to_json(const SpectrumSummary& s);
SpectrumSummary spectrum_from_json(const nlohmann::json& j);
nlohmann::json to_json(const SlopeFit& f);
SlopeFit slope_fit_from_json(const nlohmann::json& j);

}  // namespace attnlab::analysis::ntk
