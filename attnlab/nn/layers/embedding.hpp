// attnlab/nn/layers/embedding.hpp — token + position embedding lookup, forward and backward.
//
//   forward   x[t] = E[tok_t] + P[pos_t]          x [n, C], E [V, C], P [rows, C] (P optional)
//   backward  dE[tok_t] += dx[t],  dP[pos_t] += dx[t]
// The backward scatters in row order on one thread (rows sharing a token add up in a fixed
// order), so gradients are bit-identical for any thread count. Ids are checked by the caller
// (the model validates tokens once); here they are trusted.
//
// Usage:
//   embedding_forward(tokens, positions, n, C, wte, wpe, x);     // positions may be null
//   embedding_backward(tokens, positions, n, C, dx, dwte, dwpe);  // dwpe may be null
#pragma once

#include <cstdint>

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

template <class T>
void embedding_forward(const std::int32_t* tokens, const Index* positions, Index n, Index C,
                       const T* E, const T* P, T* x);

template <class T>
void embedding_backward(const std::int32_t* tokens, const Index* positions, Index n, Index C,
                        const T* dx, T* dE, T* dP);

}  // namespace attnlab::nn
