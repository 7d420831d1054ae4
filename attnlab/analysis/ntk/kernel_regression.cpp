#include "attnlab/analysis/ntk/kernel_regression.hpp"

#include <cmath>
#include <limits>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis::ntk {
namespace {

void check_targets(const MatrixD& k, const MatrixD& y, const char* fn) {
  if (k.rows() != k.cols()) {
    throw UsageError(str_cat(fn, ": kernel must be square, got [", k.rows(), ", ", k.cols(), "]"));
  }
  if (y.rows() != k.rows()) {
    throw UsageError(str_cat(fn, ": kernel is [", k.rows(), ", ", k.cols(), "] but targets have ",
                             y.rows(), " rows"));
  }
  for (Index i = 0; i < y.size(); ++i)
    if (!std::isfinite(y.data()[i])) {
      throw NumericError(str_cat(fn, ": non-finite target at flat index ", i));
    }
}

MatrixD multiply(const MatrixD& a, const MatrixD& b) {
  MatrixD c(a.rows(), b.cols());
  gemm(Trans::no, Trans::no, a.rows(), b.cols(), a.cols(), 1.0, a.data(), a.cols(), b.data(),
       b.cols(), 0.0, c.data(), b.cols());
  return c;
}

}  // namespace

KernelRidge::KernelRidge(const MatrixD& k_train, const MatrixD& y, double ridge) : ridge_(ridge) {
  check_targets(k_train, y, "KernelRidge");
  if (!(ridge > 0.0) || !std::isfinite(ridge)) {
    throw UsageError(str_cat("KernelRidge: ridge must be > 0 and finite, got ", ridge));
  }
  chol_ = Cholesky(k_train, ridge, "KernelRidge: K + ridge·I");
  alpha_ = chol_.solve(y);
}

MatrixD KernelRidge::predict(const MatrixD& k_test_train) const {
  if (k_test_train.cols() != size()) {
    throw UsageError(str_cat("KernelRidge::predict: test kernel has ", k_test_train.cols(),
                             " columns, the model was fit on n=", size()));
  }
  return multiply(k_test_train, alpha_);
}

double relative_ridge(const MatrixD& k_train, double relative) {
  if (k_train.rows() == 0) return relative;
  return relative * k_train.trace() / static_cast<double>(k_train.rows());
}

KernelGradientDescent::KernelGradientDescent(const MatrixD& k_train, const MatrixD& y)
    : n_(k_train.rows()) {
  check_targets(k_train, y, "KernelGradientDescent");
  eig_ = symmetric_eigen(k_train, "KernelGradientDescent: K");
  const MatrixD ut = eig_.vectors.transpose();
  projected_y_ = multiply(ut, y);
}

MatrixD KernelGradientDescent::predict(const MatrixD& k_test_train, double lr, Index steps) const {
  if (k_test_train.cols() != n_) {
    throw UsageError(str_cat("KernelGradientDescent::predict: test kernel has ",
                             k_test_train.cols(), " columns, the model was fit on n=", n_));
  }
  if (steps < 0 || !(lr > 0.0) || !std::isfinite(lr)) {
    throw UsageError(str_cat("KernelGradientDescent::predict: need lr > 0 and steps >= 0, got lr=",
                             lr, " steps=", steps));
  }
  const Index C = projected_y_.cols();
  if (!stable(lr)) {
    return MatrixD::Constant(k_test_train.rows(), C, std::numeric_limits<double>::quiet_NaN());
  }
  const double T = static_cast<double>(steps), nn = static_cast<double>(n_);
  // coef = U diag(φ_T(λ)) Uᵀ Y  [n, C]
  MatrixD scaled = projected_y_;
  for (Index j = 0; j < n_; ++j) {
    const double lambda = std::max(eig_.values(j), 0.0);
    const double q = lr * lambda / nn;
    double phi;
    if (q < 1e-12) {
      phi = lr * T / nn;
    } else if (q < 1.0) {
      phi = -std::expm1(T * std::log1p(-q)) / lambda;
    } else {
      phi = (1.0 - std::pow(1.0 - q, T)) / lambda;
    }
    scaled.row(j) *= phi;
  }
  const MatrixD coef = multiply(eig_.vectors, scaled);
  return multiply(k_test_train, coef);
}

}  // namespace attnlab::analysis::ntk
