#include "attnlab/analysis/influence/rank_correlation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis::influence {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double pearson(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size() || x.size() < 2) {
    throw UsageError(str_cat("pearson: need two samples of equal length >= 2, got ", x.size(),
                             " and ", y.size()));
  }
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (!(sxx > 0.0) || !(syy > 0.0)) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> fractional_ranks(std::span<const double> x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  std::size_t i = 0;
  while (i < order.size()) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

double spearman(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size() || x.size() < 2) {
    throw UsageError(str_cat("spearman: need two samples of equal length >= 2, got ", x.size(),
                             " and ", y.size()));
  }
  const std::vector<double> rx = fractional_ranks(x), ry = fractional_ranks(y);
  return pearson(rx, ry);
}

RatioStats ratio_stats(const std::vector<double>& num, const std::vector<double>& den,
                       std::uint64_t seed, Index resamples) {
  if (num.size() != den.size()) {
    throw UsageError(
        str_cat("ratio_stats: ", num.size(), " numerators vs ", den.size(), " denominators"));
  }
  std::vector<double> a, b;
  for (std::size_t i = 0; i < num.size(); ++i) {
    if (std::isfinite(num[i]) && std::isfinite(den[i])) {
      a.push_back(num[i]);
      b.push_back(den[i]);
    }
  }
  RatioStats r;
  r.count = static_cast<Index>(a.size());
  r.num_mean = r.den_mean = r.ratio = r.ci_low = r.ci_high = kNaN;
  if (a.empty()) return r;
  const double k = static_cast<double>(a.size());
  r.num_mean = std::accumulate(a.begin(), a.end(), 0.0) / k;
  r.den_mean = std::accumulate(b.begin(), b.end(), 0.0) / k;
  r.ratio = r.den_mean != 0.0 ? r.num_mean / r.den_mean : kNaN;
  if (a.size() < 2) return r;
  Rng rng(seed);
  std::vector<double> draws;
  draws.reserve(static_cast<std::size_t>(resamples));
  for (Index s = 0; s < resamples; ++s) {
    double sa = 0, sb = 0;
    for (std::size_t j = 0; j < a.size(); ++j) {
      const std::size_t p = rng.uniform_int(a.size());
      sa += a[p];
      sb += b[p];
    }
    if (sb != 0.0) draws.push_back(sa / sb);
  }
  if (draws.size() < 20) return r;
  std::sort(draws.begin(), draws.end());
  auto q = [&](double p) {
    const double pos = p * static_cast<double>(draws.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, draws.size() - 1);
    return draws[lo] + (pos - static_cast<double>(lo)) * (draws[hi] - draws[lo]);
  };
  r.ci_low = q(0.025);
  r.ci_high = q(0.975);
  return r;
}

}  // namespace attnlab::analysis::influence
