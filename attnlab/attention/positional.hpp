// attnlab/attention/positional.hpp — positional encodings: sinusoidal, learned, RoPE, ALiBi.
//
// Attention without positions is permutation-equivariant; these functions give tokens an order.
// They act on inputs ([L, D], added before the q/k/v projections: sinusoidal, learned), on q and k
// ([H, L, d], rotated: RoPE) or on the logits ([N, M] bias: ALiBi). All fp64, all deterministic.
//
// Positions follow spec.hpp: key j sits at position j and query i at i + (M − N), so the last
// query aligns with the last key. Functions take a `position_offset` p₀: row t has position p₀ + t.
// For queries pass M − N (apply_rope_qk does this for you), which may be negative when N > M.
//
//   sinusoidal  PE(p, 2i) = sin(p·ω_i), PE(p, 2i+1) = cos(p·ω_i), ω_i = base^(−2i/D), base 10000
//               (Vaswani et al. 2017). Odd D: the last column D−1 = 2i is a sin with
//               ω = base^(−(D−1)/D) and no cos partner.
//   learned     a trainable table [L_max, D]; x_t += table[p_t]. Its backward scatters the upstream
//               gradient into the rows used (repeated positions accumulate).
//   RoPE        rotates pairs of coordinates of q and k by p·θ_i, θ_i = base^(−2i/d), i < d/2
//               (Su et al. 2021). Styles: `half` (GPT-NeoX / Llama "rotate half": pairs (i, i +
//               d/2)) and `interleaved` (GPT-J: pairs (2i, 2i+1)). d must be even. Rotations are
//               orthogonal, so norms are kept, (R_p q)·(R_r k) depends only on p − r, and the
//               backward is the rotation by −p·θ.
//   ALiBi       a logit bias −slope_h·|pos(i) − j| (Press et al. 2022; slopes 2^(−8(h+1)/H)).
//               It lives in spec.hpp as a score mod (spec.alibi); alibi_bias() returns the same
//               values as a matrix. The symmetric |Δ| matches spec.hpp for non-causal attention;
//               with causal masking only Δ ≥ 0 is ever visible, which is the original ALiBi.
//
// Errors: UsageError for bad arguments (odd d for RoPE, D mismatch, base ≤ 0, negative sizes);
// InputError when a learned-table position is outside [0, L_max) (the data is longer than the
// table).
//
// Usage:
//   add_sinusoidal(x, 0);                           // x [L, D]
//   auto pos = LearnedPositions::initialize(1024, D, seed);
//   pos.apply(x, 0);  MatrixD dtable = pos.backward(dx, 0);
//   apply_rope_qk(q, k);                            // q [H, N, d] at M − N, k [H, M, d] at 0
//   apply_rope_backward(dq, M - N);                 // gradient through the query rotation
//   MatrixD bias = alibi_head_bias(h, H, N, M);     // [N, M], equals ScoreMods::bias
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "attnlab/core/tensor.hpp"

namespace attnlab::attention {

enum class PositionalEncoding { none, sinusoidal, learned, rope, alibi };

std::string_view to_string(PositionalEncoding p);
// Parses "none" | "sinusoidal" | "learned" | "rope" | "alibi"; UsageError otherwise.
PositionalEncoding parse_positional_encoding(std::string_view name);

// ---- sinusoidal -------------------------------------------------------------------------------

// Table of positions p₀ .. p₀ + L − 1 -> [L, D]. UsageError if L < 0, D < 1 or base ≤ 0.
MatrixD sinusoidal_table(Index L, Index D, Index position_offset = 0, double base = 10000.0);
// x [L, D] += sinusoidal_table(L, D, position_offset, base).
void add_sinusoidal(MatrixD& x, Index position_offset = 0, double base = 10000.0);

// ---- learned ----------------------------------------------------------------------------------

struct LearnedPositions {
  MatrixD table;  // [L_max, D]

  // N(0, stddev²) entries drawn from Rng(seed) in row-major order.
  static LearnedPositions initialize(Index L_max, Index D, std::uint64_t seed,
                                     double stddev = 0.02);
  Index max_length() const { return table.rows(); }
  Index dim() const { return table.cols(); }

  // x [L, D]: row t += table row (position_offset + t).
  void apply(MatrixD& x, Index position_offset = 0) const;
  // x [L, D]: row t += table row positions[t]; positions [L].
  void apply(MatrixD& x, std::span<const Index> positions) const;
  // Gradient of the table [L_max, D] given ∂loss/∂x = dx [L, D]: dx rows scattered (added) to the
  // rows they used; other rows 0.
  MatrixD backward(const MatrixD& dx, Index position_offset = 0) const;
  MatrixD backward(const MatrixD& dx, std::span<const Index> positions) const;
};

// ---- RoPE -------------------------------------------------------------------------------------

enum class RopeStyle {
  half,         // GPT-NeoX / Llama: pairs (i, i + d/2)
  interleaved,  // GPT-J: pairs (2i, 2i + 1)
};

std::string_view to_string(RopeStyle s);
// Parses "half" | "interleaved"; UsageError otherwise.
RopeStyle parse_rope_style(std::string_view name);

// Rotates x [H, L, d] in place: row t at position p = position_offset + t, pair i by angle p·θ_i,
// θ_i = base^(−2i/d):  (x_a, x_b) <- (x_a cos − x_b sin, x_a sin + x_b cos).
// UsageError if d is odd or base is not finite and > 0.
void apply_rope(Tensor3d& x, Index position_offset, double base = 10000.0,
                RopeStyle style = RopeStyle::half);
// Vector–Jacobian product of apply_rope: rotates dx [H, L, d] in place by −p·θ_i (Rᵀ = R⁻¹).
void apply_rope_backward(Tensor3d& dx, Index position_offset, double base = 10000.0,
                         RopeStyle style = RopeStyle::half);
// Rotates q [H, N, d] at offset M − N and k [H, M, d] at offset 0 (the alignment of spec.hpp).
void apply_rope_qk(Tensor3d& q, Tensor3d& k, double base = 10000.0,
                   RopeStyle style = RopeStyle::half);

// ---- ALiBi ------------------------------------------------------------------------------------

// Bias [N, M]: b_ij = −slope·|i + (M − N) − j|. UsageError if N < 0 or M < 0.
MatrixD alibi_bias(double slope, Index N, Index M);
// The bias of head h among H with the standard slope alibi_slope(h, H) (spec.hpp) -> [N, M];
// equal to ScoreMods::bias(h, i, j) for a spec with only alibi on.
MatrixD alibi_head_bias(Index h, Index H, Index N, Index M);

}  // namespace attnlab::attention
