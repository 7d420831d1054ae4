#include "attnlab/analysis/influence/kernel_influence.hpp"

#include <cmath>
#include <limits>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/linalg.hpp"

namespace attnlab::analysis::influence {

std::string_view to_string(InfluenceTarget t) {
  return t == InfluenceTarget::loss ? "loss" : "margin";
}

InfluenceTarget parse_influence_target(std::string_view name) {
  if (name == "loss") return InfluenceTarget::loss;
  if (name == "margin") return InfluenceTarget::margin;
  throw UsageError(str_cat("unknown influence target '", name, "'; valid: loss, margin"));
}

double target_loss(InfluenceTarget target, const double* f, Index outputs,
                   const InfluenceTargets& targets, Index row, double* grad) {
  if (target == InfluenceTarget::loss) {
    double s = 0.0;
    for (Index c = 0; c < outputs; ++c) {
      const double d = f[c] - targets.values(row, c);
      s += d * d;
      if (grad) grad[c] = d;
    }
    return 0.5 * s;
  }
  const int y = targets.labels[static_cast<std::size_t>(row)];
  if (outputs == 1) {
    const double sign = y == 1 ? 1.0 : -1.0;
    if (grad) grad[0] = -sign;
    return -sign * f[0];
  }
  Index best = -1;
  for (Index c = 0; c < outputs; ++c) {
    if (c == y) continue;
    if (best < 0 || f[c] > f[best]) best = c;
  }
  if (grad) {
    for (Index c = 0; c < outputs; ++c) grad[c] = 0.0;
    grad[y] = -1.0;
    grad[best] = 1.0;
  }
  return -(f[y] - f[best]);
}

KernelInfluence::KernelInfluence(const MatrixD& k_train, const MatrixD& y, double ridge)
    : ridge_(ridge) {
  if (k_train.rows() != k_train.cols() || y.rows() != k_train.rows() || k_train.rows() < 2) {
    throw UsageError(str_cat("KernelInfluence: need K [n, n] (n >= 2) and Y [n, C], got K [",
                             k_train.rows(), ", ", k_train.cols(), "] and Y [", y.rows(), ", ",
                             y.cols(), "]"));
  }
  if (!(ridge > 0.0) || !std::isfinite(ridge)) {
    throw UsageError(str_cat("KernelInfluence: ridge must be > 0, got ", ridge));
  }
  const Cholesky chol(k_train, ridge, "influence: K + ridge I");
  a_ = chol.inverse();
  alpha_ = chol.solve(y);
}

MatrixD KernelInfluence::predict(const MatrixD& k_test_train) const {
  return k_test_train * alpha_;
}

MatrixD KernelInfluence::leverage_rows(const MatrixD& k_test_train) const {
  if (k_test_train.cols() != size()) {
    throw UsageError(str_cat("KernelInfluence: k_test_train has ", k_test_train.cols(),
                             " columns, the kernel has n = ", size()));
  }
  const Index t = k_test_train.rows(), n = size();
  MatrixD b(t, n);
  if (t == 0) return b;
  gemm(Trans::no, Trans::no, t, n, n, 1.0, k_test_train.data(), n, a_.data(), n, 0.0, b.data(), n);
  return b;
}

MatrixD KernelInfluence::influence(const MatrixD& k_test_train, const InfluenceTargets& targets,
                                   InfluenceTarget target, LooKind kind) const {
  const Index t_rows = k_test_train.rows(), n = size(), outputs = alpha_.cols();
  if (targets.values.rows() != t_rows || targets.values.cols() != outputs) {
    throw UsageError(str_cat("KernelInfluence::influence: test targets [", targets.values.rows(),
                             ", ", targets.values.cols(), "], expected [", t_rows, ", ", outputs,
                             "]"));
  }
  if (target == InfluenceTarget::margin && static_cast<Index>(targets.labels.size()) != t_rows) {
    throw UsageError("KernelInfluence::influence: the margin target needs one label per test row");
  }
  const MatrixD b = leverage_rows(k_test_train);  // [T, n]
  const MatrixD f = predict(k_test_train);        // [T, C]
  MatrixD infl(t_rows, n);
#pragma omp parallel for schedule(static)
  for (Index t = 0; t < t_rows; ++t) {
    std::vector<double> g(static_cast<std::size_t>(outputs));
    const double base = target_loss(target, &f(t, 0), outputs, targets, t, nullptr);
    for (Index i = 0; i < n; ++i) {
      const double scale = kind == LooKind::exact ? b(t, i) / a_(i, i) : b(t, i) * ridge_;
      for (Index c = 0; c < outputs; ++c) {
        g[static_cast<std::size_t>(c)] = f(t, c) - scale * alpha_(i, c);
      }
      infl(t, i) = target_loss(target, g.data(), outputs, targets, t, nullptr) - base;
    }
  }
  return infl;
}

MatrixD brute_force_loo_influence(const MatrixD& k_train, const MatrixD& k_test_train,
                                  const MatrixD& y, double ridge, const InfluenceTargets& targets,
                                  InfluenceTarget target) {
  const Index n = k_train.rows(), t_rows = k_test_train.rows(), outputs = y.cols();
  const MatrixD f = k_test_train * Cholesky(k_train, ridge, "brute-force LOO").solve(y);
  MatrixD infl(t_rows, n);
  for (Index i = 0; i < n; ++i) {
    std::vector<Index> keep;
    for (Index j = 0; j < n; ++j)
      if (j != i) keep.push_back(j);
    const Index m = n - 1;
    MatrixD k(m, m), kt(t_rows, m), yy(m, outputs);
    for (Index a = 0; a < m; ++a) {
      for (Index b = 0; b < m; ++b) k(a, b) = k_train(keep[a], keep[b]);
      yy.row(a) = y.row(keep[a]);
    }
    for (Index t = 0; t < t_rows; ++t)
      for (Index a = 0; a < m; ++a) kt(t, a) = k_test_train(t, keep[a]);
    const MatrixD f_loo = kt * Cholesky(k, ridge, "brute-force LOO").solve(yy);
    for (Index t = 0; t < t_rows; ++t) {
      infl(t, i) = target_loss(target, &f_loo(t, 0), outputs, targets, t, nullptr) -
                   target_loss(target, &f(t, 0), outputs, targets, t, nullptr);
    }
  }
  return infl;
}

}  // namespace attnlab::analysis::influence
