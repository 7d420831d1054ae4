#include "attnlab/analysis/selectivity/length_band.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {

BandCheck check_length_band(std::span<const double> weights, double scaled_delta) {
  if (weights.empty()) throw Error("check_length_band: empty row");
  if (!(scaled_delta >= 0.0) || !std::isfinite(scaled_delta)) {
    throw Error(str_cat("check_length_band: c·Δ must be >= 0 and finite, got ", scaled_delta));
  }
  const double L = static_cast<double>(weights.size());
  BandCheck b;
  b.max_weight = *std::max_element(weights.begin(), weights.end());
  b.min_weight = *std::min_element(weights.begin(), weights.end());
  b.exponent = 2.0 * scaled_delta;
  const double log_max = std::log(L * b.max_weight);  // >= 0 for a distribution
  const double log_min =
      b.min_weight > 0.0 ? std::log(L * b.min_weight) : -std::numeric_limits<double>::infinity();
  const double slack = 1e-12 * std::max(1.0, b.exponent);
  b.inside = log_max <= b.exponent + slack && -log_min <= b.exponent + slack;
  if (b.exponent > 0.0) {
    b.upper_use = log_max / b.exponent;
    b.lower_use = -log_min / b.exponent;
  } else {
    b.upper_use = log_max > slack ? std::numeric_limits<double>::infinity() : 0.0;
    b.lower_use = -log_min > slack ? std::numeric_limits<double>::infinity() : 0.0;
  }
  return b;
}

}  // namespace attnlab::analysis::selectivity
