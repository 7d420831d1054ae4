// attnlab/analysis/influence/rank_correlation.hpp — Pearson and Spearman correlation, and a
// paired bootstrap interval for a ratio of means (the attention/ReLU ratios of issue #5).
//
//   pearson(x, y)  = cov(x, y) / (σ_x σ_y)          (NaN when either side is constant)
//   spearman(x, y) = pearson(rank(x), rank(y)), ties get their average rank (fractional ranking)
//   ratio_stats(num, den, seed): r = mean(num)/mean(den) over paired samples (seeds), and a
//     95% percentile interval from `resamples` paired bootstrap draws (Rng(seed): deterministic).
//     Pairs with a non-finite side are dropped; a resample whose denominator mean is 0 is skipped.
//
// Usage:
//   double rho = spearman(std::span(a), std::span(b));
//   RatioStats r = ratio_stats({0.3, 0.2, 0.25}, {0.04, 0.03, 0.05}, /*seed=*/0);  // r.ratio ≈ 6.25
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::influence {

// Equal lengths ≥ 2 (UsageError otherwise).
double pearson(std::span<const double> x, std::span<const double> y);
double spearman(std::span<const double> x, std::span<const double> y);
// Average ranks (1-based) of x.
std::vector<double> fractional_ranks(std::span<const double> x);

struct RatioStats {
  Index count = 0;  // paired samples used
  double num_mean = 0, den_mean = 0;
  double ratio = 0, ci_low = 0, ci_high = 0;  // NaN when undefined
};
RatioStats ratio_stats(const std::vector<double>& num, const std::vector<double>& den,
                       std::uint64_t seed, Index resamples = 2000);

}  // namespace attnlab::analysis::influence
