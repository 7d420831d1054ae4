// attnlab/nn/layers/tied_softmax_xent.hpp — vocabulary projection + softmax cross-entropy, fused
// and chunked so that no [n, V] logit matrix is ever held.
//
// For rows h [n, C] (the final LayerNorm output), the output matrix E [V, C] (the tied token
// embeddings of GPT-2) and targets [n] (−1 = row not scored):
//   z_t = E h_t  [V],   nll_t = logsumexp(z_t) − z_t[target_t]           (max-shifted, fp64 sums)
// Returns Σ_t nll_t over scored rows. With gradients requested, for s = grad_scale:
//   dz_t = s · (softmax(z_t) − onehot(target_t))   (0 for unscored rows)
//   dh_t = Eᵀ dz_t  (overwritten),   dE += Σ_t dz_t h_tᵀ  (accumulated)
// Rows are processed in chunks of at most 2^20 / V rows (≥ 1): the peak extra memory is one chunk
// of logits. Each row's statistics are computed by one thread in a fixed order and the two GEMMs
// per chunk are OpenBLAS calls: bit-identical for a fixed thread count.
//
// Usage:
//   double sum = tied_softmax_xent(h, n, C, wte, V, targets, 1.0 / scored, dh, dwte);
//   double eval = tied_softmax_xent<float>(h, n, C, wte, V, targets);      // loss only
#pragma once

#include <cstdint>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

// dh and dE are both null (loss only) or both set. row_nll (optional) receives nll_t for every
// row ([n], NaN for unscored rows); row_hit (optional) receives 1 where the target has the
// largest logit of its row (z_t[target] ≥ max z_t: ties count as hits), 0 elsewhere ([n]).
template <class T>
double tied_softmax_xent(const T* h, Index n, Index C, const T* E, Index V,
                         const std::int32_t* targets, double grad_scale = 0.0, T* dh = nullptr,
                         T* dE = nullptr, std::vector<double>* row_nll = nullptr,
                         std::vector<std::uint8_t>* row_hit = nullptr);

}  // namespace attnlab::nn
