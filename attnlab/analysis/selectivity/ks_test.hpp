// attnlab/analysis/selectivity/ks_test.hpp — exact two-sample Kolmogorov–Smirnov test.
//
// The selectivity study decides "critical N" with a two-sample KS test (SCIENCE.md §4). Its
// samples are small (one value per head: 144 for GPT-2 124M, a few dozen for synthetic
// populations), where the asymptotic Kolmogorov distribution is off by a factor of several in the
// tail, so attnlab computes the p-value exactly.
//
// Statistic. For samples a (n values) and b (m values) with empirical CDFs F_a, F_b:
//   D = max_t |F_a(t) − F_b(t)|,
// evaluated at every distinct value of the pooled sample (the end of each block of tied values).
// n·m·D is the integer max |i·m − j·n| over those points, where i and j count the a's and b's at
// or below the value: the code works with that integer, so no rounding decides a comparison.
//
// p-value. Under H0 (both samples from one continuous distribution) every interleaving of the n
// a's and m b's in the sorted pooled order is equally likely: C(n+m, n) monotone lattice paths
// from (0,0) to (n,m). p = P(D* ≥ D_obs) is the share of paths that reach |i·m − j·n| ≥ n·m·D_obs
// at a checked point. Without ties every point is checked: the classic exact distribution
// (Hodges 1957; what scipy's method='exact' computes). With ties the pooled order inside a tie
// block is arbitrary, so only the points that end a tie block are checked: the exact permutation
// distribution conditional on the observed tie pattern (Schröer & Trenkler 1995). Checking every
// point anyway (what a "no ties" formula does) over-counts exits and makes the test conservative.
//
// Algorithm: one pass over the (n+1)×(m+1) lattice, row by row, carrying the probability that a
// uniformly random path reaches (i, j) without having crossed the boundary; each step's
// probability is the chance that the next element of a random interleaving comes from a or b
// ((n−i)/(n+m−i−j) and (m−j)/(n+m−i−j)). Every number stays in [0, 1], so nothing overflows
// (counting paths would, beyond n+m ≈ 1030); the p-value is accumulated as the sum of the
// probability mass absorbed at the boundary, so small p-values keep their relative precision
// down to the underflow limit (~1e-300; below that p reads 0). O(n·m) time, O(m) memory.
//
// Limits: n, m ≥ 1; n·m ≤ kKsMaxCells (2.5e8 lattice points, ~1 s). Larger samples are a
// UsageError naming the sizes (the study never needs them: it tests one value per unit).
// Non-finite values are an InputError naming the sample and index.
//
// Usage:
//   KsTest t = ks_two_sample(top_n_distances, random_distances);
//   if (t.p_value >= 0.05) { /* indistinguishable at level 0.05 */ }
//   double p = ks_exact_p_value(10, 10, 0.6);   // P(D_{10,10} ≥ 0.6) for continuous data
#pragma once

#include <cstdint>
#include <span>

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

inline constexpr double kKsMaxCells = 2.5e8;

struct KsTest {
  double statistic = 0.0;  // D in [0, 1]
  double p_value = 1.0;    // exact P(D* >= D) under H0 (conditional on the tie pattern)
  Index n = 0, m = 0;      // sample sizes
  bool ties = false;       // the pooled sample had tied values
};

// Two-sided two-sample KS test with the exact p-value (ties handled as described above).
KsTest ks_two_sample(std::span<const double> a, std::span<const double> b);

// Exact P(D_{n,m} >= d) for continuous data (no ties): every lattice point is checked.
// d is rounded to the lattice: the event is |i·m − j·n| >= ceil(d·n·m − 1e-9·n·m).
double ks_exact_p_value(Index n, Index m, double d);

}  // namespace attnlab::analysis::selectivity
