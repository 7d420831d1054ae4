// attnlab/models/gpt2/train_attention.hpp — one layer's attention on one sequence, forward and
// backward, for every attention a GPT-layout model can be trained with.
//
// SequenceAttention holds what the backward needs: q [H, N, d], k and v [H, M, d] exactly as the
// kernel saw them (after RoPE; with a learnable sink, row 0 of k and v is the slot and M = N + 1),
// the output [H, N, d] and, on the fused path, lse [H, N]. The path is chosen once per layer:
//
//   fused      float, softmax/ssmax without top-k: attention_forward_fused / _backward_fused
//   reference  sparsemax, entmax15, top-k in float (widened to fp64) and every spec in double:
//              attention_forward_reference / attention_backward_reference
//   linear     elu+1 linear attention (causal, normalized) in fp64
//
// The backward returns dq, dk, dv in the same shapes and dslope [H] = ∂loss/∂(slope_h), the
// gradient of each head's linear distance-bias slope (what learned decay rates receive).
//
// Usage:
//   AttentionPath path = choose_attention_path<float>(model_attention, spec);
//   SequenceAttention<float> s(H, N, M, d);   // fill s.q, s.k, s.v
//   attend_sequence(path, spec, s);           // s.out (and s.lse)
//   SequenceGrads<float> g = attend_sequence_backward(path, spec, s, dout);
#pragma once

#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"

namespace attnlab::models::gpt2 {

enum class AttentionPath { fused, reference, linear };

template <class T>
AttentionPath choose_attention_path(const ModelAttention& model,
                                    const attention::AttentionSpec& spec);

template <class T>
struct SequenceAttention {
  SequenceAttention() = default;
  SequenceAttention(Index H, Index N, Index M, Index d)
      : q(H, N, d), k(H, M, d), v(H, M, d), out(H, N, d) {}
  Tensor3<T> q, k, v, out;  // [H, N, d], [H, M, d], [H, M, d], [H, N, d]
  MatrixF lse;              // [H, N] on the fused path
};

template <class T>
struct SequenceGrads {
  Tensor3<T> dq, dk, dv;       // shapes of q, k, v
  std::vector<double> dslope;  // [H]
};

template <class T>
void attend_sequence(AttentionPath path, const attention::AttentionSpec& spec,
                     SequenceAttention<T>& s);

template <class T>
SequenceGrads<T> attend_sequence_backward(AttentionPath path, const attention::AttentionSpec& spec,
                                          const SequenceAttention<T>& s, const Tensor3<T>& dout);

}  // namespace attnlab::models::gpt2
