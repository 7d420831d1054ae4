// attnlab/analysis/tradeoff/streaming.hpp — StreamingLLM-style streaming perplexity: decode a
// long token stream one token at a time through a bounded KV cache and measure what each
// eviction policy costs in next-token NLL (Xiao et al. 2023; reference/tinylm_longcontext_
// anchors.md §1).
//
// A stream x_0 .. x_{n−1} is scored step by step: step t reads x_t and scores
//   nll_t = −log p(x_{t+1} | what the policy keeps of x_0 .. x_t),        t = 0 .. n−2
// Mean NLL = (1/(n−1)) Σ_t nll_t (nats/token), perplexity = exp(mean NLL).
//
// Policies (StreamPolicy; S = sinks, W = window, S + W <= n_positions):
//   slot, "S+W"   (recompute = false) one KV cache for the whole stream. Before step t appends
//                 x_t, a full cache (S + W token rows) drops its oldest non-sink row, so step t
//                 attends to the first S tokens (attention sinks) and the W most recent ones,
//                 x_t included:
//                   keys(t) = {x_0 .. x_{S−1}} ∪ {x_{t−W+1} .. x_t}     (all of x_0..x_t early on)
//                 Rows keep the keys and values computed when their token was decoded (with the
//                 context it had then); only their positions change. Positions are assigned by
//                 cache slot, not by text position: the token in slot s (s-th token row) sits at
//                 position s. RoPE keys are re-rotated to their slot: the cache holds the rotated
//                 keys the model wrote, so each row's unrotated key k⁰ is recovered once when it is
//                 appended (k⁰ = R(−p)·k, same nn::RopeTable as the model, rounded once) and every
//                 move writes R(s)·k⁰ afresh (StreamingLLM's pre-RoPE cache rotated with
//                 arange(kv_len)); rotations are never chained, so nothing drifts. ALiBi, decay
//                 and position-free ("none") models need no shift: their bias is a function of
//                 the slot distance the model already uses. A learnable-sink slot (prefix row 0,
//                 KvCache::prefix()) is not a token row: it always stays, on top of S.
//   recompute, "recompute W" / "recompute S+W"   sliding window with re-computation: each step
//                 runs a fresh forward over keys(t) above (the S sink tokens, then the W most
//                 recent, at positions 0, 1, ...) and scores its last row. No state survives a
//                 step, so this is also the slot policy's exact oracle for a 1-layer model (whose
//                 K/V depend only on the token and its slot).
// Learned and sinusoidal absolute positions are added to the residual stream, so a cached row
// cannot be moved to another position: for those models only recompute applies (a slot policy
// is a UsageError saying so). The model's own attention spec, decay rates and position mode run
// unchanged inside the kept set.
//
// Relation to StreamingLLM's code: StartRecentKVCache(start, recent) trims the cache *after* each
// forward, so its query sees start + recent + 1 keys; here W counts the current token, as a
// recompute window or AttentionSpec::window does, so their (4, 1020) is our "4+1021". For a
// position-free model, slot "S+W" equals one full forward with AttentionSpec{window = W,
// sinks = S} at any depth (tested), and so does "0+W" for RoPE and ALiBi models (RoPE with a
// learnable sink excepted: the slot is never rotated, i.e. a key at position 0, so its logit
// depends on the query's absolute position, slot vs text).
//
// Costs: slot steps are one-token decode calls (the model's row kernel) plus a memmove of the
// kept rows and, for RoPE, a re-rotation of the W − 1 moved keys per layer and head; recompute
// steps are forwards of up to S + W tokens. kv_bytes is the cache either one holds (KvCache::
// bytes() of a cache of S + W token rows):
//   kv_bytes = n_layer · 2 · (prefix + S + W) · n_embd · 4     (K and V, fp32; prefix 0 or 1)
// Deterministic: same model, tokens, policy and thread count give bit-identical results.
//
// Usage:
//   Gpt2Model model(load_gpt2("tiny/"));                   // position mode rope / alibi / none
//   StreamResult r = stream_perplexity(model, ids, {.sinks = 4, .window = 60});
//   StreamResult w = stream_perplexity(model, ids, {.sinks = 0, .window = 64});
//   StreamResult c = stream_perplexity(model, ids, {.window = 64, .recompute = true});
//   std::printf("%s: ppl %.2f\n", r.policy.label().c_str(), r.perplexity);
//   nlohmann::json j = to_json(r);
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/model.hpp"

namespace attnlab::analysis::tradeoff {

struct StreamPolicy {
  Index sinks = 0;         // S: first token rows kept forever (besides a learnable-sink slot)
  Index window = 0;        // W: most recent token rows kept, the current one included; >= 1
  bool recompute = false;  // sliding window with re-computation instead of one moving cache
  // "4+60", "0+64", "recompute 64" (S = 0) or "recompute 4+60".
  std::string label() const;
};

struct StreamResult {
  StreamPolicy policy;
  Index scored = 0;                // steps whose next token was scored: tokens.size() − 1
  std::vector<double> nll;         // [scored] nll_t = −log p(x_{t+1} | kept context), nats
  double mean_nll = 0.0;           // nats/token
  double perplexity = 0.0;         // exp(mean_nll)
  Index bucket = 0;                // steps per bucket
  std::vector<double> bucket_nll;  // [⌈scored / bucket⌉] mean nll_t over t in [k·bucket,
                                   // (k+1)·bucket); the last bucket may be shorter
  std::size_t kv_bytes = 0;        // K/V bytes of the cache (formula above)
  double seconds = 0.0;            // wall time of the stream
};

// Scores `tokens` under `policy` (see the header comment). UsageError when window < 1, sinks < 0,
// sinks + window > n_positions, fewer than 2 tokens, bucket < 1, or a slot policy on a model with
// learned or sinusoidal positions (the message says to use recompute); InputError naming the
// stream index for a token outside the vocabulary; NumericError if a step's NLL is not finite.
StreamResult stream_perplexity(const models::gpt2::Gpt2Model& model,
                               std::span<const std::int32_t> tokens, const StreamPolicy& policy,
                               Index bucket = 64);

// K/V bytes of `policy`'s cache on this model (kv_bytes above); no validation.
std::size_t stream_kv_bytes(const models::gpt2::Gpt2Config& config, const StreamPolicy& policy);

// Everything but the per-step nll: policy (label, sinks, window, recompute), scored, mean_nll,
// perplexity, bucket, bucket_nll, kv_bytes, seconds.
nlohmann::json to_json(const StreamResult& r);

}  // namespace attnlab::analysis::tradeoff
