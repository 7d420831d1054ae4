#include "attnlab/attention/row_diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace attnlab::attention {

RowDiagnostics::RowDiagnostics(Index H, Index N)
    : entropy(MatrixD::Zero(H, N)),
      norm_entropy(MatrixD::Zero(H, N)),
      sink_mass(MatrixD::Zero(H, N)),
      max_weight(MatrixD::Zero(H, N)),
      below_1pct_max(MatrixD::Zero(H, N)),
      wasted_share(MatrixD::Zero(H, N)),
      wasted_mass(MatrixD::Zero(H, N)),
      top8_mass(MatrixD::Zero(H, N)),
      visible(Matrix<Index>::Zero(H, N)) {}

void RowDiagnostics::set(Index h, Index i, const RowStats& s) {
  entropy(h, i) = s.entropy;
  norm_entropy(h, i) = s.norm_entropy;
  sink_mass(h, i) = s.sink_mass;
  max_weight(h, i) = s.max_weight;
  below_1pct_max(h, i) = s.below_1pct_max;
  wasted_share(h, i) = s.wasted_share;
  wasted_mass(h, i) = s.wasted_mass;
  top8_mass(h, i) = s.top8_mass;
  visible(h, i) = s.visible;
}

RowStats RowDiagnostics::get(Index h, Index i) const {
  RowStats s;
  s.entropy = entropy(h, i);
  s.norm_entropy = norm_entropy(h, i);
  s.sink_mass = sink_mass(h, i);
  s.max_weight = max_weight(h, i);
  s.below_1pct_max = below_1pct_max(h, i);
  s.wasted_share = wasted_share(h, i);
  s.wasted_mass = wasted_mass(h, i);
  s.top8_mass = top8_mass(h, i);
  s.visible = visible(h, i);
  return s;
}

RowStats compute_row_stats(std::span<const double> weights, std::span<const double> logits) {
  RowStats s;
  std::vector<double> vis;
  vis.reserve(weights.size());
  for (std::size_t j = 0; j < weights.size(); ++j)
    if (std::isfinite(logits[j])) vis.push_back(weights[j]);
  s.visible = static_cast<Index>(vis.size());
  if (vis.empty()) {
    s.norm_entropy = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double mx = 0.0;
  for (double a : vis) {
    mx = std::max(mx, a);
    if (a > 0) s.entropy -= a * std::log(a);
  }
  s.norm_entropy = vis.size() >= 2 ? s.entropy / std::log(static_cast<double>(vis.size()))
                                   : std::numeric_limits<double>::quiet_NaN();
  s.sink_mass = std::isfinite(logits[0]) ? weights[0] : 0.0;
  s.max_weight = mx;
  Index below = 0, wasted = 0;
  for (double a : vis) {
    if (a < 0.01 * mx) ++below;
    if (a < 0.01) {
      ++wasted;
      s.wasted_mass += a;
    }
  }
  const double n = static_cast<double>(vis.size());
  s.below_1pct_max = static_cast<double>(below) / n;
  s.wasted_share = static_cast<double>(wasted) / n;
  const std::size_t k = std::min<std::size_t>(8, vis.size());
  std::partial_sort(vis.begin(), vis.begin() + static_cast<std::ptrdiff_t>(k), vis.end(),
                    std::greater<double>());
  for (std::size_t t = 0; t < k; ++t) s.top8_mass += vis[t];
  return s;
}

RowDiagnostics row_diagnostics_reference(const ReferenceForward& fwd) {
  const Index H = fwd.weights.dim0(), N = fwd.weights.dim1(), M = fwd.weights.dim2();
  RowDiagnostics d(H, N);
  for (Index h = 0; h < H; ++h)
    for (Index i = 0; i < N; ++i) {
      const auto m = static_cast<std::size_t>(M);
      d.set(h, i,
            compute_row_stats(std::span<const double>(&fwd.weights(h, i, 0), m),
                              std::span<const double>(&fwd.logits(h, i, 0), m)));
    }
  return d;
}

}  // namespace attnlab::attention
