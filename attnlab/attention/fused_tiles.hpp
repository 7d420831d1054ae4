// attnlab/attention/fused_tiles.hpp — register-tiled micro-GEMMs for the fused attention kernels.
//
// Internal header of fused_attention.cpp (not part of the public API). Two shapes cover the whole
// forward and backward pass:
//
//   gemm_abt     C[rows, cols]  = A[rows, depth] · Bt[depth, cols]    S = Q Kᵀ, dP = dO Vᵀ
//   gemm_ab_acc  C[rows, cols] += P[rows, depth] · B[depth, cols]     O += P V, dQ += dS K
//   gemm_atb_acc C[rows, cols] += A[depth, rows]ᵀ · B[depth, cols]  dV += Pᵀ dO, dK += dSᵀ Q
//
// Both keep an R × C tile of vector accumulators in registers (R ≤ 6 rows, C ≤ S::kTileVecs
// vectors: 6 × 4 = 24 accumulators of the 32 AVX-512 registers, 6 × 2 = 12 of the 16 AVX2
// ones), broadcast one scalar of the left operand per row and load C vectors of the right
// operand per depth step. `cols` must be a multiple of S::kLanes (callers
// pad); all matrices are row-major with explicit leading dimensions (in floats).
//
// The plain triple loop gemm_*_naive beside each is the oracle used by the tests.
#pragma once

#include "attnlab/attention/simd.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::attention::tiles {

inline constexpr int kMaxRows = 6;
inline constexpr int kMaxVecs = 4;

template <class S, int R, int C>
inline void tile_abt(const float* a, Index lda, const float* bt, Index ldb, float* c, Index ldc,
                     Index depth) {
  using V = typename S::V;
  V acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < C; ++v) acc[r][v] = S::zero();
  for (Index t = 0; t < depth; ++t) {
    V b[C];
#pragma GCC unroll 8
    for (int v = 0; v < C; ++v) b[v] = S::load(bt + t * ldb + v * S::kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V ar = S::set1(a[r * lda + t]);
#pragma GCC unroll 8
      for (int v = 0; v < C; ++v) acc[r][v] = S::fma(ar, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < C; ++v) S::store(c + r * ldc + v * S::kLanes, acc[r][v]);
}

// kTransA: the left operand is stored transposed, element (r, j) at p[j * ldp + r] (the R
// broadcasts of one depth step are then R consecutive floats).
template <class S, int R, int C, bool kTransA = false>
inline void tile_ab_acc(const float* p, Index ldp, const float* b, Index ldb, float* c, Index ldc,
                        Index depth) {
  using V = typename S::V;
  V acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < C; ++v) acc[r][v] = S::load(c + r * ldc + v * S::kLanes);
  for (Index j = 0; j < depth; ++j) {
    V bj[C];
#pragma GCC unroll 8
    for (int v = 0; v < C; ++v) bj[v] = S::load(b + j * ldb + v * S::kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V pr = S::set1(kTransA ? p[j * ldp + r] : p[r * ldp + j]);
#pragma GCC unroll 8
      for (int v = 0; v < C; ++v) acc[r][v] = S::fma(pr, bj[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < C; ++v) S::store(c + r * ldc + v * S::kLanes, acc[r][v]);
}

// Calls tile<S, r, c> for runtime r in [1, kMaxRows], c in [1, kMaxVecs].
#define ATTNLAB_TILE_CASES(FN)     \
  switch (r * 8 + c) {             \
    case 1 * 8 + 1:                \
      return FN<S, 1, 1>(args...); \
    case 1 * 8 + 2:                \
      return FN<S, 1, 2>(args...); \
    case 1 * 8 + 3:                \
      return FN<S, 1, 3>(args...); \
    case 1 * 8 + 4:                \
      return FN<S, 1, 4>(args...); \
    case 2 * 8 + 1:                \
      return FN<S, 2, 1>(args...); \
    case 2 * 8 + 2:                \
      return FN<S, 2, 2>(args...); \
    case 2 * 8 + 3:                \
      return FN<S, 2, 3>(args...); \
    case 2 * 8 + 4:                \
      return FN<S, 2, 4>(args...); \
    case 3 * 8 + 1:                \
      return FN<S, 3, 1>(args...); \
    case 3 * 8 + 2:                \
      return FN<S, 3, 2>(args...); \
    case 3 * 8 + 3:                \
      return FN<S, 3, 3>(args...); \
    case 3 * 8 + 4:                \
      return FN<S, 3, 4>(args...); \
    case 4 * 8 + 1:                \
      return FN<S, 4, 1>(args...); \
    case 4 * 8 + 2:                \
      return FN<S, 4, 2>(args...); \
    case 4 * 8 + 3:                \
      return FN<S, 4, 3>(args...); \
    case 4 * 8 + 4:                \
      return FN<S, 4, 4>(args...); \
    case 5 * 8 + 1:                \
      return FN<S, 5, 1>(args...); \
    case 5 * 8 + 2:                \
      return FN<S, 5, 2>(args...); \
    case 5 * 8 + 3:                \
      return FN<S, 5, 3>(args...); \
    case 5 * 8 + 4:                \
      return FN<S, 5, 4>(args...); \
    case 6 * 8 + 1:                \
      return FN<S, 6, 1>(args...); \
    case 6 * 8 + 2:                \
      return FN<S, 6, 2>(args...); \
    case 6 * 8 + 3:                \
      return FN<S, 6, 3>(args...); \
    default:                       \
      return FN<S, 6, 4>(args...); \
  }

template <class S, class... Args>
inline void dispatch_abt(int r, int c, Args... args) {
  ATTNLAB_TILE_CASES(tile_abt)
}
template <class S, class... Args>
inline void dispatch_ab_acc(int r, int c, Args... args) {
  ATTNLAB_TILE_CASES(tile_ab_acc)
}
template <class S, int R, int C>
inline void tile_atb_acc(const float* a, Index lda, const float* b, Index ldb, float* c, Index ldc,
                         Index depth) {
  tile_ab_acc<S, R, C, true>(a, lda, b, ldb, c, ldc, depth);
}
template <class S, class... Args>
inline void dispatch_atb_acc(int r, int c, Args... args) {
  ATTNLAB_TILE_CASES(tile_atb_acc)
}
#undef ATTNLAB_TILE_CASES

// Calls tile(nr, nv, r0, v0) for each register tile of a [rows, cols] output: nr <= kMaxRows
// rows from r0, nv <= S::kTileVecs vectors from column v0 · L (column tiles outer, so one slice
// of the right operand serves every row tile in turn).
template <class S, class Tile>
inline void for_each_tile(Index rows, Index cols, Tile&& tile) {
  static_assert(S::kTileVecs >= 1 && S::kTileVecs <= kMaxVecs);
  const Index vecs = cols / S::kLanes;
  for (Index v0 = 0; v0 < vecs; v0 += S::kTileVecs) {
    const int nv = static_cast<int>(std::min<Index>(S::kTileVecs, vecs - v0));
    for (Index r0 = 0; r0 < rows; r0 += kMaxRows)
      tile(static_cast<int>(std::min<Index>(kMaxRows, rows - r0)), nv, r0, v0 * S::kLanes);
  }
}

// C[rows, cols] = A[rows, depth] · Bt[depth, cols]; cols % S::kLanes == 0.
template <class S>
void gemm_abt(Index rows, Index cols, Index depth, const float* a, Index lda, const float* bt,
              Index ldb, float* c, Index ldc) {
  for_each_tile<S>(rows, cols, [&](int nr, int nv, Index r0, Index c0) {
    dispatch_abt<S>(nr, nv, a + r0 * lda, lda, bt + c0, ldb, c + r0 * ldc + c0, ldc, depth);
  });
}

// C[rows, cols] += P[rows, depth] · B[depth, cols]; cols % S::kLanes == 0.
template <class S>
void gemm_ab_acc(Index rows, Index cols, Index depth, const float* p, Index ldp, const float* b,
                 Index ldb, float* c, Index ldc) {
  for_each_tile<S>(rows, cols, [&](int nr, int nv, Index r0, Index c0) {
    dispatch_ab_acc<S>(nr, nv, p + r0 * ldp, ldp, b + c0, ldb, c + r0 * ldc + c0, ldc, depth);
  });
}

// C[rows, cols] += A[depth, rows]ᵀ · B[depth, cols]; cols % S::kLanes == 0. Replaces an
// explicit transpose of A (the backward's P and dS tiles) by strided broadcasts.
template <class S>
void gemm_atb_acc(Index rows, Index cols, Index depth, const float* a, Index lda, const float* b,
                  Index ldb, float* c, Index ldc) {
  for_each_tile<S>(rows, cols, [&](int nr, int nv, Index r0, Index c0) {
    dispatch_atb_acc<S>(nr, nv, a + r0, lda, b + c0, ldb, c + r0 * ldc + c0, ldc, depth);
  });
}

// Oracles: the same products as plain loops.
inline void gemm_abt_naive(Index rows, Index cols, Index depth, const float* a, Index lda,
                           const float* bt, Index ldb, float* c, Index ldc) {
  for (Index r = 0; r < rows; ++r)
    for (Index j = 0; j < cols; ++j) {
      float s = 0;
      for (Index t = 0; t < depth; ++t) s += a[r * lda + t] * bt[t * ldb + j];
      c[r * ldc + j] = s;
    }
}

inline void gemm_atb_acc_naive(Index rows, Index cols, Index depth, const float* a, Index lda,
                               const float* b, Index ldb, float* c, Index ldc) {
  for (Index r = 0; r < rows; ++r)
    for (Index j = 0; j < cols; ++j) {
      float s = c[r * ldc + j];
      for (Index t = 0; t < depth; ++t) s += a[t * lda + r] * b[t * ldb + j];
      c[r * ldc + j] = s;
    }
}

inline void gemm_ab_acc_naive(Index rows, Index cols, Index depth, const float* p, Index ldp,
                              const float* b, Index ldb, float* c, Index ldc) {
  for (Index r = 0; r < rows; ++r)
    for (Index j = 0; j < cols; ++j) {
      float s = c[r * ldc + j];
      for (Index t = 0; t < depth; ++t) s += p[r * ldp + t] * b[t * ldb + j];
      c[r * ldc + j] = s;
    }
}

}  // namespace attnlab::attention::tiles
