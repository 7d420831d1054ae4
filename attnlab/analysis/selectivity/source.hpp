// attnlab/analysis/selectivity/source.hpp — what the selectivity instruments read: per-head
// queries, keys and token vectors, from synthetic tokens, NPY arrays or (later) a model.
//
// A SelectivitySource is plain data: a list of "units" (heads), each with
//   q [Q, dk]   queries (raw projections: the study forms scores z = q·k and logits ℓ = z / T)
//   k [L, dk]   keys, key j at position j
//   x [L, dx]   token vectors the selection geometry is measured on (SCIENCE.md §4: value vectors
//               by default, hidden states by flag; for synthetic tokens the tokens themselves)
// All heads share Q, L, dk and dx. With `causal`, query i sits at position i + (L − Q) (the last
// query aligns with the last key, as in attention/spec.hpp) and sees keys at or before it.
//
// How rows are formed at a sweep length L' <= L (sweeps.hpp):
//   non-causal: every query attends to keys [0, L');
//   causal:     a query at position p >= L' − 1 attends to the L' keys ending at p, [p − L' + 1, p]
//               (queries with fewer than L' visible keys are skipped), so every row has exactly L'
//               keys — the logits are the model's, normalized over the last L' keys.
//
// Plugging in a model (GPT-2 / tiny LM, models/): capture per layer and head the projected
// queries and keys (before the 1/√d scaling) and the value vectors (or the layer's input hidden
// states for tokens = "hidden") over one context window, and fill one SelectivityHead per
// (layer, head) with label "L<layer>.H<head>", causal = true, kind = "model". Nothing else in the
// study changes: `attnlab selectivity --model ...` only needs a function that returns this struct.
//
// Synthetic sources (make_synthetic_source): per head, L tokens uniform on the sphere of radius M
// with spacing δ (synthetic_tokens.hpp) serve as keys; token vectors are the keys themselves
// ("tied", identity projections: the paper's setting) or an independent draw ("independent", like
// a separate value projection); Q queries are drawn the same way. Optional population spread
// (not in the paper, which has 144 real heads): each head h gets a logit gain g_h = exp(σ_g·z_h)
// multiplying its queries and a value scale m_h = exp(σ_v·z'_h) multiplying its token vectors,
// z, z' ~ N(0, 1), so heads differ in sharpness and value norm the way real heads do.
// Every draw comes from Rng::stream(seed, head): the same seed gives the same source for any
// thread count.
//
// Usage:
//   SyntheticOptions so;  so.heads = 32;  so.length = 1024;  so.seed = 7;
//   SelectivitySource src = make_synthetic_source(so);
//   SelectivitySource npy = source_from_arrays(q /*[H,Q,dk]*/, k /*[H,L,dk]*/, v /*[H,L,dv]*/,
//                                              true, "value", "q.npy k.npy v.npy");
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

struct SelectivityHead {
  std::string label;  // e.g. "synthetic.3", "npy.h1", "L3.H7"
  MatrixD q;          // [Q, dk]
  MatrixD k;          // [L, dk]
  MatrixD x;          // [L, dx]
};

struct SelectivitySource {
  std::string kind = "synthetic";  // "synthetic" | "npy" | "model"
  std::string description;         // one line for reports ("32 synthetic heads, d=64, M=8 ...")
  std::string tokens = "token";    // what x holds: "token" (synthetic) | "value" | "hidden"
  bool causal = false;
  std::vector<SelectivityHead> heads;

  Index num_heads() const { return static_cast<Index>(heads.size()); }
  Index num_queries() const { return heads.empty() ? 0 : heads[0].q.rows(); }
  Index max_length() const { return heads.empty() ? 0 : heads[0].k.rows(); }
  Index key_dim() const { return heads.empty() ? 0 : heads[0].k.cols(); }
  Index token_dim() const { return heads.empty() ? 0 : heads[0].x.cols(); }
  // Position of query i (causal sources): i + (L − Q).
  Index query_position(Index i) const { return i + max_length() - num_queries(); }

  // InputError naming the head and the field when heads disagree in shape, an array is empty,
  // L < 2, Q > L for a causal source, or a value is not finite.
  void validate() const;
  // kind, description, tokens, causal, shapes and head labels (no arrays).
  nlohmann::json describe_json() const;
};

struct SyntheticOptions {
  Index heads = 32;
  Index queries = 16;   // Q per head
  Index length = 1024;  // L (keys = tokens)
  Index dim = 64;       // d (keys, queries and tokens)
  double radius = 0.0;  // M; 0 selects √d (so q·k/√d has unit variance for random pairs)
  double spacing = -1;  // δ; negative selects M/2
  bool independent_tokens = false;  // x drawn separately from the keys (default: x = k)
  double gain_spread = 0.0;         // σ_g of the per-head logit gain exp(σ_g·z)
  double value_spread = 0.0;        // σ_v of the per-head token scale exp(σ_v·z')
  std::uint64_t seed = 0;

  double resolved_radius() const;
  double resolved_spacing() const;
  nlohmann::json to_json() const;
  static SyntheticOptions from_json(const nlohmann::json& j);
};

// Synthetic heads as described above (parallel over heads, deterministic for the seed).
SelectivitySource make_synthetic_source(const SyntheticOptions& options);
// Estimated bytes of that source: heads · ((Q + 2L)·d·8 + 64 KiB) for the queries, keys, token
// vectors and per-head bookkeeping. Calibrated against peak RSS (--quick, d 256–1024, 16–64 heads).
double synthetic_source_bytes(const SyntheticOptions& options);

// Heads from arrays: q [H, Q, dk], k [H, L, dk], x [H, L, dx] or [1, L, dx] (one set of token
// vectors shared by every head, e.g. hidden states). InputError naming the shapes on mismatch.
SelectivitySource source_from_arrays(const Tensor3d& q, const Tensor3d& k, const Tensor3d& x,
                                     bool causal, std::string tokens, std::string description);

}  // namespace attnlab::analysis::selectivity
