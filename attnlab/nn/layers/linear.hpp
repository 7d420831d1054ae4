// attnlab/nn/layers/linear.hpp — the dense layer y = x · W + b, forward and backward.
//
// Layout is GPT-2's Conv1D ([in, out], row-major): for x [n, in], W [in, out], b [out],
//   forward   y[n, out] = x W + b
//   backward  dx[n, in] = dy Wᵀ          (overwritten, or accumulated with `accumulate_dx`)
//             dW[in, out] += xᵀ dy        (always accumulated: parameter gradients add up)
//             db[out]     += Σ_rows dy
// GEMMs go through core/blas.hpp (OpenBLAS, s/dgemm). The bias sum runs column-parallel with each
// column summed in row order, so every result is bit-identical for a fixed thread count.
// T is float (training) or double (the fp64 twin used by gradient checks).
//
// Usage:
//   linear_forward(x, n, C, W, b, 3 * C, y);                        // y [n, 3C]
//   linear_backward(x, n, C, W, 3 * C, dy, dx, dW, db);            // dx [n, C], dW [C, 3C]
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

// y [n, out] = x [n, in] · W [in, out] + b [out] (b may be null: no bias); with `accumulate`,
// y += x W + b (a residual add).
template <class T>
void linear_forward(const T* x, Index n, Index in, const T* W, const T* b, Index out, T* y,
                    bool accumulate = false);

// Gradients of y = x W + b for upstream dy [n, out]. dx may be null (input needs no gradient);
// db may be null (no bias). dW and db are accumulated into.
template <class T>
void linear_backward(const T* x, Index n, Index in, const T* W, Index out, const T* dy, T* dx,
                     T* dW, T* db, bool accumulate_dx = false);

}  // namespace attnlab::nn
