// attnlab/attention/spec.hpp — what one attention computes: normalizer, scale and score/mask mods.
//
// An AttentionSpec is plain data. Every kernel (the fp64 reference, the fused fp32 path, the
// model's inference path) reads it through ScoreMods, so all of them agree on the semantics below.
//
// Shapes: q [H, N, d], k [H, M, d], v [H, M, dv]; out [H, N, dv]; weights/logits [H, N, M].
//
// Positions. Key j sits at position j; query i sits at pos(i) = i + (M − N), so the last query
// aligns with the last key (decoding with a KV cache). Let Δ = pos(i) − j.
//
// Logit of (h, i, j), before normalization:
//   ℓ = c_i · (q_i · k_j) + b_h(Δ)          if (i, j) is visible, else −∞ (masked)
//   c_i = 1 / T                              T = temperature, default √d
//   c_i = (s · log n_i) / T                  for scalable-softmax (ssmax), n_i = number of keys
//                                            visible to query i (= M without masks), s = ssmax_s
//   b_h(Δ) = −(γ_h + slope_h) · |Δ|          γ_h = decay rate of head h (0 when off),
//                                            slope_h = 2^(−8(h+1)/H) with ALiBi (0 when off)
// Visibility of (i, j), all mods composing by AND, except that sinks widen the window:
//   key_mask[j] != 0                         (when a key padding mask is given)
//   causal        ⇒ Δ ≥ 0
//   window W > 0  ⇒ |Δ| < W   or  j < S      (S = sinks; with causal this is 0 ≤ Δ < W or j < S)
//   top-k K > 0   ⇒ ℓ is among the K largest visible logits of row i (ties: lower j wins)
// Sinks never override causality or the padding mask.
//
// Normalizers map a row of logits to weights α (masked entries get α = 0):
//   softmax, ssmax: exp(ℓ − max) / Σ exp(ℓ − max)      (stable; ssmax differs only in c_i)
//   sparsemax:      Euclidean projection onto the simplex (Martins & Astudillo 2016)
//   entmax15:       1.5-entmax, exact sort-based algorithm (Peters et al. 2019)
//   none:           α = ℓ (linearized attention: no normalization)
// A row with no visible key has α = 0 and output 0 (defined, never NaN).
//
// Usage:
//   AttentionSpec spec;  spec.causal = true;  spec.window = 64;  spec.alibi = true;
//   spec.validate(H, N, M, d);          // UsageError on inconsistent settings
//   ScoreMods mods(spec, H, N, M, d);   // per-(h, i, j) visibility, bias and scale
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::attention {

enum class Normalizer { softmax, sparsemax, entmax15, ssmax, none };

std::string_view to_string(Normalizer n);
// Parses "softmax" | "sparsemax" | "entmax15" | "ssmax" | "none"; UsageError otherwise.
Normalizer parse_normalizer(std::string_view name);

struct AttentionSpec {
  Normalizer normalizer = Normalizer::softmax;
  double temperature = 0.0;  // T in ℓ = q·k / T; 0 selects the default √d
  double ssmax_s = 1.0;      // s of scalable-softmax (ℓ × s·log n_i)
  bool causal = false;
  Index window = 0;                    // W; 0 = no window
  Index sinks = 0;                     // S; requires window > 0
  std::vector<double> decay;           // γ: empty = off, one rate for all heads, or one per head
  bool alibi = false;                  // standard slopes 2^(−8(h+1)/H)
  Index topk = 0;                      // K; 0 = off
  std::vector<std::uint8_t> key_mask;  // [M]; empty = every key; 0 marks a padded key

  // UsageError naming the field and value when the spec cannot apply to these shapes.
  void validate(Index H, Index N, Index M, Index d) const;
  // One-line human description, e.g. "softmax T=8 causal window=64 alibi".
  std::string describe() const;
  nlohmann::json to_json() const;
  static AttentionSpec from_json(const nlohmann::json& j);
  // True when only softmax/ssmax with mask/bias mods (no top-k): what the fused path supports.
  bool is_softmax_family() const {
    return normalizer == Normalizer::softmax || normalizer == Normalizer::ssmax;
  }
};

// Standard ALiBi slope of head h among H heads: 2^(−8(h+1)/H).
double alibi_slope(Index h, Index H);

// Per-(h, i, j) semantics of a validated spec for fixed shapes. Cheap to construct; no N×M state.
class ScoreMods {
 public:
  ScoreMods(const AttentionSpec& spec, Index H, Index N, Index M, Index d);

  Index query_position(Index i) const { return i + offset_; }
  // True when key j is visible to query i under mask, causal, window and sinks (not top-k).
  bool visible(Index i, Index j) const;
  // Additive bias b_h(Δ) = −(γ_h + slope_h)·|Δ|.
  double bias(Index h, Index i, Index j) const {
    const Index delta = query_position(i) - j;
    return -linear_slope_[h] * static_cast<double>(delta < 0 ? -delta : delta);
  }
  // γ_h + slope_h (0 when neither decay nor ALiBi is on).
  double linear_slope(Index h) const { return linear_slope_[h]; }
  bool has_bias() const { return has_bias_; }
  // Multiplier c_i of q·k for query i (1/T, times s·log n_i for ssmax).
  double logit_scale(Index i) const;
  // Number of keys visible to query i (before top-k).
  Index visible_count(Index i) const;
  // Contiguous key range [lo, hi) outside of which only sink keys can be visible for query i
  // (from causal and window; the key mask may hide keys inside it).
  struct KeyRange {
    Index lo, hi;
  };
  KeyRange band(Index i) const;
  Index sinks() const { return sinks_; }
  Index topk() const { return topk_; }
  bool has_key_mask() const { return !key_mask_.empty(); }

 private:
  Index H_, N_, M_, offset_;
  bool causal_;
  Index window_, sinks_, topk_;
  double base_scale_;
  bool ssmax_;
  double ssmax_s_;
  bool has_bias_ = false;
  std::vector<double> linear_slope_;    // [H]
  std::vector<std::uint8_t> key_mask_;  // [M] or empty
  std::vector<Index> mask_prefix_;      // [M + 1] prefix counts of visible keys, if masked
};

}  // namespace attnlab::attention
