// attnlab/analysis/selectivity/row_weights.hpp — one attention row as the selectivity study sees
// it: raw scores z_j = q·k_j, logits ℓ = c·z, weights α = normalize(ℓ).
//
// The logit scale c is where temperature and length enter (SCIENCE.md §4, attention/spec.hpp):
//   softmax, sparsemax, entmax15:  c = 1 / T
//   ssmax (scalable-softmax):      c = s · log(L) / T       (L = keys in the row)
// So every Jacobian in this study is ∂α/∂z = c · ∂α/∂ℓ, and the temperature sweep varies T with
// z fixed. The normalizers themselves are attention/normalizers.hpp (reused, not re-derived);
// `none` is rejected (its "weights" are not a distribution).
//
// Selection order. Every normalizer here is monotone in the logit (a larger z_j never gets a
// smaller α_j), so the top-N set by weight is the top-N set by score; ties — including the exact
// zeros of sparsemax and entmax — are broken by score, then by lower key index. descending_order()
// computes that order once per row and it serves every normalizer, temperature and N.
//
// Usage:
//   NormalizerSetting ns{Normalizer::ssmax, 8.0, 1.0};
//   row_weights(ns, z, logits_ws, alpha);           // z, logits_ws, alpha: [L]
//   descending_order(z, order);                      // order: [L]
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

struct NormalizerSetting {
  attention::Normalizer normalizer = attention::Normalizer::softmax;
  double temperature = 1.0;  // T > 0
  double ssmax_s = 1.0;      // s of scalable-softmax

  // UsageError for `none`, T <= 0, s <= 0 or non-finite values.
  void validate() const;
};

// c such that ℓ = c·z for a row with `length` keys (length >= 1).
double logit_scale(const NormalizerSetting& setting, Index length);

// α = normalize(c·z). `logits` is scratch space of the same length as z; all three spans [L].
void row_weights(const NormalizerSetting& setting, std::span<const double> scores,
                 std::span<double> logits, std::span<double> weights);

// Indices of z sorted by decreasing value, ties by increasing index. order: [L].
void descending_order(std::span<const double> scores, std::span<Index> order);

// "softmax" | "sparsemax" | "entmax15" | "ssmax" (parse: UsageError otherwise, also for "none").
attention::Normalizer parse_study_normalizer(const std::string& name);

}  // namespace attnlab::analysis::selectivity
