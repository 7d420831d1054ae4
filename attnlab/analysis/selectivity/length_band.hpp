// attnlab/analysis/selectivity/length_band.hpp — the vanishing-attention band of Lemma 1,
// checked on one row.
//
// Lemma 1 / Corollary 1 (softmax): with Δ = ‖q‖₂ · max_j ‖k_j‖₂ every logit satisfies
// |ℓ_j| <= c·Δ (ℓ = c·z, c = 1/T), hence for each of the L weights
//     e^(−2cΔ) / L  <=  α_j  <=  e^(2cΔ) / L.
// The band never removes the 1/L scaling: without a length-aware c, attention vanishes as L grows.
// check_length_band() tests one row in log space and reports how much of the band the row uses.
// It takes log α: for softmax/ssmax row_log_weights() computes ℓ_j − logsumexp(ℓ) from the logits,
// so a weight that underflows to 0 in floating point (e^−800) is still measured exactly; for
// sparsemax/entmax an exact zero is a genuine zero (log α = −inf) and violates the lower side.
//   upper_use = log(L·max α) / (2cΔ)     (<= 1 inside the band; 0 = uniform row)
//   lower_use = −log(L·min α) / (2cΔ)    (<= 1 inside the band; +inf for an exact zero)
// For ssmax, c = s·log(L)/T grows with L, so the band widens as L^(2sΔ/T)/L: it can keep max α
// from vanishing — the escape the paper's discussion names. The check applies to any normalizer;
// only softmax (and ssmax with its own c) is guaranteed to pass.
//
// Usage:
//   row_log_weights(Normalizer::softmax, logits, alpha, log_alpha);       // [L] each
//   BandCheck b = check_length_band(log_alpha, c * q_norm * max_key_norm);
//   if (!b.inside) ...
#pragma once

#include <span>

#include "attnlab/attention/spec.hpp"

namespace attnlab::analysis::selectivity {

struct BandCheck {
  bool inside = true;
  double exponent = 0.0;    // 2cΔ
  double upper_use = 0.0;   // log(L·max α) / (2cΔ)
  double lower_use = 0.0;   // −log(L·min α) / (2cΔ)
  double max_weight = 0.0;  // max α
  double min_weight = 0.0;  // min α
};

// `log_weights` = log α [L]; `scaled_delta` = c·Δ >= 0. A relative slack of 1e-12 absorbs rounding.
BandCheck check_length_band(std::span<const double> log_weights, double scaled_delta);

// log α of one row: ℓ − logsumexp(ℓ) for softmax/ssmax (exact where α underflows), log(α)
// otherwise. All spans [L].
void row_log_weights(attention::Normalizer normalizer, std::span<const double> logits,
                     std::span<const double> weights, std::span<double> log_weights);

}  // namespace attnlab::analysis::selectivity
