// attnlab/analysis/selectivity/sweeps.hpp — the selectivity study: every instrument of this
// directory run over the sweeps of issue #6 for every normalizer, on any SelectivitySource.
//
// Sweeps (SCIENCE.md §4; sizes in SelectivityOptions):
//   length        d̃ (top-N and random baseline, both forms), ᾱ_N, max α and the Lemma 1 band
//                 for L in `lengths` at N = length_sweep_count (default 5)
//   count         the same at the reference length for N in `counts`
//   critical      per L in `critical_lengths`: the two-sample KS test (ks_test.hpp, exact p)
//                 between top-N and random-subset d̃ for N of `critical_grid` below L − 1 and
//                 for N = L − 1 (so no L falls between grid points), scanned
//                 upwards (chunks of 4 grid points) until a chunk holds an accepting N; the
//                 critical N is the first N with p >= ks_level, refined by bisection (to ~5% of
//                 N) between it and the previous grid point (assuming p is monotone there)
//   separability  N_s/N and r at the reference length for N in `separability_counts`
//   sensitivity   ‖J‖₂, max|J_ij| (analytic) and their finite differences at every T of
//                 `temperatures` and ε of `fd_eps`, on the rows as they are and on "tied" rows
//                 (second-largest score raised to the largest: the case that attains 1/(2T))
//
// Rows and aggregation. At length L each head contributes up to max_queries rows (evenly spaced
// eligible queries, source.hpp). A head's value at a sweep point is the mean over its rows; the
// result keeps one value per head ([H] vectors), and the KS test compares per-head values
// (ks_unit = head, the paper's Algorithm 3) or per-row values (ks_unit = query).
//
// Determinism and cost. Work is parallel over heads (OpenMP, core/threads.hpp); every random
// draw comes from Rng::stream(seed, key(sweep, L, N, head, query)), and draws are shared across
// normalizers (common random numbers: differences between normalizers are not Monte Carlo
// noise). Results are bit-identical for a seed whatever the thread count (BLAS runs single-
// threaded inside the parallel region). Score matrices and sort orders are computed once per
// (head, L) and reused by every normalizer and N; subset contexts go through batched GEMMs.
//
// Errors: UsageError for options that cannot apply to the source (a length above the source's L,
// N >= L, fewer than 4 heads with ks_unit = head — such a test can never reach p < 0.05 —, bad
// levels or grids), InputError for sources with no eligible query at a length, NumericError when
// a score q·k overflows to ±inf (inputs too large to measure).
//
// Usage:
//   SelectivitySource src = make_synthetic_source({.heads = 32, .seed = 1});
//   SelectivityOptions o;  o.seed = 1;  o.progress = true;
//   SelectivityResult r = run_selectivity(src, o);
//   r.spread_sweep = run_spread_sweep(synthetic, o, {0.0, 0.5, 1.0, 2.0}, 256);
#pragma once

#include <span>
#include <vector>

#include "attnlab/analysis/selectivity/result.hpp"
#include "attnlab/analysis/selectivity/source.hpp"

namespace attnlab::analysis::selectivity {

// Checks the options against the source (see Errors above).
void validate_options(const SelectivityOptions& options, const SelectivitySource& source);

SelectivityResult run_selectivity(const SelectivitySource& source,
                                  const SelectivityOptions& options);

// Critical N at one length for synthetic populations with σ_gain = σ_value = spread, for each
// spread (other synthetic settings from `base`, seed from `options`). Shows how much the paper's
// head-level KS criterion depends on how different the heads are.
std::vector<SpreadPoint> run_spread_sweep(const SyntheticOptions& base,
                                          const SelectivityOptions& options,
                                          std::span<const double> spreads, Index length);

// Least-squares slope of log(y) against log(x) over points with x, y > 0 and finite (NaN when
// fewer than two such points).
double log_log_slope(std::span<const double> x, std::span<const double> y);

}  // namespace attnlab::analysis::selectivity
