#include "attnlab/nn/layers/embedding.hpp"

namespace attnlab::nn {

template <class T>
void embedding_forward(const std::int32_t* tokens, const Index* positions, Index n, Index C,
                       const T* E, const T* P, T* x) {
#pragma omp parallel for schedule(static) if (n * C >= (1 << 15))
  for (Index t = 0; t < n; ++t) {
    const T* e = E + static_cast<Index>(tokens[t]) * C;
    T* xr = x + t * C;
    if (P && positions) {
      const T* p = P + positions[t] * C;
#pragma omp simd
      for (Index c = 0; c < C; ++c) xr[c] = e[c] + p[c];
    } else {
#pragma omp simd
      for (Index c = 0; c < C; ++c) xr[c] = e[c];
    }
  }
}

template <class T>
void embedding_backward(const std::int32_t* tokens, const Index* positions, Index n, Index C,
                        const T* dx, T* dE, T* dP) {
  for (Index t = 0; t < n; ++t) {
    const T* g = dx + t * C;
    T* e = dE + static_cast<Index>(tokens[t]) * C;
#pragma omp simd
    for (Index c = 0; c < C; ++c) e[c] += g[c];
    if (dP && positions) {
      T* p = dP + positions[t] * C;
#pragma omp simd
      for (Index c = 0; c < C; ++c) p[c] += g[c];
    }
  }
}

template void embedding_forward<float>(const std::int32_t*, const Index*, Index, Index,
                                       const float*, const float*, float*);
template void embedding_forward<double>(const std::int32_t*, const Index*, Index, Index,
                                        const double*, const double*, double*);
template void embedding_backward<float>(const std::int32_t*, const Index*, Index, Index,
                                        const float*, float*, float*);
template void embedding_backward<double>(const std::int32_t*, const Index*, Index, Index,
                                         const double*, double*, double*);

}  // namespace attnlab::nn
