#include "attnlab/analysis/tradeoff/cost_model.hpp"

#include <algorithm>
#include <cmath>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

using attention::Normalizer;

double ceil_log2(double v) {
  return v <= 1 ? 0.0 : std::ceil(std::log2(v));
}

struct LayerCount {
  double pairs = 0, forward = 0, backward = 0, prunable = 0;
  Index max_unpruned_distance = 0;  // largest Δ of a visible, unpruned pair (any head)
};

// Pairs and attention FLOPs of one layer over n query rows (cost_model.hpp's rules).
LayerCount count_layer(const attention::AttentionSpec& spec, Index H, Index n, Index prefix,
                       Index d) {
  const Index M = n + prefix;
  const attention::ScoreMods mods(spec, H, n, M, d);
  LayerCount c;
  const double dd = static_cast<double>(d);
  for (Index i = 0; i < n; ++i) {
    const double v = static_cast<double>(mods.visible_count(i));
    double fwd = 0, bwd = 0;
    if (spec.topk > 0) {
      const double kept = std::min(v, static_cast<double>(spec.topk));
      fwd = 2 * dd * v + v + (2 * dd + 4) * kept;
      bwd = 2 * dd * v + (8 * dd + 4) * kept;
    } else {
      fwd = (4 * dd + 4) * v;
      bwd = (10 * dd + 4) * v;
      if (spec.normalizer == Normalizer::sparsemax || spec.normalizer == Normalizer::entmax15)
        fwd += v * ceil_log2(v);
    }
    c.pairs += v * static_cast<double>(H);
    c.forward += fwd * static_cast<double>(H);
    c.backward += bwd * static_cast<double>(H);
  }
  if (mods.has_bias()) {
    for (Index h = 0; h < H; ++h) {
      const double slope = mods.linear_slope(h);
      // Δ ≥ ceil(10 / slope) is pruned; count visible pairs beyond that per row.
      const Index cut = slope > 0 ? static_cast<Index>(std::ceil(-kPruneLogEps / slope)) : M + 1;
      for (Index i = 0; i < n; ++i) {
        const attention::ScoreMods::KeyRange r = mods.band(i);
        const Index p = mods.query_position(i);
        for (Index j = r.lo; j < r.hi; ++j) {
          const Index delta = p - j;
          if (delta >= cut) {
            c.prunable += 1;
          } else {
            c.max_unpruned_distance = std::max(c.max_unpruned_distance, delta);
          }
        }
      }
    }
  } else {
    c.max_unpruned_distance = M;
  }
  return c;
}

}  // namespace

nlohmann::json CostCounts::to_json() const {
  return {{"tokens", tokens},
          {"attention_pairs", attention_pairs},
          {"attention_flops", attention_flops},
          {"dense_flops", dense_flops},
          {"forward_flops", forward_flops},
          {"training_flops", training_flops},
          {"kv_bytes", kv_bytes},
          {"prunable_pairs", prunable_pairs},
          {"pruned_kv_bytes", pruned_kv_bytes}};
}

CostCounts count_costs(const models::gpt2::Gpt2Config& cfg, Index n,
                       const std::vector<std::vector<double>>& learned_rates) {
  if (n < 1 || n > cfg.n_positions) {
    throw UsageError(
        str_cat("count_costs: n = ", n, " outside [1, n_positions = ", cfg.n_positions, "]"));
  }
  if (!learned_rates.empty() && static_cast<Index>(learned_rates.size()) != cfg.n_layer) {
    throw UsageError(str_cat("count_costs: ", learned_rates.size(), " layers of learned rates for ",
                             cfg.n_layer, " layers"));
  }
  const double C = static_cast<double>(cfg.n_embd), F = static_cast<double>(cfg.ffn_dim()),
               V = static_cast<double>(cfg.vocab_size), N = static_cast<double>(n);
  const Index H = cfg.n_head, d = cfg.head_dim();
  const double dd = static_cast<double>(d);
  const Index prefix = cfg.attention.learnable_sink ? 1 : 0;
  CostCounts c;
  c.tokens = n;
  const double per_layer_dense = 2 * C * 3 * C + 2 * C * C + 2 * 2 * C * F;
  c.dense_flops = N * (per_layer_dense * static_cast<double>(cfg.n_layer) + 2 * C * V);
  double attn_backward = 0;
  const double row_bytes = 2 * C * 4;
  for (Index l = 0; l < cfg.n_layer; ++l) {
    if (cfg.attention.linear) {
      const double fwd = N * static_cast<double>(H) * (4 * dd * dd + 8 * dd);
      c.attention_flops += fwd;
      attn_backward += 2 * fwd;
      c.kv_bytes += static_cast<double>(H) * (dd * dd + dd) * 4;
      c.pruned_kv_bytes += static_cast<double>(H) * (dd * dd + dd) * 4;
      continue;
    }
    std::vector<double> rates;
    if (!learned_rates.empty()) rates = learned_rates[static_cast<std::size_t>(l)];
    const attention::AttentionSpec spec =
        models::gpt2::layer_attention_spec(cfg, cfg.attention.spec, l, cfg.position_mode, rates);
    const LayerCount lc = count_layer(spec, H, n, prefix, d);
    c.attention_pairs += lc.pairs;
    c.attention_flops += lc.forward;
    attn_backward += lc.backward;
    c.prunable_pairs += lc.prunable;
    Index kept = n;
    if (spec.window > 0) kept = std::min(n, spec.window + spec.sinks - prefix);
    kept += prefix;
    c.kv_bytes += row_bytes * static_cast<double>(kept);
    const Index pruned_kept = std::min(kept, lc.max_unpruned_distance + 1 + prefix);
    c.pruned_kv_bytes += row_bytes * static_cast<double>(pruned_kept);
  }
  c.forward_flops = c.attention_flops + c.dense_flops;
  c.training_flops = c.forward_flops + 2 * c.dense_flops + attn_backward;
  return c;
}

}  // namespace attnlab::analysis::tradeoff
