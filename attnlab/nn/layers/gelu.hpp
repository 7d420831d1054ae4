// attnlab/nn/layers/gelu.hpp — GELU activations (GPT-2's tanh form and the exact erf form).
//
//   tanh  y = ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)          (gelu_new, GPT-2)
//         dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3·0.044715 x²)
//   erf   y = ½ x (1 + erf(x/√2))                                         (BERT)
//         dy/dx = ½ (1 + erf(x/√2)) + x φ(x),  φ = standard normal density
// The forward reads the pre-activation and writes the output (they may alias); the backward
// needs the pre-activation. Elementwise: identical results for any thread count.
//
// Usage:
//   gelu_forward(GeluKind::tanh, pre, n * F, act);
//   gelu_backward(GeluKind::tanh, pre, d_act, n * F, d_pre);
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

enum class GeluKind { tanh, erf };

template <class T>
void gelu_forward(GeluKind kind, const T* x, Index count, T* y);

// dx[i] = dy[i] · gelu'(x[i]) (dx may alias dy).
template <class T>
void gelu_backward(GeluKind kind, const T* x, const T* dy, Index count, T* dx);

}  // namespace attnlab::nn
