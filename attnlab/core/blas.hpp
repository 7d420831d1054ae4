// attnlab/core/blas.hpp — row-major GEMM on raw pointers, dispatched to OpenBLAS.
//
// The one entry point to level-3 BLAS. Callers describe row-major matrices (leading dimension =
// row stride in elements); the wrapper forwards to cblas_{s,d}gemm with CblasRowMajor. Threading
// follows set_num_threads(); inside an OpenMP parallel region OpenBLAS (OpenMP build) runs
// single-threaded, so per-block calls from worker threads are safe.
//
//   C[m, n] = alpha * op(A) * op(B) + beta * C,   op(A): [m, k], op(B): [k, n]
//
// Usage:
//   gemm(Trans::no, Trans::yes, N, M, d, 1.0f, q, d, k, d, 0.0f, s, M);  // S = Q Kᵀ
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab {

enum class Trans { no, yes };

void gemm(Trans trans_a, Trans trans_b, Index m, Index n, Index k, float alpha, const float* a,
          Index lda, const float* b, Index ldb, float beta, float* c, Index ldc);
void gemm(Trans trans_a, Trans trans_b, Index m, Index n, Index k, double alpha, const double* a,
          Index lda, const double* b, Index ldb, double beta, double* c, Index ldc);

}  // namespace attnlab
