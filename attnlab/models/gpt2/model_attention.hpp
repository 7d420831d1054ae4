// attnlab/models/gpt2/model_attention.hpp — the attention a GPT-layout model was trained with.
//
// GPT-2's own files run full causal softmax with learned absolute positions. Models trained by
// attnlab (models/tinylm) can use any other attention; ModelAttention records which, in
// config.json under "attnlab_attention", so every loader rebuilds the same model:
//
//   spec            the AttentionSpec heuristic of every layer: normalizer (softmax, ssmax,
//                   sparsemax, entmax15), window, sinks, fixed decay rates, ALiBi, top-k, ssmax_s.
//                   Causality and the temperature (√d) are the model's, not stored.
//   linear          elu+1 linear attention (Katharopoulos et al. 2020), causal and normalized,
//                   instead of the spec (which must then be the default).
//   learned_decay   a trainable per-head decay rate r_h ≥ 0 per layer (tensor
//                   "h.N.attn.decay_rate" [H]): logits get −r_h·(i − j), added to any fixed rate.
//   learnable_sink  one trainable key/value slot per head per layer (tensors "h.N.attn.sink_k",
//                   "h.N.attn.sink_v" [H, d]; StreamingLLM's "learnable sink"), visible to every
//                   query (with a window it counts as one extra sink). It sits before token 0:
//                   attention runs over M = n + 1 keys, key 0 being the slot.
// Position modes are recorded beside it as "attnlab_position_mode" (PositionMode in config.hpp).
// A config.json without these fields is GPT-2's: default spec, learned positions.
//
// Rules (validate()): linear excludes a non-default spec, learned decay and the learnable sink;
// the learnable sink excludes distance biases (fixed decay, ALiBi, learned decay), which would
// decay the slot by the query's position; the spec must not be causal-free or masked.
//
// Usage:
//   ModelAttention a;  a.spec.window = 64;  a.learnable_sink = true;  a.validate();
//   nlohmann::json j = a.to_json();          // {"spec": {...}, "linear": false, ...}
//   ModelAttention b = ModelAttention::from_json(j, "config.json");
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "attnlab/attention/spec.hpp"

namespace attnlab::models::gpt2 {

struct ModelAttention {
  attention::AttentionSpec spec;  // causal and temperature are ignored (set by the model)
  bool linear = false;
  bool learned_decay = false;
  bool learnable_sink = false;

  // True for GPT-2's own attention (nothing to record in config.json).
  bool is_default() const;
  // UsageError naming the conflicting parts.
  void validate(std::string_view source = "model attention") const;
  // e.g. "softmax window=64 + learnable sink", "linear elu+1", "full softmax".
  std::string describe() const;
  nlohmann::json to_json() const;
  // FormatError naming `source` on anything malformed.
  static ModelAttention from_json(const nlohmann::json& j, std::string_view source);
};

struct Gpt2Config;

enum class PositionMode;

// The AttentionSpec layer `layer` of a model runs, shared by inference and training so both
// compute the same function: `base` (the model's recorded spec or a user's override) with
// causality on, temperature √d (× (layer + 1) with scale_attn_by_inverse_layer_idx) unless base
// sets one, ALiBi when `positions` is alibi, the learned rates [H] (if any) added to base's fixed
// decay, and one extra sink when the model has a learnable sink slot and a window.
attention::AttentionSpec layer_attention_spec(const Gpt2Config& config,
                                              const attention::AttentionSpec& base, Index layer,
                                              PositionMode positions,
                                              std::span<const double> learned_rates = {});

}  // namespace attnlab::models::gpt2
