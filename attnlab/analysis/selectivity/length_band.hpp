// attnlab/analysis/selectivity/length_band.hpp — the vanishing-attention band of Lemma 1,
// checked on one row.
//
// Lemma 1 / Corollary 1 (softmax): with Δ = ‖q‖₂ · max_j ‖k_j‖₂ every logit satisfies
// |ℓ_j| <= c·Δ (ℓ = c·z, c = 1/T), hence for each of the L weights
//     e^(−2cΔ) / L  <=  α_j  <=  e^(2cΔ) / L.
// The band never removes the 1/L scaling: without a length-aware c, attention vanishes as L grows.
// check_length_band() tests one row in log space (so α_j = 0 — a sparsemax/entmax zero — is a
// violation of the lower side even when e^(−2cΔ) underflows) and reports how much of the band the
// row uses:
//   upper_use = log(L·max α) / (2cΔ)     (<= 1 inside the band; 0 = uniform row)
//   lower_use = −log(L·min α) / (2cΔ)    (<= 1 inside the band; +inf for an exact zero)
// For ssmax, c = s·log(L)/T grows with L, so the band widens as L^(2sΔ/T)/L: it can keep max α
// from vanishing — the escape the paper's discussion names. The check applies to any normalizer;
// only softmax (and ssmax with its own c) is guaranteed to pass.
//
// Usage:
//   BandCheck b = check_length_band(alpha, c * q_norm * max_key_norm);   // alpha: [L]
//   if (!b.inside) ...
#pragma once

#include <span>

namespace attnlab::analysis::selectivity {

struct BandCheck {
  bool inside = true;
  double exponent = 0.0;    // 2cΔ
  double upper_use = 0.0;   // log(L·max α) / (2cΔ)
  double lower_use = 0.0;   // −log(L·min α) / (2cΔ)
  double max_weight = 0.0;  // max α
  double min_weight = 0.0;  // min α
};

// `scaled_delta` = c·Δ >= 0. A relative slack of 1e-12 absorbs rounding of the weights.
BandCheck check_length_band(std::span<const double> weights, double scaled_delta);

}  // namespace attnlab::analysis::selectivity
