// attnlab/io/float16.hpp — IEEE binary16 (F16) and bfloat16 (BF16) <-> binary32 conversions.
//
// Checkpoints store weights as F16 or BF16; attnlab computes in fp32. Widening is exact for both
// formats (every F16 and BF16 value is a float). Narrowing rounds to nearest, ties to even, like
// hardware converters: overflow gives ±inf, NaN stays NaN (quiet, sign kept), F16 subnormals are
// produced and read exactly. Bit patterns are little-endian uint16 values as stored in files.
//
// Invariants (tested exhaustively over all 65536 patterns): f32_to_f16(f16_to_f32(h)) == h and
// f32_to_bf16(bf16_to_f32(b)) == b for every non-NaN pattern.
//
// Usage:
//   float x = f16_to_f32(0x3c00);        // 1.0f
//   std::uint16_t b = f32_to_bf16(3.14f);
#pragma once

#include <bit>
#include <cstdint>

namespace attnlab::io {

inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;  // ±0
    } else {        // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<std::uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;  // inf or NaN (payload kept)
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

inline std::uint16_t f32_to_f16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t exp = (x >> 23) & 0xffu;
  const std::uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) {  // inf / NaN
    if (mant == 0) return sign | 0x7c00u;
    return static_cast<std::uint16_t>(sign | 0x7e00u | (mant >> 13));
  }
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00u;  // overflow -> inf
  if (e <= 0) {                          // subnormal or zero in F16
    if (e < -10) return sign;            // below half the smallest subnormal -> ±0
    const std::uint32_t m = mant | 0x800000u;
    const int shift = 14 - e;  // 24-bit significand down to the subnormal grid
    std::uint32_t half = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = static_cast<std::uint32_t>(e) << 10 | mant >> 13;
  const std::uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into inf: correct
  return static_cast<std::uint16_t>(sign | half);
}

inline float bf16_to_f32(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

inline std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0) {
    return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN, sign kept
  }
  const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>((x + rounding) >> 16);
}

}  // namespace attnlab::io
