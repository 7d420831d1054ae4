// attnlab/analysis/selectivity/synthetic_tokens.hpp — points uniform on a sphere with a minimum
// spacing: the token model of the softmax-limits paper (assumptions A1 and A2).
//
// A1: every token x_i is uniform on the sphere S^{d−1}(M) of radius M.
// A2: distinct tokens are at least δ apart: ‖x_i − x_j‖₂ >= δ.
// sample_sphere_points() draws points one at a time (a normal vector scaled to radius M, which is
// uniform on the sphere) and rejects a candidate closer than δ to an accepted point (sequential
// "dart throwing"), so the accepted set is exactly A2 and, conditionally, uniform. The check uses
// ‖x − y‖² = 2M² − 2 x·y, i.e. a candidate is accepted iff x·y <= M² − δ²/2 for every accepted y.
//
// Invariants: every row has norm M (to rounding); every pair is >= δ apart (to rounding: the
// test is exact in the dot product, and ‖x‖ = M holds to ~1e-15 relative).
// Errors: UsageError for count < 0, dim < 1, M <= 0, δ < 0 or δ > 2M (no two points fit);
// InputError when `max_attempts` consecutive candidates are rejected (the sphere is too crowded
// for this δ: lower --spacing), naming count, dim, M, δ and how many points were placed.
// Cost: O(count² · dim) for the spacing check (dot products against the accepted block).
//
// Usage:
//   Rng rng = Rng::stream(seed, head);
//   MatrixD x = sample_sphere_points(1024, 64, 8.0, 4.0, rng);  // [L, d]
//   double delta = min_pairwise_distance(x);                    // >= 4.0
#pragma once

#include "attnlab/core/rng.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

// `count` points [count, dim], uniform on the sphere of this radius, pairwise >= spacing apart.
MatrixD sample_sphere_points(Index count, Index dim, double radius, double spacing, Rng& rng,
                             Index max_attempts = 20000);

// min_{i<j} ‖x_i − x_j‖₂ over the rows of x [n, dim]; +inf when n < 2. O(n² · dim).
double min_pairwise_distance(const MatrixD& x);

}  // namespace attnlab::analysis::selectivity
