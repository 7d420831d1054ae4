#include "attnlab/nn/adamw.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {

template <class T>
AdamW<T>::AdamW(std::size_t num_params, const AdamWOptions& options)
    : o_(options), m_(num_params, T(0)), v_(num_params, T(0)) {
  if (!(o_.lr >= 0.0) || !(o_.beta1 >= 0.0 && o_.beta1 < 1.0) ||
      !(o_.beta2 >= 0.0 && o_.beta2 < 1.0) || !(o_.eps > 0.0) || !(o_.weight_decay >= 0.0)) {
    throw UsageError(
        str_cat("AdamW: need lr >= 0, 0 <= beta1, beta2 < 1, eps > 0, weight_decay "
                ">= 0 (got lr=",
                o_.lr, " beta1=", o_.beta1, " beta2=", o_.beta2, " eps=", o_.eps,
                " weight_decay=", o_.weight_decay, ")"));
  }
}

template <class T>
void AdamW<T>::add_group(const ParamGroup& g) {
  if (g.offset + g.size > m_.size()) {
    throw UsageError(str_cat("AdamW: group '", g.name, "' [", g.offset, ", ", g.offset + g.size,
                             ") runs past the ", m_.size(), " parameters"));
  }
  for (const auto& o : groups_) {
    if (g.offset < o.offset + o.size && o.offset < g.offset + g.size) {
      throw UsageError(str_cat("AdamW: group '", g.name, "' overlaps group '", o.name, "'"));
    }
  }
  groups_.push_back(g);
}

template <class T>
void AdamW<T>::step(T* params, const T* grads, double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
  const T b1 = static_cast<T>(o_.beta1), b2 = static_cast<T>(o_.beta2);
  const T step_size = static_cast<T>(lr / bc1);
  const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
  const T eps = static_cast<T>(o_.eps);
  for (const ParamGroup& g : groups_) {
    if (g.frozen) continue;
    const T shrink = static_cast<T>(1.0 - lr * (g.decay ? o_.weight_decay : 0.0));
    T* p = params + g.offset;
    const T* gr = grads + g.offset;
    T* m = m_.data() + g.offset;
    T* v = v_.data() + g.offset;
    const auto n = static_cast<Index>(g.size);
#pragma omp parallel for simd schedule(static) if (n >= (1 << 16))
    for (Index i = 0; i < n; ++i) {
      m[i] = b1 * m[i] + (T(1) - b1) * gr[i];
      v[i] = b2 * v[i] + (T(1) - b2) * gr[i] * gr[i];
      p[i] = p[i] * shrink - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
    }
    if (g.nonnegative)
      for (Index i = 0; i < n; ++i) p[i] = std::max(p[i], T(0));
  }
}

template <class T>
void AdamW<T>::restore(std::int64_t steps, std::vector<T> m, std::vector<T> v) {
  if (m.size() != m_.size() || v.size() != v_.size() || steps < 0) {
    throw UsageError(str_cat("AdamW: restore needs ", m_.size(), " moments and steps >= 0 (got ",
                             m.size(), ", ", v.size(), ", steps ", steps, ")"));
  }
  std::copy(m.begin(), m.end(), m_.begin());
  std::copy(v.begin(), v.end(), v_.begin());
  t_ = steps;
}

double cosine_lr(const CosineSchedule& s, std::int64_t t) {
  if (s.warmup > 0 && t <= s.warmup) {
    return s.lr * static_cast<double>(t) / static_cast<double>(s.warmup);
  }
  if (t >= s.total || s.total <= s.warmup) return s.min_lr;
  const double progress =
      static_cast<double>(t - s.warmup) / static_cast<double>(s.total - s.warmup);
  return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1.0 + std::cos(std::numbers::pi * progress));
}

template <class T>
double clip_grad_norm(T* g, std::size_t n, double max_norm) {
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  const double norm = std::sqrt(ss);
  if (max_norm > 0.0 && norm > max_norm) {
    const auto scale = static_cast<T>(max_norm / norm);
    for (std::size_t i = 0; i < n; ++i) g[i] *= scale;
  }
  return norm;
}

template class AdamW<float>;
template class AdamW<double>;
template double clip_grad_norm<float>(float*, std::size_t, double);
template double clip_grad_norm<double>(double*, std::size_t, double);

}  // namespace attnlab::nn
