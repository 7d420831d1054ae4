// attnlab/attention/simd.hpp — the few vector operations the fused kernels need, per ISA.
//
// Three policies with one interface, picked at compile time by what the compiler targets:
//   Avx512  16 float lanes  (__AVX512F__)        the fast path on the project machines
//   Avx2     8 float lanes  (__AVX2__ && __FMA__) the fallback named by issue #3
//   Scalar   1 lane                               portable reference for any CPU
// Kernels are templates over a policy, so every policy the build can run is instantiated and
// tested against the fp64 reference (tests/attention/fused_attention_test.cpp).
//
// exp2 is a range-reduced polynomial: x = n + f, n = round(x), |f| <= 1/2, 2^f by a degree-6
// fit on Chebyshev nodes (max relative error 2.2e-9 in exact arithmetic, about 1e-7 = 1 ulp
// when evaluated in fp32), 2^n applied through the exponent. Inputs in [-125, 128) are accurate;
// inputs in (-127, -125) give a tiny value or 0 depending on the ISA (irrelevant next to a row
// maximum of 2^0); inputs <= -127 (-inf included) give exactly 0, so masked logits need no
// special case.
//
// Usage:
//   using S = simd::Avx512;
//   S::V x = S::load(p);  S::store(q, S::exp2(S::sub(x, S::set1(m))));
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace attnlab::attention::simd {

// 2^f ≈ 1 + f(c1 + f(c2 + ...)) on |f| <= 1/2 (coefficients fitted for attnlab; see header).
inline constexpr float kExp2C1 = 0.6931472055770995f;
inline constexpr float kExp2C2 = 0.24022648462281054f;
inline constexpr float kExp2C3 = 0.05550329035153728f;
inline constexpr float kExp2C4 = 0.009618373251366975f;
inline constexpr float kExp2C5 = 0.0013399848290638274f;
inline constexpr float kExp2C6 = 0.00015370704812945002f;
inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#if defined(__AVX512F__)
struct Avx512 {
  static constexpr int kLanes = 16;
  // Vectors per register-tile row (fused_tiles.hpp): 6 x 4 accumulators + 4 loads + 1 broadcast
  // of the 32 zmm registers.
  static constexpr int kTileVecs = 4;
  static constexpr const char* kName = "avx512";
  using V = __m512;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V zero() { return _mm512_setzero_ps(); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  // Number of lanes with a > b.
  static int count_gt(V a, V b) { return __builtin_popcount(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  static float reduce_max(V a) { return _mm512_reduce_max_ps(a); }
  static float reduce_add(V a) { return _mm512_reduce_add_ps(a); }
  // 0, 1, ..., 15 as floats.
  static V iota() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  // Lanes where lo <= x < hi keep a, others become b.
  static V select_in_range(V x, V lo, V hi, V a, V b) {
    const __mmask16 m =
        _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(x, hi, _CMP_LT_OQ);
    return _mm512_mask_blend_ps(m, b, a);
  }
  // Lanes where x >= t keep a, others become b.
  static V select_ge(V x, V t, V a, V b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, t, _CMP_GE_OQ), b, a);
  }
  // Number of lanes with x >= t.
  static int count_ge(V x, V t) { return __builtin_popcount(_mm512_cmp_ps_mask(x, t, _CMP_GE_OQ)); }
  // Stores the lanes with x >= t contiguously at dst (room for kLanes floats); returns how many.
  static int compress_ge(float* dst, V x, V t) {
    // Compress in a register, then a plain store: the memory form of vcompressps is
    // microcoded and very slow on AMD Zen 4/5. dst has room for kLanes floats.
    const __mmask16 m = _mm512_cmp_ps_mask(x, t, _CMP_GE_OQ);
    _mm512_storeu_ps(dst, _mm512_maskz_compress_ps(m, x));
    return __builtin_popcount(m);
  }
  static V exp2(V x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.0f));
    const V n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const V f = _mm512_sub_ps(x, n);
    V p = _mm512_set1_ps(kExp2C6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    const V r = _mm512_scalef_ps(p, n);
    // 2^-127 would be a denormal; flush everything at the clamp to exact 0.
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.5f), _CMP_GT_OQ), r);
  }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2 {
  static constexpr int kLanes = 8;
  // 6 x 2 accumulators + 2 loads + 1 broadcast = 15 of the 16 ymm registers (6 x 4 would spill).
  static constexpr int kTileVecs = 2;
  static constexpr const char* kName = "avx2";
  using V = __m256;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V zero() { return _mm256_setzero_ps(); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static int count_gt(V a, V b) {
    return __builtin_popcount(_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ)));
  }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static float reduce_max(V a) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static float reduce_add(V a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static V iota() { return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7); }
  static V select_in_range(V x, V lo, V hi, V a, V b) {
    const V m = _mm256_and_ps(_mm256_cmp_ps(x, lo, _CMP_GE_OQ), _mm256_cmp_ps(x, hi, _CMP_LT_OQ));
    return _mm256_blendv_ps(b, a, m);
  }
  static V select_ge(V x, V t, V a, V b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, t, _CMP_GE_OQ));
  }
  static int count_ge(V x, V t) {
    return __builtin_popcount(_mm256_movemask_ps(_mm256_cmp_ps(x, t, _CMP_GE_OQ)));
  }
  static int compress_ge(float* dst, V x, V t) {
    int m = _mm256_movemask_ps(_mm256_cmp_ps(x, t, _CMP_GE_OQ));
    if (m == 0) return 0;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x);
    int n = 0;
    while (m) {
      dst[n++] = lanes[__builtin_ctz(m)];
      m &= m - 1;
    }
    return n;
  }
  static V exp2(V x) {
    // 2^x = p(f) · 2^(n−1) · 2 keeps the biased exponent n + 126 in [1, 254] for n in [−125, 128].
    const V keep = _mm256_cmp_ps(x, _mm256_set1_ps(-125.5f), _CMP_GE_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-125.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(128.0f));
    const V n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const V f = _mm256_sub_ps(x, n);
    V p = _mm256_set1_ps(kExp2C6);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
    const V r = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(2.0f));
    return _mm256_and_ps(r, keep);
  }
};
#endif

struct Scalar {
  static constexpr int kLanes = 1;
  static constexpr int kTileVecs = 4;
  static constexpr const char* kName = "scalar";
  using V = float;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V set1(float x) { return x; }
  static V zero() { return 0.0f; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V fma(V a, V b, V c) { return std::fma(a, b, c); }
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
  static int count_gt(V a, V b) { return a > b ? 1 : 0; }
  static V abs(V a) { return std::fabs(a); }
  static float reduce_max(V a) { return a; }
  static float reduce_add(V a) { return a; }
  static V iota() { return 0.0f; }
  static V select_in_range(V x, V lo, V hi, V a, V b) { return (x >= lo && x < hi) ? a : b; }
  static V select_ge(V x, V t, V a, V b) { return x >= t ? a : b; }
  static int count_ge(V x, V t) { return x >= t ? 1 : 0; }
  static int compress_ge(float* dst, V x, V t) {
    dst[0] = x;
    return x >= t ? 1 : 0;
  }
  static V exp2(V x) { return x > -126.5f ? std::exp2(x) : 0.0f; }
};

}  // namespace attnlab::attention::simd
