// attnlab/models/gpt2/attention_override.hpp — the `--attention SPEC` mini-language.
//
// Replaces GPT-2's full causal softmax at inference with any AttentionSpec (attention/spec.hpp),
// to measure what each heuristic costs in perplexity or does to the heads. The text is a
// comma-separated list of items; later items override earlier ones:
//
//   full                   GPT-2 as trained (the default; same as an empty string)
//   window=W               sliding window: keys at distance < W
//   sinks=S                with a window: also the first S keys (StreamingLLM)
//   decay=G | decay=G1:G2:...   recency bias −γ_h·distance; one rate, or one per head
//   alibi                  ALiBi bias −slope_h·distance on top of the learned positions
//   topk=K                 keep the K largest logits of each row
//   softmax | ssmax | sparsemax | entmax15   the normalizer (or normalizer=NAME)
//   ssmax_s=S              scalable-softmax's s (with ssmax)
//   temperature=T          logits = q·k / T (default √d, GPT-2's scaling)
// Causality is always on (GPT-2 is causal); a key mask cannot be set here. Whitespace around
// items is ignored. A path ending in ".json" is read as AttentionSpec::to_json() output instead.
//
// For training (parse_model_attention), three more items choose what a model is built with:
//   linear                 elu+1 linear attention (Katharopoulos et al.) instead of softmax
//   learned_decay          a trainable per-head decay rate (starts at RetNet's rates)
//   learnable_sink         a trainable key/value slot per head (StreamingLLM)
//
// Errors: UsageError naming the item and what was expected.
//
// Usage:
//   AttentionSpec s = parse_attention_override("window=256,sinks=4");
//   std::string name = describe_attention_override(s);   // "sinks=4 + window=256"
#pragma once

#include <string>
#include <string_view>

#include "attnlab/attention/spec.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"

namespace attnlab::models::gpt2 {

attention::AttentionSpec parse_attention_override(std::string_view text);
// The training form: the items above plus linear / learned_decay / learnable_sink; validated
// (model_attention.hpp's rules). Causality and temperature are left to the model.
ModelAttention parse_model_attention(std::string_view text);
// Short human form, "full causal softmax" for the default.
std::string describe_attention_override(const attention::AttentionSpec& spec);

}  // namespace attnlab::models::gpt2
