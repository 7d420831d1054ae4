#include "attnlab/attention/reference_attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnlab/attention/normalizers.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::attention {
namespace {
constexpr double kMasked = -std::numeric_limits<double>::infinity();
}

void check_attention_shapes(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v) {
  if (q.dim0() != k.dim0() || q.dim0() != v.dim0()) {
    throw UsageError(str_cat("attention: head counts differ: q has ", q.dim0(), ", k ", k.dim0(),
                             ", v ", v.dim0()));
  }
  if (q.dim2() != k.dim2()) {
    throw UsageError(str_cat("attention: q and k head dims differ: ", q.dim2(), " vs ", k.dim2()));
  }
  if (k.dim1() != v.dim1()) {
    throw UsageError(str_cat("attention: k has ", k.dim1(), " keys but v has ", v.dim1(), " rows"));
  }
}

void apply_topk_row(std::span<double> logits, Index k) {
  if (k <= 0) return;
  std::vector<Index> idx;
  idx.reserve(logits.size());
  for (std::size_t j = 0; j < logits.size(); ++j)
    if (logits[j] != kMasked) idx.push_back(static_cast<Index>(j));
  if (static_cast<Index>(idx.size()) <= k) return;
  std::nth_element(idx.begin(), idx.begin() + k, idx.end(), [&](Index a, Index b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (auto it = idx.begin() + k; it != idx.end(); ++it) logits[*it] = kMasked;
}

Tensor3d attention_logits_reference(const Tensor3d& q, const Tensor3d& k,
                                    const AttentionSpec& spec) {
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2();
  const ScoreMods mods(spec, H, N, M, d);
  Tensor3d logits(H, N, M);
#pragma omp parallel for schedule(static)
  for (Index row = 0; row < H * N; ++row) {
    const Index h = row / N, i = row % N;
    const double c = mods.logit_scale(i);
    double* out = &logits(h, i, 0);
    for (Index j = 0; j < M; ++j) {
      if (!mods.visible(i, j)) {
        out[j] = kMasked;
        continue;
      }
      double dot = 0.0;
      for (Index t = 0; t < d; ++t) dot += q(h, i, t) * k(h, j, t);
      out[j] = c * dot + mods.bias(h, i, j);
    }
    apply_topk_row(std::span<double>(out, static_cast<std::size_t>(M)), mods.topk());
  }
  return logits;
}

ReferenceForward attention_forward_reference(const Tensor3d& q, const Tensor3d& k,
                                             const Tensor3d& v, const AttentionSpec& spec) {
  check_attention_shapes(q, k, v);
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), dv = v.dim2();
  ReferenceForward f;
  f.logits = attention_logits_reference(q, k, spec);
  f.weights = Tensor3d(H, N, M);
  f.out = Tensor3d(H, N, dv);
#pragma omp parallel for schedule(static)
  for (Index row = 0; row < H * N; ++row) {
    const Index h = row / N, i = row % N;
    const auto m = static_cast<std::size_t>(M);
    normalize_row<double>(spec.normalizer, std::span<const double>(&f.logits(h, i, 0), m),
                          std::span<double>(&f.weights(h, i, 0), m));
  }
  for (Index h = 0; h < H; ++h) f.out.slice(h).noalias() = f.weights.slice(h) * v.slice(h);
  return f;
}

AttentionGrads attention_backward_reference(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v,
                                            const AttentionSpec& spec, const Tensor3d& dout) {
  check_attention_shapes(q, k, v);
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2(), dv = v.dim2();
  if (dout.dim0() != H || dout.dim1() != N || dout.dim2() != dv) {
    throw UsageError(str_cat("attention backward: dout is [", dout.dim0(), ", ", dout.dim1(), ", ",
                             dout.dim2(), "], expected [", H, ", ", N, ", ", dv, "]"));
  }
  const ScoreMods mods(spec, H, N, M, d);
  const ReferenceForward f = attention_forward_reference(q, k, v, spec);
  AttentionGrads g{Tensor3d(H, N, d), Tensor3d(H, M, d), Tensor3d(H, M, dv),
                   std::vector<double>(static_cast<std::size_t>(H), 0.0)};
  for (Index h = 0; h < H; ++h) {
    const MatrixD dweights = dout.slice(h) * v.slice(h).transpose();  // [N, M]
    MatrixD dlogits(N, M);
    for (Index i = 0; i < N; ++i) {
      const auto m = static_cast<std::size_t>(M);
      normalize_row_backward<double>(spec.normalizer,
                                     std::span<const double>(&f.logits(h, i, 0), m),
                                     std::span<const double>(&f.weights(h, i, 0), m),
                                     std::span<const double>(dweights.row(i).data(), m),
                                     std::span<double>(dlogits.row(i).data(), m));
    }
    double dslope = 0.0;
    MatrixD dscores = dlogits;  // [N, M] gradient w.r.t. q·k
    for (Index i = 0; i < N; ++i) {
      const double c = mods.logit_scale(i);
      for (Index j = 0; j < M; ++j) {
        const Index delta = mods.query_position(i) - j;
        dslope -= dlogits(i, j) * static_cast<double>(delta < 0 ? -delta : delta);
        dscores(i, j) *= c;
      }
    }
    g.dslope[h] = dslope;
    g.dq.slice(h).noalias() = dscores * k.slice(h);
    g.dk.slice(h).noalias() = dscores.transpose() * q.slice(h);
    g.dv.slice(h).noalias() = f.weights.slice(h).transpose() * dout.slice(h);
  }
  return g;
}

MatrixD log_sum_exp_rows(const Tensor3d& logits) {
  const Index H = logits.dim0(), N = logits.dim1(), M = logits.dim2();
  MatrixD lse = MatrixD::Constant(H, N, -std::numeric_limits<double>::infinity());
  for (Index h = 0; h < H; ++h)
    for (Index i = 0; i < N; ++i) {
      double mx = -std::numeric_limits<double>::infinity();
      for (Index j = 0; j < M; ++j) mx = std::max(mx, logits(h, i, j));
      if (std::isinf(mx)) continue;
      double sum = 0.0;
      for (Index j = 0; j < M; ++j) sum += std::exp(logits(h, i, j) - mx);
      lse(h, i) = mx + std::log(sum);
    }
  return lse;
}

}  // namespace attnlab::attention
