// attnlab/models/gpt2/model.hpp — GPT-2 inference in fp32: forward, KV cache, swappable
// attention, and capture of what every head does.
//
// The forward pass (Radford et al. 2019; the formulas of openai/gpt-2 model.py and llm.c):
//
//   x = wte[tokens] + wpe[positions]                                   // [n, C]
//   per layer:  a = LN1(x);  [q k v] = a · Wqkv + bqkv                 // [n, 3C] -> [H, n, d] ×3
//               x += merge_heads(attention(q, K, V)) · Wproj + bproj    // K, V: [H, M, d] cache
//               x += GELU(LN2(x) · Wfc + bfc) · Wfcproj + bfcproj      // GELU tanh (gelu_new)
//   logits = LNf(x) · wteᵀ                                             // [n, V]
//   LN(x) = (x − mean) / sqrt(var + eps) · w + b, population variance.
//
// A call processes n new tokens at positions p0 .. p0+n−1, p0 = cache.length(); their keys and
// values are appended to the cache, and query i sits at position i + (M − n) with M = p0 + n keys
// (spec.hpp's alignment). So a 1024-token prefill followed by 128 one-token calls gives the same
// logits as one 1152-token forward (tested), and a decode step reads the cache in place.
//
// Attention is swappable: ForwardOptions::attention is any AttentionSpec (window, sinks + window,
// decay, ALiBi, top-k, ssmax, sparsemax, entmax15); the model forces causal (unless the order
// test asks for bidirectional) and sets the temperature to √d (GPT-2's 1/sqrt(d) scaling; × (l+1)
// with scale_attn_by_inverse_layer_idx) unless the spec sets one. Two kernels compute it with
// the same semantics (ScoreMods of spec.hpp):
//   - attention::attend() (fused fp32 flash kernel) for softmax-family chunks of more than
//     `row_kernel_max_rows` new tokens: prefill and long chunks;
//   - a row kernel over the cache in place (no copy of K/V): logits of one query row in fp64 from
//     fp32 dot products, top-k, the spec's normalizer (normalizers.hpp), weights · V. It serves
//     decode steps, every spec attend() routes to its fp64 reference (top-k, sparse normalizers:
//     here they stream row by row instead of materializing [H, n, M]), and captured maps.
// Kernel::fused / Kernel::reference in ForwardOptions force attend() / the row kernel.
// When only the last token's logits are wanted and nothing is captured (generation's prefill),
// the last layer runs its attention output and MLP for the last row only: the other rows' keys
// and values are all the cache needs (the same saving as llama.cpp's output-row selection).
//
// Capture (ForwardOptions): per layer and head, streamed row statistics (attention/
// row_diagnostics.hpp: entropy, sink mass, max weight, sparsity, top-8, wasted work) plus the
// weight on the query's own position and on the previous position — no n × M storage; full maps
// only for requested (layer, head) pairs, bounded by max_map_entries; the residual stream after
// each block; per-head q, k, v of chosen layers (what selectivity studies read); logits of the last row, of all rows, or none; and the negative log-likelihood of
// given next tokens without ever holding [n, V] logits.
//
// The model's own attention and positions (config.json's attnlab fields, config.hpp and
// model_attention.hpp) apply unless ForwardOptions overrides them: `attention` unset runs the
// recorded spec, `positions` unset the recorded mode (sinusoidal models keep their table in wpe).
// Learned decay rates and the learnable sink are part of the weights and always apply. With a
// learnable sink, make_cache() puts the slot in cache row 0 of every layer and head (prefix() = 1):
// keys, captured maps and row statistics then count the slot as key 0 and token t as key t + 1
// (so "sink mass" is the mass on the slot). Linear (elu+1) models run the row kernel with
// α_ij = φ(q_i)·φ(k_j) / Σ_j' φ(q_i)·φ(k_j') and reject an attention override.
//
// Order-test overrides (not a language model any more, for measurements only):
//   positions = none (no wpe), sinusoidal (sin/cos table scaled to wpe's RMS), rope (rotary on q
//   and k, half style, base 10000, no wpe), alibi (spec.alibi, no wpe); bidirectional = no mask.
//
// Threads: GEMMs through OpenBLAS (core/blas.hpp), other loops OpenMP with static schedules:
// results are bit-identical for a fixed thread count.
//
// Usage:
//   Gpt2Model model(load_gpt2("gpt2/"));
//   KvCache cache = model.make_cache();
//   ForwardResult r = model.forward(prompt_ids, cache);           // r.logits [1, V] (last row)
//   ForwardOptions o;  o.attention.window = 256;  o.attention.sinks = 4;  o.diagnostics = true;
//   ForwardResult d = model.forward(ids, o);                      // fresh cache
//   double h = d.layers[3].rows.norm_entropy(5, 17);              // layer 3, head 5, row 17
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/attention/attend.hpp"
#include "attnlab/attention/row_diagnostics.hpp"
#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/nn/layers/rope.hpp"

namespace attnlab::models::gpt2 {

enum class LogitsMode { none, last, all };

// Keys and values of every layer for positions 0 .. length()−1, stored [H, capacity, d] per layer
// so a head's keys are contiguous rows.
class KvCache {
 public:
  KvCache() = default;
  // `prefix` leading slots hold non-token keys (a learnable sink); capacity counts tokens only.
  KvCache(Index layers, Index heads, Index head_dim, Index capacity, Index prefix = 0);
  Index length() const { return length_; }  // rows in use, prefix included
  Index tokens() const { return length_ - prefix_; }
  Index capacity() const { return capacity_; }  // token rows
  Index prefix() const { return prefix_; }
  void clear() { length_ = prefix_; }
  // Keys / values of layer l, head h: [capacity, d], rows < length() valid.
  float* keys(Index l, Index h) { return k_.data() + offset(l, h); }
  float* values(Index l, Index h) { return v_.data() + offset(l, h); }
  const float* keys(Index l, Index h) const { return k_.data() + offset(l, h); }
  const float* values(Index l, Index h) const { return v_.data() + offset(l, h); }
  Index heads() const { return H_; }
  Index head_dim() const { return d_; }
  Index layers() const { return L_; }
  void set_length(Index n) { length_ = n; }
  std::size_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }

 private:
  std::size_t offset(Index l, Index h) const {
    return static_cast<std::size_t>((l * H_ + h) * (capacity_ + prefix_) * d_);
  }
  Index L_ = 0, H_ = 0, d_ = 0, capacity_ = 0, prefix_ = 0, length_ = 0;
  AlignedVector<float> k_, v_;  // [L, H, prefix + capacity, d]
};

struct MapRequest {
  Index layer = 0, head = 0;
};

struct ForwardOptions {
  // The attention every layer runs (causal is forced); unset = the model's recorded spec.
  std::optional<attention::AttentionSpec> attention;
  attention::Kernel kernel = attention::Kernel::automatic;
  Index row_kernel_max_rows = 8;  // automatic: chunks up to this many new rows use the row kernel
  std::optional<PositionMode> positions;  // unset = the model's recorded mode
  bool bidirectional = false;             // order test only: drop the causal mask
  // Capture.
  bool diagnostics = false;                // per-layer row statistics of the new rows
  std::vector<MapRequest> maps;            // full attention maps [n, M] of these heads
  Index max_map_entries = Index{1} << 24;  // bound on Σ n·M over requested maps
  bool hidden_states = false;              // residual stream after every block
  // Per-head projections of these layers (ForwardResult::projections, in request order): the
  // queries, keys and values of the new rows exactly as attention sees them (after rotary
  // positions, before the 1/T scaling) and the residual stream entering the layer. Costs
  // 3·n·C + n·C floats per requested layer; UsageError for a layer outside [0, n_layer).
  std::vector<Index> projection_layers;
  LogitsMode logits = LogitsMode::last;
  // Next-token scoring: when non-empty (one entry per token), targets[t] is the token after row
  // t; rows score_from <= t < score_to (0 = n) are scored, other entries are ignored;
  // ForwardResult::nll gets −log p(targets[t]) for those rows.
  std::span<const std::int32_t> targets;
  Index score_from = 0;
  Index score_to = 0;
};

// Row statistics of one layer's new rows.
struct LayerCapture {
  attention::RowDiagnostics rows;  // [H, n] per statistic (row_diagnostics.hpp)
  MatrixD self_weight;             // [H, n] weight on the query's own position
  MatrixD prev_weight;             // [H, n] weight on position − 1 (NaN at position 0)
};

struct CapturedMap {
  Index layer = 0, head = 0;
  Index first_position = 0;  // position of row 0 (= cache length before the call)
  MatrixD weights;           // [n, M]; NaN where the key is masked
};

// What one layer's attention was given (ForwardOptions::projection_layers).
struct LayerProjections {
  Index layer = 0;
  Index first_position = 0;  // position of row 0 (= cache length before the call)
  Tensor3<float> q, k, v;    // [H, n, d] each
  MatrixF input;             // [n, C] residual stream entering the layer (before LN1)
};

struct ForwardResult {
  MatrixF logits;                             // [1, V] (last), [n, V] (all) or empty
  std::vector<LayerCapture> layers;           // [L] when diagnostics were requested
  std::vector<CapturedMap> maps;              // in request order
  std::vector<MatrixF> hidden;                // [L] of [n, C] when requested
  std::vector<LayerProjections> projections;  // in ForwardOptions::projection_layers order
  MatrixF final_hidden;                       // [n, C] LNf output when hidden_states was requested
  std::vector<double> nll;                    // [n − score_from] when targets were given
  attention::Kernel kernel = attention::Kernel::automatic;  // attention kernel of the last
                                                            // full layer
};

class Gpt2Model {
 public:
  explicit Gpt2Model(Gpt2Weights weights);

  const Gpt2Config& config() const { return weights_.config; }
  const Gpt2Weights& weights() const { return weights_; }
  // capacity 0 = n_positions. UsageError when capacity > n_positions. With a learnable sink the
  // slot is written into prefix row 0.
  KvCache make_cache(Index capacity = 0) const;
  // The AttentionSpec layer `layer` runs for `options` (model_attention.hpp's
  // layer_attention_spec with the options' override, learned rates and bidirectional flag).
  attention::AttentionSpec layer_spec(const ForwardOptions& options, Index layer) const;
  // The attention these options run, in words ("full softmax", "window=64 ...").
  std::string describe_attention(const ForwardOptions& options) const;

  // Runs `tokens` at positions cache.length() ... and appends their K/V. InputError when a token
  // is outside the vocabulary or the positions run past n_positions (learned positions) or the
  // cache capacity; UsageError for options that cannot apply.
  ForwardResult forward(std::span<const std::int32_t> tokens, KvCache& cache,
                        const ForwardOptions& options = {}) const;
  // With a fresh cache sized for `tokens`.
  ForwardResult forward(std::span<const std::int32_t> tokens,
                        const ForwardOptions& options = {}) const;

  // Greedy decoding: prefill `prompt`, then `steps` one-token calls. Returns the new tokens;
  // step_logits (if given) receives each step's logits [V] (the first from the prefill).
  std::vector<std::int32_t> generate_greedy(
      std::span<const std::int32_t> prompt, Index steps, KvCache& cache,
      const ForwardOptions& options = {},
      std::vector<std::vector<float>>* step_logits = nullptr) const;

 private:
  Gpt2Weights weights_;
  double wpe_rms_ = 0.0;  // RMS of wpe entries (scale of the sinusoidal override)
  nn::RopeTable rope_;    // [n_positions, d/2] angles (even head dims)
};

}  // namespace attnlab::models::gpt2
