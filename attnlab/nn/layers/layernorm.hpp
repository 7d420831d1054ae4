// attnlab/nn/layers/layernorm.hpp — LayerNorm over the last axis, forward and backward.
//
// For each row x of X [n, C] (population variance, GPT-2's convention):
//   μ = mean(x),  σ² = mean((x − μ)²),  r = 1/√(σ² + ε),  x̂ = (x − μ)·r,  y = x̂ ⊙ w + b
// Statistics are accumulated in fp64 whatever T is; the forward saves μ and r per row.
// Backward for upstream dy (g = dy ⊙ w):
//   dx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂)),   dw += Σ_rows dy ⊙ x̂,   db += Σ_rows dy
// Parameter sums are split into per-thread partial sums (static row blocks) added in thread
// order: bit-identical for a fixed thread count.
//
// Usage:
//   std::vector<float> mean(n), rstd(n);
//   layernorm_forward(x, n, C, w, b, 1e-5, y, mean.data(), rstd.data());
//   layernorm_backward(x, n, C, w, mean.data(), rstd.data(), dy, dx, dw, db);
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

// y [n, C]; mean/rstd [n] (either may be null when no backward follows).
template <class T>
void layernorm_forward(const T* x, Index n, Index C, const T* w, const T* b, double eps, T* y,
                       T* mean, T* rstd);

// dx [n, C] is overwritten; dw, db [C] are accumulated into.
template <class T>
void layernorm_backward(const T* x, Index n, Index C, const T* w, const T* mean, const T* rstd,
                        const T* dy, T* dx, T* dw, T* db);

}  // namespace attnlab::nn
