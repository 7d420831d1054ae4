#include "attnlab/analysis/ntk/analytic_ntk.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis::ntk {
namespace {

constexpr double kPi = std::numbers::pi;

double clamp_unit(double u) {
  return std::clamp(u, -1.0, 1.0);
}

void check_pair(const MatrixD& x1, const MatrixD& x2, const char* fn) {
  if (x1.cols() != x2.cols()) {
    throw UsageError(str_cat(fn, ": inputs need the same D, got [", x1.rows(), ", ", x1.cols(),
                             "] and [", x2.rows(), ", ", x2.cols(), "]"));
  }
  for (const MatrixD* x : {&x1, &x2})
    for (Index i = 0; i < x->size(); ++i)
      if (!std::isfinite(x->data()[i])) {
        throw NumericError(str_cat(fn, ": non-finite input at flat index ", i));
      }
}

// Applies f(inner product, norm1, norm2) entrywise on the Gram matrix.
template <class F>
MatrixD kernel_from_gram(const MatrixD& x1, const MatrixD& x2, F f) {
  const Index n1 = x1.rows(), n2 = x2.rows(), D = x1.cols();
  MatrixD g(n1, n2);
  gemm(Trans::no, Trans::yes, n1, n2, D, 1.0, x1.data(), D, x2.data(), D, 0.0, g.data(), n2);
  const VectorD r1 = x1.rowwise().norm();
  const VectorD r2 = x2.rowwise().norm();
  for (Index i = 0; i < n1; ++i) {
    for (Index j = 0; j < n2; ++j) {
      const double nn = r1(i) * r2(j);
      g(i, j) = nn > 0.0 ? f(g(i, j), nn) : 0.0;
    }
  }
  return g;
}

}  // namespace

double relu_ntk_infinite_unit(double u) {
  const double c = clamp_unit(u);
  return c * (kPi - std::acos(c)) / (2.0 * kPi);
}

double relu_nngp_unit(double u) {
  const double c = clamp_unit(u);
  const double theta = std::acos(c);
  return (std::sin(theta) + (kPi - theta) * c) / (2.0 * kPi);
}

MatrixD relu_ntk_infinite(const MatrixD& x1, const MatrixD& x2) {
  check_pair(x1, x2, "relu_ntk_infinite");
  return kernel_from_gram(x1, x2, [](double dot, double norms) {
    const double theta = std::acos(clamp_unit(dot / norms));
    return dot * (kPi - theta) / (2.0 * kPi);
  });
}

MatrixD relu_nngp(const MatrixD& x1, const MatrixD& x2) {
  check_pair(x1, x2, "relu_nngp");
  return kernel_from_gram(
      x1, x2, [](double dot, double norms) { return norms * relu_nngp_unit(dot / norms); });
}

namespace {
// Symmetric version: exact diagonal (θ = 0) and mirrored upper triangle.
MatrixD symmetrize_exact(MatrixD k, const MatrixD& x) {
  for (Index i = 0; i < k.rows(); ++i) {
    k(i, i) = 0.5 * x.row(i).squaredNorm();
    for (Index j = 0; j < i; ++j) k(i, j) = k(j, i);
  }
  return k;
}
}  // namespace

MatrixD relu_ntk_infinite(const MatrixD& x) {
  return symmetrize_exact(relu_ntk_infinite(x, x), x);
}

MatrixD relu_nngp(const MatrixD& x) {
  return symmetrize_exact(relu_nngp(x, x), x);
}

}  // namespace attnlab::analysis::ntk
