#include "attnlab/nn/layers/linear.hpp"

#include "attnlab/core/blas.hpp"

namespace attnlab::nn {

template <class T>
void linear_forward(const T* x, Index n, Index in, const T* W, const T* b, Index out, T* y,
                    bool accumulate) {
  // The bias goes into y first (y = b, or y += b), then one GEMM with beta = 1: a single pass
  // over y besides the GEMM's own (beta = 0 would make OpenBLAS clear y in a separate pass).
  if (b) {
#pragma omp parallel for schedule(static) if (n * out >= (1 << 15))
    for (Index r = 0; r < n; ++r) {
      T* yr = y + r * out;
      if (accumulate) {
#pragma omp simd
        for (Index c = 0; c < out; ++c) yr[c] += b[c];
      } else {
#pragma omp simd
        for (Index c = 0; c < out; ++c) yr[c] = b[c];
      }
    }
  }
  gemm(Trans::no, Trans::no, n, out, in, T(1), x, in, W, out, (accumulate || b) ? T(1) : T(0), y,
       out);
}

template <class T>
void linear_backward(const T* x, Index n, Index in, const T* W, Index out, const T* dy, T* dx,
                     T* dW, T* db, bool accumulate_dx) {
  if (dx) {
    gemm(Trans::no, Trans::yes, n, in, out, T(1), dy, out, W, out, accumulate_dx ? T(1) : T(0), dx,
         in);
  }
  gemm(Trans::yes, Trans::no, in, out, n, T(1), x, in, dy, out, T(1), dW, out);
  if (db) {
    // Column blocks in parallel; each column sums its rows in order.
    constexpr Index kBlock = 64;
    const Index blocks = (out + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * out >= (1 << 15))
    for (Index cb = 0; cb < blocks; ++cb) {
      const Index c0 = cb * kBlock, c1 = std::min(out, c0 + kBlock);
      T acc[kBlock] = {};
      for (Index r = 0; r < n; ++r) {
        const T* row = dy + r * out;
#pragma omp simd
        for (Index c = c0; c < c1; ++c) acc[c - c0] += row[c];
      }
      for (Index c = c0; c < c1; ++c) db[c] += acc[c - c0];
    }
  }
}

template void linear_forward<float>(const float*, Index, Index, const float*, const float*, Index,
                                    float*, bool);
template void linear_forward<double>(const double*, Index, Index, const double*, const double*,
                                     Index, double*, bool);
template void linear_backward<float>(const float*, Index, Index, const float*, Index, const float*,
                                     float*, float*, float*, bool);
template void linear_backward<double>(const double*, Index, Index, const double*, Index,
                                      const double*, double*, double*, double*, bool);

}  // namespace attnlab::nn
