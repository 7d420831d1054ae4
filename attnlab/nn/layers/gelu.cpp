#include "attnlab/nn/layers/gelu.hpp"

#include <Eigen/Core>
#include <cmath>
#include <numbers>

namespace attnlab::nn {
namespace {

constexpr Index kChunk = 4096;  // elements per parallel work item
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kCubic = 0.044715;

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

}  // namespace

template <class T>
void gelu_forward(GeluKind kind, const T* x, Index count, T* y) {
  const Index chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (Index ch = 0; ch < chunks; ++ch) {
    const Index i0 = ch * kChunk, len = std::min(kChunk, count - i0);
    ConstArrayMap<T> a(x + i0, len);
    ArrayMap<T> out(y + i0, len);
    if (kind == GeluKind::tanh) {
      const T k0 = static_cast<T>(kSqrt2OverPi), k1 = static_cast<T>(kCubic);
      out = T(0.5) * a * (T(1) + (k0 * (a + k1 * a.cube())).tanh());
    } else {
      for (Index i = 0; i < len; ++i) {
        const T v = a[i];
        out[i] = T(0.5) * v * (T(1) + std::erf(v * static_cast<T>(std::numbers::sqrt2 / 2)));
      }
    }
  }
}

template <class T>
void gelu_backward(GeluKind kind, const T* x, const T* dy, Index count, T* dx) {
  const Index chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (Index ch = 0; ch < chunks; ++ch) {
    const Index i0 = ch * kChunk, len = std::min(kChunk, count - i0);
    ConstArrayMap<T> a(x + i0, len);
    ConstArrayMap<T> g(dy + i0, len);
    ArrayMap<T> out(dx + i0, len);
    if (kind == GeluKind::tanh) {
      const T k0 = static_cast<T>(kSqrt2OverPi), k1 = static_cast<T>(kCubic);
      const auto t = (k0 * (a + k1 * a.cube())).tanh().eval();
      out = g * (T(0.5) * (T(1) + t) +
                 T(0.5) * a * (T(1) - t.square()) * k0 * (T(1) + T(3) * k1 * a.square()));
    } else {
      const T inv_sqrt2 = static_cast<T>(std::numbers::sqrt2 / 2);
      const T inv_sqrt2pi = static_cast<T>(0.3989422804014327);
      for (Index i = 0; i < len; ++i) {
        const T v = a[i];
        const T cdf = T(0.5) * (T(1) + std::erf(v * inv_sqrt2));
        out[i] = g[i] * (cdf + v * inv_sqrt2pi * std::exp(T(-0.5) * v * v));
      }
    }
  }
}

template void gelu_forward<float>(GeluKind, const float*, Index, float*);
template void gelu_forward<double>(GeluKind, const double*, Index, double*);
template void gelu_backward<float>(GeluKind, const float*, const float*, Index, float*);
template void gelu_backward<double>(GeluKind, const double*, const double*, Index, double*);

}  // namespace attnlab::nn
