// attnlab/attention/linear_attention.hpp — kernelized (linear-time) attention, forward + backward.
//
// Linear attention replaces the softmax kernel exp(q·k/T) by a dot product of feature maps,
// κ(q, k) = φ_q(q)·φ_k(k), so the output can be computed without the N×M score matrix:
//
//   unnormalized:  out_i = Σ_{j ∈ V(i)} (φ_q(q_i)·φ_k(k_j)) v_j          = φ_q(q_i)ᵀ S_i
//   normalized:    out_i = φ_q(q_i)ᵀ S_i / (φ_q(q_i)ᵀ z_i)
//   S_i = Σ_{j ∈ V(i)} φ_k(k_j) v_jᵀ  [F, dv],   z_i = Σ_{j ∈ V(i)} φ_k(k_j)  [F]
//
// V(i) is every key, or with `causal` the keys j ≤ pos(i) = i + (M − N) (the alignment of
// spec.hpp: the last query sits on the last key). Non-causal S, z are one sum (O(M·F·dv)); causal
// ones are prefix sums in key order. Cost O((N + M)·F·dv) per head; no N×M array is ever built.
//
// Feature maps φ (F = feature count):
//   identity  φ_q(q) = q / T, φ_k(k) = k, F = d. The parameter-free linearized attention of
//             SCIENCE.md §1 (softmax with exp(a) ≈ 1 + a, keeping the bilinear term): out = (Q
//             Kᵀ/T) V. Unnormalized by default, so with q = k = v = X and T = 1 the output is X
//             (XᵀX) = X C.
//   elu1      φ(x) = elu(x) + 1 elementwise (x + 1 for x > 0, eˣ otherwise), F = d; normalized by
//             default (Katharopoulos et al. 2020). φ > 0, so every denominator is > 0.
//   favor     FAVOR+ positive random features (Choromanski et al. 2021), F = m:
//             φ(x) = exp(Wᵀx̂ − ‖x̂‖²/2) / √m, x̂ = x·d^(−1/4), W [d, m] from favor_projection().
//             E[φ(q)·φ(k)] = exp(q·k/√d): normalized FAVOR+ estimates softmax attention with
//             temperature √d (error ∝ 1/√m for moderate norms, below). One W is shared by all
//             heads.
//
// Stabilizers (FAVOR+, normalized only). Inside the exp, queries subtract their own row max of
// the exponent and keys subtract ONE max over all keys of the head. A per-row factor e^(−s_i)
// scales numerator and denominator of row i alike, and the key factor e^(−s) scales every S_i and
// z_i alike, so both cancel exactly in the normalized output: the output does not depend on s, and
// the backward treats s as a constant (exact, not an approximation). In unnormalized FAVOR+ they
// would not cancel, so there φ is used as defined, without stabilizers. φ itself cannot overflow
// (w·x̂ − ‖x̂‖²/2 ≤ ‖w‖²/2), but for large ‖x̂‖ every feature underflows to 0: unstabilized rows
// then output 0, while the stabilized normalized path keeps its largest terms at e⁰. Extreme
// inputs (exponents of different keys more than ~700 apart) can still leave a normalized row with a
// denominator near the smallest double: the forward stays a finite convex combination, but the
// backward's 1/den overflows and raises NumericError rather than returning NaN. A causal row
// whose visible keys all lie ~700 below the global key max underflows to 0 output.
// Accuracy: the estimator's relative variance grows like e^(‖q̂ + k̂‖²)/m and is heavy-tailed;
// with unit-variance q, k at d = 8 the error vs softmax stalls near 0.2 even at m = 2¹⁸, while at
// standard deviation 0.5 it falls like 1/√m (see tests/attention/linear_attention_test.cpp).
//
// Degenerate rows (defined, never NaN): a query that sees no key (causal with N > M, or M = 0)
// outputs 0; a normalized row whose denominator φ_q(q_i)ᵀ z_i is exactly 0 outputs 0. Both rows
// have zero gradient. Identity + normalize divides by Σ_j q_i·k_j / T, which can be near 0 or
// negative: that is the user's choice, not checked. Non-finite outputs or gradients (NaN/Inf
// inputs, overflow) raise NumericError.
//
// Backward: with g̃_i = g_i / den_i and e_i = −(g_i·out_i)/den_i (g̃ = g, e = 0 unnormalized),
//   ∂φ_q(q_i) = S_i g̃_i + e_i z_i,   ∂φ_k(k_j) = R_j v_j + r_j,   ∂v_j = R_jᵀ φ_k(k_j),
//   R_j = Σ_{i: j ∈ V(i)} φ_q(q_i) g̃_iᵀ  [F, dv],   r_j = Σ_{i: j ∈ V(i)} e_i φ_q(q_i)  [F].
// Causal: the queries that see key j are a suffix i ≥ i₀(j), so R_j, r_j are suffix sums over
// queries, built in one reverse pass over keys. Then the feature-map Jacobians give dq, dk.
//
// Reference twin: linear_attention_reference() materializes A_ij = φ_q(q_i)·φ_k(k_j) (identity:
// q·k/T) with its own plain loops and no stabilizers, masks, row-normalizes and multiplies by V.
//
// Shapes: q [H, N, d], k [H, M, d], v [H, M, dv], dout and out [H, N, dv].
//
// Usage:
//   LinearAttentionSpec spec;  spec.feature_map = FeatureMap::favor;  spec.causal = true;
//   spec.seed = 7;                                   // num_features 0 = round(d ln d)
//   Tensor3d out = linear_attention_forward(q, k, v, spec);
//   LinearAttentionGrads g = linear_attention_backward(q, k, v, spec, dout);  // g.dq, g.dk, g.dv
//   Tensor3d oracle = linear_attention_reference(q, k, v, spec);            // O(N·M), for tests
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "attnlab/core/tensor.hpp"

namespace attnlab::attention {

enum class FeatureMap { identity, elu1, favor };

std::string_view to_string(FeatureMap f);
// Parses "identity" | "elu1" (also "elu+1") | "favor" (also "favor+"); UsageError otherwise.
FeatureMap parse_feature_map(std::string_view name);

struct LinearAttentionSpec {
  FeatureMap feature_map = FeatureMap::identity;
  bool causal = false;
  std::optional<bool> normalize;  // unset: false for identity, true for elu1 and favor
  double temperature = 1.0;       // T in φ_q(q) = q / T; identity only (others need 1)
  Index num_features = 0;         // m of FAVOR+; 0 = default_favor_features(d); favor only
  std::uint64_t seed = 0;         // seed of the FAVOR+ projection
  bool orthogonal = true;         // FAVOR+: orthogonal blocks (true) or iid Gaussian W (false)

  // UsageError naming the field and value when the spec cannot apply to these shapes.
  void validate(Index H, Index N, Index M, Index d) const;
  bool normalized() const { return normalize.value_or(feature_map != FeatureMap::identity); }
  // F, the number of features of φ for head dim d (d for identity/elu1, m for favor).
  Index feature_count(Index d) const;
  // One-line description, e.g. "linear favor m=44 orthogonal seed=7 causal normalized".
  std::string describe() const;
  nlohmann::json to_json() const;
  // FormatError on malformed JSON (missing feature_map, wrong types, unknown names).
  static LinearAttentionSpec from_json(const nlohmann::json& j);
};

struct LinearAttentionGrads {
  Tensor3d dq;  // [H, N, d]
  Tensor3d dk;  // [H, M, d]
  Tensor3d dv;  // [H, M, dv]
};

// m = round(d · ln d), at least 1: the FAVOR+ default feature count.
Index default_favor_features(Index d);

// FAVOR+ projection W [d, m]; column l is the random feature vector w_l.
// orthogonal: features come in blocks of d (the last block may be shorter); each block is
// Gram–Schmidt (two passes) on Gaussian vectors, so its vectors are mutually orthogonal, then
// each w_l is rescaled to the norm of an independent N(0, I_d) vector (so ‖w_l‖ is χ_d, as for iid
// w_l). Otherwise iid N(0, 1) entries. Same (d, m, seed, orthogonal) gives bit-identical W; the
// draw order (block by block: vectors, then norms) is part of that contract.
// UsageError if d < 1 or m < 1.
MatrixD favor_projection(Index d, Index m, std::uint64_t seed, bool orthogonal = true);

enum class FavorStabilizer {
  none,     // φ exactly as defined
  per_row,  // subtract each row's max exponent (queries)
  global,   // subtract one max over all rows (keys)
};

// FAVOR+ features of each row of x: φ(x) = exp(Wᵀx̂ − ‖x̂‖²/2 − s) / √m, x̂ = x·d^(−1/4).
// x [n, d], w [d, m] -> [n, m]. UsageError if x.cols() != w.rows().
MatrixD favor_features(const MatrixD& x, const MatrixD& w, FavorStabilizer stabilizer);

// Linear-time forward. q [H, N, d], k [H, M, d], v [H, M, dv] -> out [H, N, dv].
Tensor3d linear_attention_forward(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v,
                                  const LinearAttentionSpec& spec);

// Linear-time backward of a scalar loss with ∂loss/∂out = dout [H, N, dv] (recomputes features).
LinearAttentionGrads linear_attention_backward(const Tensor3d& q, const Tensor3d& k,
                                               const Tensor3d& v, const LinearAttentionSpec& spec,
                                               const Tensor3d& dout);

// Quadratic fp64 oracle of the attention matrix: A [H, N, M], A_ij = φ_q(q_i)·φ_k(k_j) for visible
// keys (0 for masked ones), rows divided by their sum when normalized (a zero row stays 0).
Tensor3d linear_attention_weights_reference(const Tensor3d& q, const Tensor3d& k,
                                            const LinearAttentionSpec& spec);

// Quadratic fp64 oracle of the output: weights_reference · V -> [H, N, dv].
Tensor3d linear_attention_reference(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v,
                                    const LinearAttentionSpec& spec);

}  // namespace attnlab::attention
