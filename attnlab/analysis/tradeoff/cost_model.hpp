// attnlab/analysis/tradeoff/cost_model.hpp — what one sequence costs a GPT-layout model: FLOPs
// counted from the pairs each layer's attention actually visits, and the inference state (KV
// cache) it keeps.
//
// Attention pairs are counted, not estimated from N²: for every layer l, head h and query row i of
// an n-token sequence, v_{l,h,i} = the keys visible to row i under the layer's spec (causal,
// window, sinks, a learnable-sink slot; ScoreMods::visible of attention/spec.hpp). Per visible pair
// (d = head dim; one multiply-add = 2 FLOPs):
//   softmax / ssmax         forward 4d + 4 (q·k 2d, exp/max/sum/scale 4, α·v 2d)
//                           backward 10d + 4 (recompute q·k, dP = dO·vᵀ, dV, dQ, dK; softmax 4)
//   top-k K, k = min(K, v)  forward 2d·v + v (q·k and selection per row) + (2d + 4)·k (softmax
//                           and α·v over the kept pairs); backward 2d·v (recompute q·k) +
//                           (8d + 4)·k (dP, dV, dQ, dK and softmax over the kept pairs)
//   sparsemax               softmax's counts plus a sort, v·⌈log2 v⌉ per row
//   linear (elu+1)          no pairs: per token and head, forward 4d² + 8d (φ, state, readout,
//                           normalizer), backward 2× forward
// Dense GEMMs per token (forward; backward = 2×: dX and dW): 2·C·3C (qkv) + 2·C² (proj) +
// 2·C·F·2 (MLP) per layer, 2·C·V (tied output head). LayerNorm, GELU, embeddings and the
// optimizer are left out (< 2% at these sizes). training_flops = forward + backward.
//
// KV state at length n (fp32): per layer 2·C·4 bytes × kept rows, kept = n (full, decay, ALiBi,
// top-k, sparsemax), min(n, W) (+ S sinks) for windows, + 1 with a learnable-sink slot; linear
// attention keeps H·(d² + d) floats per layer instead.
// Prunable pairs (the ACP analogue, Lin et al. 2025): the visible pairs whose distance bias
// −(γ_h + slope_h)·Δ is below ln ε, ε = e^−10 — work a decay-aware kernel could skip; pruned_kv_bytes
// is the cache when keys beyond the largest unpruned distance of any head are dropped.
//
// Usage:
//   CostCounts c = count_costs(config, /*n=*/128);
//   double per_token = c.forward_flops / 128;
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "attnlab/models/gpt2/config.hpp"

namespace attnlab::analysis::tradeoff {

inline constexpr double kPruneLogEps = -10.0;

struct CostCounts {
  Index tokens = 0;            // n
  double attention_pairs = 0;  // Σ_{l,h,i} visible keys (q·k products computed)
  double attention_flops = 0;  // forward attention FLOPs
  double dense_flops = 0;      // forward GEMM FLOPs
  double forward_flops = 0;    // attention + dense
  double training_flops = 0;   // forward + backward
  double kv_bytes = 0;         // inference state at length n
  double prunable_pairs = 0;   // visible pairs with bias below kPruneLogEps
  double pruned_kv_bytes = 0;  // kv_bytes after dropping keys beyond the prune distance
  nlohmann::json to_json() const;
};

// UsageError for n < 1 or n > n_positions. learned_rates [L][H]: a learned-decay model's trained
// rates (they move the prunable counts only; empty = the config's fixed rates alone).
CostCounts count_costs(const models::gpt2::Gpt2Config& config, Index n,
                       const std::vector<std::vector<double>>& learned_rates = {});

}  // namespace attnlab::analysis::tradeoff
