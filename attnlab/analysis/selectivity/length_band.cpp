#include "attnlab/analysis/selectivity/length_band.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {

BandCheck check_length_band(std::span<const double> log_weights, double scaled_delta) {
  if (log_weights.empty()) throw Error("check_length_band: empty row");
  if (!(scaled_delta >= 0.0) || !std::isfinite(scaled_delta)) {
    throw Error(str_cat("check_length_band: c·Δ must be >= 0 and finite, got ", scaled_delta));
  }
  const double log_L = std::log(static_cast<double>(log_weights.size()));
  const double lmax = *std::max_element(log_weights.begin(), log_weights.end());
  const double lmin = *std::min_element(log_weights.begin(), log_weights.end());
  BandCheck b;
  b.max_weight = std::exp(lmax);
  b.min_weight = std::exp(lmin);
  b.exponent = 2.0 * scaled_delta;
  const double log_max = log_L + lmax;  // log(L·max α) >= 0 for a distribution
  const double log_min = log_L + lmin;  // −inf for an exact zero
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

void row_log_weights(attention::Normalizer normalizer, std::span<const double> logits,
                     std::span<const double> weights, std::span<double> log_weights) {
  if (logits.size() != weights.size() || log_weights.size() != weights.size()) {
    throw Error(str_cat("row_log_weights: ", logits.size(), " logits, ", weights.size(),
                        " weights, ", log_weights.size(), " outputs"));
  }
  if (normalizer == attention::Normalizer::softmax || normalizer == attention::Normalizer::ssmax) {
    const double mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (double l : logits) sum += std::exp(l - mx);
    const double lse = mx + std::log(sum);
    for (std::size_t j = 0; j < logits.size(); ++j) log_weights[j] = logits[j] - lse;
    return;
  }
  for (std::size_t j = 0; j < weights.size(); ++j) log_weights[j] = std::log(weights[j]);
}

}  // namespace attnlab::analysis::selectivity
