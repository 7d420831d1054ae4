#include "attnlab/analysis/selectivity/synthetic_tokens.hpp"

#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {

MatrixD sample_sphere_points(Index count, Index dim, double radius, double spacing, Rng& rng,
                             Index max_attempts) {
  if (count < 0 || dim < 1) {
    throw UsageError(
        str_cat("sample_sphere_points: need count >= 0 and dim >= 1, got ", count, ", ", dim));
  }
  if (!(radius > 0.0) || !std::isfinite(radius)) {
    throw UsageError(str_cat("sample_sphere_points: radius M must be > 0, got ", radius));
  }
  if (!(spacing >= 0.0) || spacing > 2.0 * radius) {
    throw UsageError(str_cat("sample_sphere_points: spacing δ must be in [0, 2M] = [0, ",
                             2.0 * radius, "], got ", spacing));
  }
  if (dim == 1 && count > 2 && spacing > 0.0) {
    throw UsageError(
        str_cat("sample_sphere_points: the 0-sphere (dim 1) holds 2 points, asked for ", count,
                " with spacing ", spacing));
  }
  MatrixD x(count, dim);
  // Accept iff x·y <= M² − δ²/2 for every accepted y (relative slack of 1e-12 against rounding
  // only ever rejects: accepted pairs are at least δ apart).
  const double max_dot = radius * radius - 0.5 * spacing * spacing - 1e-12 * radius * radius;
  VectorD cand(dim);
  for (Index i = 0; i < count; ++i) {
    Index attempts = 0;
    for (;;) {
      double norm2 = 0.0;
      do {
        for (Index c = 0; c < dim; ++c) cand[c] = rng.normal();
        norm2 = cand.squaredNorm();
      } while (!(norm2 > 1e-300));
      cand *= radius / std::sqrt(norm2);
      bool ok = true;
      if (spacing > 0.0 && i > 0) {
        const VectorD dots = x.topRows(i) * cand;
        ok = dots.maxCoeff() <= max_dot;
      }
      if (ok) break;
      if (++attempts >= max_attempts) {
        throw InputError(str_cat("sample_sphere_points: placed only ", i, " of ", count,
                                 " points on the sphere of radius ", radius, " in ", dim,
                                 " dimensions with spacing ", spacing, " (", max_attempts,
                                 " candidates in a row were too close); lower the spacing"));
      }
    }
    x.row(i) = cand.transpose();
  }
  return x;
}

double min_pairwise_distance(const MatrixD& x) {
  double best = std::numeric_limits<double>::infinity();
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = i + 1; j < x.rows(); ++j) {
      best = std::min(best, (x.row(i) - x.row(j)).norm());
    }
  }
  return best;
}

}  // namespace attnlab::analysis::selectivity
