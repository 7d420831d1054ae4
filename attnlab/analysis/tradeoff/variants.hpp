// attnlab/analysis/tradeoff/variants.hpp — the attention variants of the trade-off study, by name.
//
// A variant is what a tiny model is trained with: a ModelAttention (models/gpt2/
// model_attention.hpp) and a position mode. Names (W, S, K integers; R a rate per token):
//   full                    causal softmax over every earlier token
//   window-W                sliding window: keys with 0 ≤ Δ < W
//   sinks-S-window-W        the first S tokens stay visible beside the window (StreamingLLM)
//   decay-retnet            fixed per-head decay, RetNet's γ_h = 1 − 2^(−5−h): logit bias
//                           −r_h·Δ with r_h = −ln γ_h (softmax form of retention's γ^Δ)
//   decay-R                 one fixed rate R for every head (bias −R·Δ)
//   alibi                   ALiBi slopes 2^(−8(h+1)/H), no position embeddings
//   topk-K                  only the K largest logits of each row
//   linear                  elu+1 linear attention (Katharopoulos et al. 2020)
//   sparsemax               sparsemax instead of softmax (Martins & Astudillo 2016)
//   learned-decay           a trainable rate per head, initialized at RetNet's rates
//   learnable-sink          full softmax plus a trainable key/value slot per head
// Every variant except alibi keeps learned absolute positions (GPT-2's layout); the streaming test
// trains its own position modes. A searched heuristic is a spec (search.hpp) named
// "searched:<spec>".
//
// Usage:
//   Variant v = parse_variant("sinks-4-window-16", /*heads=*/4);
//   std::vector<Variant> all = default_variants(/*context=*/128, 4);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attnlab/models/gpt2/config.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"

namespace attnlab::analysis::tradeoff {

struct Variant {
  std::string name;
  std::string family;  // full, window, sinks+window, decay, alibi, topk, linear, sparsemax,
                       // learned-decay, learnable-sink, searched
  models::gpt2::ModelAttention attention;
  models::gpt2::PositionMode positions = models::gpt2::PositionMode::learned;
};

// UsageError naming the variant and what is wrong (unknown name, W/S/K/R out of range).
Variant parse_variant(std::string_view name, Index heads);
// Comma-separated names.
std::vector<Variant> parse_variants(std::string_view list, Index heads);

// RetNet's fixed per-head log-rates −ln(1 − 2^(−5−h)), h = 0 .. heads − 1.
std::vector<double> retnet_rates(Index heads);

// The study's default set at a context: full, window-T/8, window-T/4, sinks-4-window-T/4,
// decay-retnet, decay-0.25, alibi, topk-8, linear, sparsemax, learned-decay, learnable-sink.
std::vector<Variant> default_variants(Index context, Index heads);
// The report's smaller set: full, window-T/4, sinks-4-window-T/4, decay-retnet, alibi, linear,
// learned-decay.
std::vector<Variant> report_variants(Index context, Index heads);

}  // namespace attnlab::analysis::tradeoff
