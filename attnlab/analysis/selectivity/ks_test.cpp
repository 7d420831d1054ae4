#include "attnlab/analysis/selectivity/ks_test.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {
namespace {

std::int64_t abs_gap(std::int64_t i, std::int64_t m, std::int64_t j, std::int64_t n) {
  const std::int64_t g = i * m - j * n;
  return g < 0 ? -g : g;
}

void check_sizes(const char* fn, Index n, Index m) {
  if (n < 1 || m < 1) {
    throw UsageError(str_cat(fn, ": both samples need at least one value, got n=", n, " m=", m));
  }
  if (static_cast<double>(n + 1) * static_cast<double>(m + 1) > kKsMaxCells) {
    throw UsageError(str_cat(fn, ": exact KS distribution for n=", n, " m=", m, " needs ",
                             static_cast<double>(n + 1) * static_cast<double>(m + 1),
                             " lattice points (limit ", kKsMaxCells,
                             "); test fewer units (e.g. one value per head)"));
  }
}

// Probability that a uniformly random lattice path from (0,0) to (n,m) reaches a checked point
// (i, j) with |i·m − j·n| >= threshold. checked[t] says whether points with i + j = t are checked.
double exit_probability(Index n, Index m, std::int64_t threshold,
                        const std::vector<char>& checked) {
  if (threshold <= 0) return 1.0;  // every path "reaches" D >= 0
  std::vector<double> u(static_cast<std::size_t>(m + 1), 0.0);
  double exited = 0.0;
  const std::int64_t nn = n, mm = m;
  for (Index i = 0; i <= n; ++i) {
    for (Index j = 0; j <= m; ++j) {
      double val;
      if (i == 0 && j == 0) {
        val = 1.0;
      } else {
        val = 0.0;
        // From (i−1, j): the next element is an a with probability (n−i+1)/(n+m−i+1−j).
        if (i > 0) {
          val += u[j] * static_cast<double>(n - (i - 1)) / static_cast<double>(n + m - (i - 1) - j);
        }
        // From (i, j−1): the next element is a b with probability (m−j+1)/(n+m−i−j+1).
        if (j > 0) {
          val += u[j - 1] * static_cast<double>(m - (j - 1)) /
                 static_cast<double>(n + m - i - (j - 1));
        }
      }
      if (checked[static_cast<std::size_t>(i + j)] && val > 0.0) {
        const std::int64_t gap = abs_gap(i, mm, j, nn);
        if (gap >= threshold) {
          exited += val;
          val = 0.0;
        }
      }
      u[j] = val;
    }
  }
  return std::min(1.0, exited);
}

void check_finite(const char* what, std::span<const double> x) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      throw InputError(str_cat("ks_two_sample: sample ", what, " has a non-finite value at index ",
                               i, " (", x[i], ")"));
    }
  }
}

}  // namespace

KsTest ks_two_sample(std::span<const double> a, std::span<const double> b) {
  const auto n = static_cast<Index>(a.size()), m = static_cast<Index>(b.size());
  check_sizes("ks_two_sample", n, m);
  check_finite("a", a);
  check_finite("b", b);
  // Pooled sample, sorted by value; the label says which sample a value came from.
  std::vector<std::pair<double, int>> pooled;
  pooled.reserve(a.size() + b.size());
  for (double x : a) pooled.emplace_back(x, 0);
  for (double x : b) pooled.emplace_back(x, 1);
  std::sort(pooled.begin(), pooled.end());

  KsTest out;
  out.n = n;
  out.m = m;
  std::vector<char> checked(static_cast<std::size_t>(n + m + 1), 0);
  std::int64_t i = 0, j = 0, best = 0;
  for (std::size_t t = 0; t < pooled.size(); ++t) {
    if (pooled[t].second == 0)
      ++i;
    else
      ++j;
    const bool block_end = t + 1 == pooled.size() || pooled[t + 1].first != pooled[t].first;
    if (!block_end) {
      out.ties = true;
      continue;
    }
    checked[static_cast<std::size_t>(i + j)] = 1;
    best = std::max(best, abs_gap(i, m, j, n));
  }
  out.statistic = static_cast<double>(best) / (static_cast<double>(n) * static_cast<double>(m));
  out.p_value = exit_probability(n, m, best, checked);
  return out;
}

double ks_exact_p_value(Index n, Index m, double d) {
  check_sizes("ks_exact_p_value", n, m);
  if (!std::isfinite(d)) throw UsageError(str_cat("ks_exact_p_value: d must be finite, got ", d));
  if (d <= 0.0) return 1.0;
  if (d > 1.0) return 0.0;
  const double nm = static_cast<double>(n) * static_cast<double>(m);
  const auto threshold = static_cast<std::int64_t>(std::ceil(d * nm - 1e-9 * nm));
  std::vector<char> checked(static_cast<std::size_t>(n + m + 1), 1);
  return exit_probability(n, m, threshold, checked);
}

}  // namespace attnlab::analysis::selectivity
