// attnlab/attention/reference_attention.hpp — the fp64 oracle: materializes [H, N, M] scores.
//
// Simple and obviously correct: for each head it builds the full logit matrix with the ScoreMods
// of spec.hpp, applies top-k, normalizes row by row, and multiplies by V. Every fast kernel in
// attnlab is tested against these two functions; they are also the path for specs the fused kernel
// does not cover (sparsemax, entmax15, none, top-k).
//
// Shapes: q [H, N, d], k [H, M, d], v [H, M, dv], dout [H, N, dv].
// Cost: O(H·N·M·(d + dv)) time, O(N·M) extra memory per head.
//
// Backward (vector–Jacobian products of a scalar loss with ∂loss/∂out = dout):
//   dα = dout Vᵀ,  dℓ = normalizer backward (normalizers.hpp),  dS_ij = c_i dℓ_ij,
//   dQ = dS K,  dK = dSᵀ Q,  dV = αᵀ dout,  dslope_h = Σ_ij dℓ_ij · (−|Δ_ij|).
//
// Usage:
//   auto fwd = attention_forward_reference(q, k, v, spec);   // fwd.out, fwd.weights, fwd.logits
//   auto g = attention_backward_reference(q, k, v, spec, dout);  // g.dq, g.dk, g.dv
#pragma once

#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::attention {

struct ReferenceForward {
  Tensor3d out;      // [H, N, dv]
  Tensor3d logits;   // [H, N, M]; −∞ where masked (including keys dropped by top-k)
  Tensor3d weights;  // [H, N, M]
};

struct AttentionGrads {
  Tensor3d dq;                 // [H, N, d]
  Tensor3d dk;                 // [H, M, d]
  Tensor3d dv;                 // [H, M, dv]
  std::vector<double> dslope;  // [H] ∂loss/∂(γ_h + slope_h), the linear-bias slope of head h
};

// Throws UsageError unless q [H, N, d], k [H, M, d], v [H, M, dv] agree.
void check_attention_shapes(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v);

// Logits [H, N, M] of the spec (scale, biases, masks, top-k), −∞ where masked.
Tensor3d attention_logits_reference(const Tensor3d& q, const Tensor3d& k,
                                    const AttentionSpec& spec);

ReferenceForward attention_forward_reference(const Tensor3d& q, const Tensor3d& k,
                                             const Tensor3d& v, const AttentionSpec& spec);

AttentionGrads attention_backward_reference(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v,
                                            const AttentionSpec& spec, const Tensor3d& dout);

// lse [H, N] = log Σ_j exp(ℓ_ij) in nats of reference logits [H, N, M] (softmax family);
// −∞ for rows with no visible key.
MatrixD log_sum_exp_rows(const Tensor3d& logits);

// Applies top-k to one row in place: all but the K largest finite logits become −∞
// (ties broken towards the lower key index). K <= 0 leaves the row unchanged.
void apply_topk_row(std::span<double> logits, Index k);

}  // namespace attnlab::attention
