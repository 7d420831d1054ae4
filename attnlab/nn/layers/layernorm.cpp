#include "attnlab/nn/layers/layernorm.hpp"

#include <omp.h>

#include <cmath>
#include <vector>

namespace attnlab::nn {

template <class T>
void layernorm_forward(const T* x, Index n, Index C, const T* w, const T* b, double eps, T* y,
                       T* mean, T* rstd) {
#pragma omp parallel for schedule(static) if (n * C >= (1 << 15))
  for (Index r = 0; r < n; ++r) {
    const T* xr = x + r * C;
    double mu = 0.0;
    for (Index c = 0; c < C; ++c) mu += xr[c];
    mu /= static_cast<double>(C);
    double var = 0.0;
    for (Index c = 0; c < C; ++c) {
      const double dx = xr[c] - mu;
      var += dx * dx;
    }
    var /= static_cast<double>(C);
    const auto rs = static_cast<T>(1.0 / std::sqrt(var + eps));
    const auto m = static_cast<T>(mu);
    if (mean) mean[r] = m;
    if (rstd) rstd[r] = rs;
    T* yr = y + r * C;
#pragma omp simd
    for (Index c = 0; c < C; ++c) yr[c] = (xr[c] - m) * rs * w[c] + b[c];
  }
}

template <class T>
void layernorm_backward(const T* x, Index n, Index C, const T* w, const T* mean, const T* rstd,
                        const T* dy, T* dx, T* dw, T* db) {
  const bool parallel = n * C >= (1 << 15);
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<std::vector<T>> dw_part(static_cast<std::size_t>(threads)),
      db_part(static_cast<std::size_t>(threads));
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int tid = omp_get_thread_num();
    std::vector<T>& pw = dw_part[static_cast<std::size_t>(tid)];
    std::vector<T>& pb = db_part[static_cast<std::size_t>(tid)];
    pw.assign(static_cast<std::size_t>(C), T(0));
    pb.assign(static_cast<std::size_t>(C), T(0));
#pragma omp for schedule(static)
    for (Index r = 0; r < n; ++r) {
      const T* xr = x + r * C;
      const T* gr = dy + r * C;
      const T m = mean[r], rs = rstd[r];
      double sum_g = 0.0, sum_gx = 0.0;
      for (Index c = 0; c < C; ++c) {
        const T xh = (xr[c] - m) * rs;
        const T g = gr[c] * w[c];
        sum_g += g;
        sum_gx += static_cast<double>(g) * xh;
        pw[static_cast<std::size_t>(c)] += gr[c] * xh;
        pb[static_cast<std::size_t>(c)] += gr[c];
      }
      const auto mg = static_cast<T>(sum_g / static_cast<double>(C));
      const auto mgx = static_cast<T>(sum_gx / static_cast<double>(C));
      T* dr = dx + r * C;
#pragma omp simd
      for (Index c = 0; c < C; ++c) {
        const T xh = (xr[c] - m) * rs;
        dr[c] = rs * (gr[c] * w[c] - mg - xh * mgx);
      }
    }
  }
  for (int t = 0; t < threads; ++t) {
    if (dw_part[static_cast<std::size_t>(t)].empty()) continue;  // team smaller than asked
    for (Index c = 0; c < C; ++c) {
      dw[c] += dw_part[static_cast<std::size_t>(t)][static_cast<std::size_t>(c)];
      db[c] += db_part[static_cast<std::size_t>(t)][static_cast<std::size_t>(c)];
    }
  }
}

template void layernorm_forward<float>(const float*, Index, Index, const float*, const float*,
                                       double, float*, float*, float*);
template void layernorm_forward<double>(const double*, Index, Index, const double*, const double*,
                                        double, double*, double*, double*);
template void layernorm_backward<float>(const float*, Index, Index, const float*, const float*,
                                        const float*, const float*, float*, float*, float*);
template void layernorm_backward<double>(const double*, Index, Index, const double*, const double*,
                                         const double*, const double*, double*, double*, double*);

}  // namespace attnlab::nn
