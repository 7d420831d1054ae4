#include "attnlab/analysis/selectivity/row_weights.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attnlab/attention/normalizers.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {

using attention::Normalizer;

void NormalizerSetting::validate() const {
  if (normalizer == Normalizer::none) {
    throw UsageError(
        "selectivity: normalizer 'none' gives no distribution; use softmax, "
        "sparsemax, entmax15 or ssmax");
  }
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    throw UsageError(str_cat("selectivity: temperature must be > 0 and finite, got ", temperature));
  }
  if (!(ssmax_s > 0.0) || !std::isfinite(ssmax_s)) {
    throw UsageError(str_cat("selectivity: ssmax s must be > 0 and finite, got ", ssmax_s));
  }
}

double logit_scale(const NormalizerSetting& s, Index length) {
  if (length < 1) throw Error(str_cat("logit_scale: length must be >= 1, got ", length));
  const double c = 1.0 / s.temperature;
  if (s.normalizer == Normalizer::ssmax) {
    return c * s.ssmax_s * std::log(static_cast<double>(length));
  }
  return c;
}

void row_weights(const NormalizerSetting& s, std::span<const double> scores,
                 std::span<double> logits, std::span<double> weights) {
  if (logits.size() != scores.size() || weights.size() != scores.size()) {
    throw Error(str_cat("row_weights: scores has ", scores.size(), " entries, logits ",
                        logits.size(), ", weights ", weights.size()));
  }
  const double c = logit_scale(s, static_cast<Index>(scores.size()));
  for (std::size_t j = 0; j < scores.size(); ++j) logits[j] = c * scores[j];
  attention::normalize_row<double>(s.normalizer, logits, weights);
}

void descending_order(std::span<const double> scores, std::span<Index> order) {
  if (order.size() != scores.size()) {
    throw Error(
        str_cat("descending_order: scores has ", scores.size(), " entries, order ", order.size()));
  }
  std::iota(order.begin(), order.end(), Index{0});
  std::sort(order.begin(), order.end(), [&](Index a, Index b) {
    const double za = scores[static_cast<std::size_t>(a)], zb = scores[static_cast<std::size_t>(b)];
    return za > zb || (za == zb && a < b);
  });
}

Normalizer parse_study_normalizer(const std::string& name) {
  const Normalizer n = attention::parse_normalizer(name);
  if (n == Normalizer::none) NormalizerSetting{n, 1.0, 1.0}.validate();
  return n;
}

}  // namespace attnlab::analysis::selectivity
