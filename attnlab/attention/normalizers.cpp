#include "attnlab/attention/normalizers.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "attnlab/core/error.hpp"

namespace attnlab::attention {
namespace {

template <class T>
bool is_masked(T x) {
  return x == -std::numeric_limits<T>::infinity();
}

template <class T>
void softmax_row(std::span<const T> z, std::span<T> p) {
  T mx = -std::numeric_limits<T>::infinity();
  for (T x : z) mx = std::max(mx, x);
  if (is_masked(mx)) {  // no visible key
    std::fill(p.begin(), p.end(), T(0));
    return;
  }
  // Accumulate in double even for float rows: the sum of up to 1e6 terms stays accurate.
  double sum = 0.0;
  for (std::size_t j = 0; j < z.size(); ++j) {
    const T e = is_masked(z[j]) ? T(0) : std::exp(z[j] - mx);
    p[j] = e;
    sum += static_cast<double>(e);
  }
  const T inv = static_cast<T>(1.0 / sum);
  for (auto& x : p) x *= inv;
}

// Visible entries of z sorted in decreasing order (values only).
template <class T>
std::vector<T> sorted_visible_desc(std::span<const T> z) {
  std::vector<T> s;
  s.reserve(z.size());
  for (T x : z)
    if (!is_masked(x)) s.push_back(x);
  std::sort(s.begin(), s.end(), std::greater<T>());
  return s;
}

template <class T>
void sparsemax_row(std::span<const T> z, std::span<T> p) {
  const std::vector<T> s = sorted_visible_desc(z);
  if (s.empty()) {
    std::fill(p.begin(), p.end(), T(0));
    return;
  }
  // Support size k = max{k : 1 + k s_k > Σ_{j≤k} s_j}; τ = (Σ_{j≤k} s_j − 1) / k.
  double cumsum = 0.0, tau = 0.0;
  for (std::size_t k = 1; k <= s.size(); ++k) {
    cumsum += static_cast<double>(s[k - 1]);
    if (1.0 + static_cast<double>(k) * static_cast<double>(s[k - 1]) > cumsum) {
      tau = (cumsum - 1.0) / static_cast<double>(k);
    }
  }
  for (std::size_t j = 0; j < z.size(); ++j) {
    p[j] = is_masked(z[j]) ? T(0) : static_cast<T>(std::max(0.0, static_cast<double>(z[j]) - tau));
  }
}

template <class T>
void entmax15_row(std::span<const T> z, std::span<T> p) {
  std::vector<T> s = sorted_visible_desc(z);
  if (s.empty()) {
    std::fill(p.begin(), p.end(), T(0));
    return;
  }
  // Work on y = z/2 shifted by its max (shift-invariant, keeps the squares small).
  const double top = static_cast<double>(s[0]) / 2.0;
  // τ_k = mean_k − sqrt(max(0, (1 − k·var_k) / k)); the support is the number of k with
  // τ_k ≤ y_k (a prefix of the sorted order), and τ* = τ at the support size.
  double sum = 0.0, sumsq = 0.0;
  std::vector<double> taus(s.size());
  std::size_t support = 0;
  for (std::size_t k = 1; k <= s.size(); ++k) {
    const double y = static_cast<double>(s[k - 1]) / 2.0 - top;
    sum += y;
    sumsq += y * y;
    const double kk = static_cast<double>(k);
    const double mean = sum / kk;
    const double var = sumsq / kk - mean * mean;
    const double delta = std::max(0.0, (1.0 - kk * var) / kk);
    taus[k - 1] = mean - std::sqrt(delta);
    if (taus[k - 1] <= y) ++support;
  }
  const double tau = taus[std::max<std::size_t>(support, 1) - 1];
  for (std::size_t j = 0; j < z.size(); ++j) {
    if (is_masked(z[j])) {
      p[j] = T(0);
      continue;
    }
    const double t = std::max(0.0, static_cast<double>(z[j]) / 2.0 - top - tau);
    p[j] = static_cast<T>(t * t);
  }
}

}  // namespace

template <class T>
void normalize_row(Normalizer normalizer, std::span<const T> logits, std::span<T> weights) {
  if (logits.size() != weights.size()) {
    throw Error(
        str_cat("normalize_row: logits has ", logits.size(), " entries, weights ", weights.size()));
  }
  switch (normalizer) {
    case Normalizer::softmax:
    case Normalizer::ssmax:
      softmax_row(logits, weights);
      return;
    case Normalizer::sparsemax:
      sparsemax_row(logits, weights);
      return;
    case Normalizer::entmax15:
      entmax15_row(logits, weights);
      return;
    case Normalizer::none:
      for (std::size_t j = 0; j < logits.size(); ++j)
        weights[j] = is_masked(logits[j]) ? T(0) : logits[j];
      return;
  }
}

template <class T>
void normalize_row_backward(Normalizer normalizer, std::span<const T> logits,
                            std::span<const T> weights, std::span<const T> dweights,
                            std::span<T> dlogits) {
  const std::size_t m = logits.size();
  switch (normalizer) {
    case Normalizer::softmax:
    case Normalizer::ssmax: {
      double dot = 0.0;
      for (std::size_t j = 0; j < m; ++j) dot += static_cast<double>(weights[j]) * dweights[j];
      for (std::size_t j = 0; j < m; ++j)
        dlogits[j] = static_cast<T>(weights[j] * (dweights[j] - dot));
      return;
    }
    case Normalizer::sparsemax: {
      double sum = 0.0;
      std::size_t support = 0;
      for (std::size_t j = 0; j < m; ++j)
        if (weights[j] > 0) {
          sum += dweights[j];
          ++support;
        }
      const double mean = support ? sum / static_cast<double>(support) : 0.0;
      for (std::size_t j = 0; j < m; ++j)
        dlogits[j] = weights[j] > 0 ? static_cast<T>(dweights[j] - mean) : T(0);
      return;
    }
    case Normalizer::entmax15: {
      double ssum = 0.0, sdot = 0.0;
      for (std::size_t j = 0; j < m; ++j) {
        const double s = std::sqrt(static_cast<double>(weights[j]));
        ssum += s;
        sdot += s * dweights[j];
      }
      const double ratio = ssum > 0 ? sdot / ssum : 0.0;
      for (std::size_t j = 0; j < m; ++j) {
        const double s = std::sqrt(static_cast<double>(weights[j]));
        dlogits[j] = static_cast<T>(s * dweights[j] - s * ratio);
      }
      return;
    }
    case Normalizer::none:
      for (std::size_t j = 0; j < m; ++j) dlogits[j] = is_masked(logits[j]) ? T(0) : dweights[j];
      return;
  }
}

template <class T>
Matrix<T> normalizer_jacobian(Normalizer normalizer, std::span<const T> logits) {
  const auto m = static_cast<Index>(logits.size());
  std::vector<T> w(logits.size()), e(logits.size(), T(0)), col(logits.size());
  normalize_row<T>(normalizer, logits, w);
  Matrix<T> jac(m, m);
  // J is symmetric for every normalizer here, so row b of J = vjp with e_b.
  for (Index b = 0; b < m; ++b) {
    e[b] = T(1);
    normalize_row_backward<T>(normalizer, logits, w, e, col);
    for (Index a = 0; a < m; ++a) jac(b, a) = col[a];
    e[b] = T(0);
  }
  return jac;
}

template void normalize_row<float>(Normalizer, std::span<const float>, std::span<float>);
template void normalize_row<double>(Normalizer, std::span<const double>, std::span<double>);
template void normalize_row_backward<float>(Normalizer, std::span<const float>,
                                            std::span<const float>, std::span<const float>,
                                            std::span<float>);
template void normalize_row_backward<double>(Normalizer, std::span<const double>,
                                             std::span<const double>, std::span<const double>,
                                             std::span<double>);
template Matrix<float> normalizer_jacobian<float>(Normalizer, std::span<const float>);
template Matrix<double> normalizer_jacobian<double>(Normalizer, std::span<const double>);

}  // namespace attnlab::attention
