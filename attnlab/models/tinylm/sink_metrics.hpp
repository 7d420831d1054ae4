// attnlab/models/tinylm/sink_metrics.hpp — attention-sink measurements of a causal model
// (Gu et al. 2024, "When attention sink emerges"; SCIENCE.md §6).
//
// On S sequences of T tokens (windows of the validation split, no BOS), for every layer l and
// head h with attention maps A [T, M]:
//   α_k^{l,h} = (1/(T − k)) Σ_{i ≥ k} A_{i,k}     mean attention key k receives from the queries
//                                                   that can see it (0-based; k = 0 includes the
//                                                   first query's weight on itself, as Gu's code)
//   Sink_k^ε = share of (l, h) pairs with α_k > ε, averaged over sequences (ε = 0.3, T = 64,
//              S = 100 in the paper)
// Reported: Sink₁^ε (k = first token), the mean α of the first token per layer, the per-(l, h)
// mean α, and — for models with a learnable sink slot — the same for the slot (Gu's Sink* on a
// bias slot: the share of pairs putting more than ε on the slot).
//
// Usage:
//   SinkMetrics s = measure_sinks(model, val_tokens, {});
//   double sink1 = s.sink1;                 // share in [0, 1]
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/model.hpp"

namespace attnlab::models::tinylm {

struct SinkOptions {
  Index seq = 64;         // T
  Index sequences = 100;  // S (fewer when the tokens run out)
  double eps = 0.3;       // ε
};

struct SinkMetrics {
  double eps = 0.3;
  Index seq = 0, sequences = 0;
  double sink1 = 0;                     // Sink₁^ε: share of (l, h) with α(first token) > ε
  std::vector<double> layer_mass;       // [L] mean over heads and sequences of α(first token)
  MatrixD head_mass;                    // [L, H] mean over sequences of α(first token)
  bool has_slot = false;                // learnable sink
  double slot_sink = 0;                 // share of (l, h) with α(slot) > ε
  std::vector<double> slot_layer_mass;  // [L]
  nlohmann::json to_json() const;
};

// UsageError when seq < 2 or tokens hold fewer than seq tokens.
SinkMetrics measure_sinks(const gpt2::Gpt2Model& model, std::span<const std::int32_t> tokens,
                          const SinkOptions& options = {});

}  // namespace attnlab::models::tinylm
