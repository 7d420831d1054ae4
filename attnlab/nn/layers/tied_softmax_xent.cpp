#include "attnlab/nn/layers/tied_softmax_xent.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::nn {

template <class T>
double tied_softmax_xent(const T* h, Index n, Index C, const T* E, Index V,
                         const std::int32_t* targets, double grad_scale, T* dh, T* dE,
                         std::vector<double>* row_nll, std::vector<std::uint8_t>* row_hit) {
  const bool grads = dh != nullptr;
  if (grads != (dE != nullptr)) {
    throw UsageError("tied_softmax_xent: dh and dE must be given together");
  }
  if (row_nll)
    row_nll->assign(static_cast<std::size_t>(n), std::numeric_limits<double>::quiet_NaN());
  if (row_hit) row_hit->assign(static_cast<std::size_t>(n), 0);
  const Index chunk =
      std::max<Index>(1, std::min<Index>(n, (Index{1} << 20) / std::max<Index>(1, V)));
  AlignedVector<T> z(static_cast<std::size_t>(chunk * V));
  std::vector<double> nll(static_cast<std::size_t>(chunk));
  double total = 0.0;
  for (Index r0 = 0; r0 < n; r0 += chunk) {
    const Index rows = std::min(chunk, n - r0);
    gemm(Trans::no, Trans::yes, rows, V, C, T(1), h + r0 * C, C, E, C, T(0), z.data(), V);
#pragma omp parallel for schedule(static) if (rows * V >= (1 << 15))
    for (Index r = 0; r < rows; ++r) {
      T* zr = z.data() + r * V;
      const std::int32_t target = targets[r0 + r];
      if (target < 0) {
        nll[static_cast<std::size_t>(r)] = std::numeric_limits<double>::quiet_NaN();
        if (grads) std::fill(zr, zr + V, T(0));
        continue;
      }
      T mx = -std::numeric_limits<T>::infinity();
      for (Index v = 0; v < V; ++v) mx = std::max(mx, zr[v]);
      const T z_target = zr[target];
      if (row_hit) (*row_hit)[static_cast<std::size_t>(r0 + r)] = z_target >= mx ? 1 : 0;
      // One exp per logit in T (relative error ~1 ulp of T), summed in double; with gradients
      // the exponentials are kept in z and scaled to softmax · grad_scale in a second pass.
      double sum = 0.0;
      if (grads) {
        for (Index v = 0; v < V; ++v) {
          zr[v] = std::exp(zr[v] - mx);
          sum += static_cast<double>(zr[v]);
        }
      } else {
        for (Index v = 0; v < V; ++v) sum += static_cast<double>(std::exp(zr[v] - mx));
      }
      const double lse = static_cast<double>(mx) + std::log(sum);
      nll[static_cast<std::size_t>(r)] = lse - static_cast<double>(z_target);
      if (grads) {
        const T scale = static_cast<T>(grad_scale / sum);
        for (Index v = 0; v < V; ++v) zr[v] *= scale;
        zr[target] -= static_cast<T>(grad_scale);
      }
    }
    for (Index r = 0; r < rows; ++r) {
      const double l = nll[static_cast<std::size_t>(r)];
      if (!std::isnan(l)) total += l;
      if (row_nll) (*row_nll)[static_cast<std::size_t>(r0 + r)] = l;
    }
    if (grads) {
      gemm(Trans::no, Trans::no, rows, C, V, T(1), z.data(), V, E, C, T(0), dh + r0 * C, C);
      gemm(Trans::yes, Trans::no, V, C, rows, T(1), z.data(), V, h + r0 * C, C, T(1), dE, C);
    }
  }
  return total;
}

template double tied_softmax_xent<float>(const float*, Index, Index, const float*, Index,
                                         const std::int32_t*, double, float*, float*,
                                         std::vector<double>*, std::vector<std::uint8_t>*);
template double tied_softmax_xent<double>(const double*, Index, Index, const double*, Index,
                                          const std::int32_t*, double, double*, double*,
                                          std::vector<double>*, std::vector<std::uint8_t>*);

}  // namespace attnlab::nn
