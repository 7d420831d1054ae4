#include "attnlab/nn/attention_features.hpp"

#include <cmath>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/nn/row_normalize.hpp"

namespace attnlab::nn {

LinearAttentionFeatures::LinearAttentionFeatures(const MatrixD& context) {
  const Index n = context.rows(), D = context.cols();
  if (n < 1 || D < 1) {
    throw UsageError(str_cat("LinearAttentionFeatures: context must be [n >= 1, D >= 1], got [", n,
                             ", ", D, "]"));
  }
  for (Index i = 0; i < context.size(); ++i) {
    if (!std::isfinite(context.data()[i])) {
      throw NumericError(
          str_cat("LinearAttentionFeatures: context has a non-finite entry at "
                  "flat index ",
                  i));
    }
  }
  c_.resize(D, D);
  // C [D, D] = Xᵀ X
  gemm(Trans::yes, Trans::no, D, D, n, 1.0, context.data(), D, context.data(), D, 0.0, c_.data(),
       D);
  // Exact symmetry (the GEMM may differ in the last bit between the two triangles).
  for (Index i = 0; i < D; ++i)
    for (Index j = 0; j < i; ++j) c_(i, j) = c_(j, i);
}

LinearAttentionFeatures LinearAttentionFeatures::from_matrix(MatrixD c) {
  if (c.rows() != c.cols() || c.rows() < 1) {
    throw UsageError(str_cat("LinearAttentionFeatures::from_matrix: C must be square [D, D], got [",
                             c.rows(), ", ", c.cols(), "]"));
  }
  for (Index i = 0; i < c.rows(); ++i)
    for (Index j = 0; j < i; ++j)
      if (c(i, j) != c(j, i)) {
        throw UsageError(str_cat("LinearAttentionFeatures::from_matrix: C is not symmetric at (", i,
                                 ", ", j, ")"));
      }
  LinearAttentionFeatures f;
  f.c_ = std::move(c);
  return f;
}

MatrixD LinearAttentionFeatures::attend(const MatrixD& x) const {
  if (x.cols() != dim()) {
    throw UsageError(str_cat("LinearAttentionFeatures::attend: inputs need D=", dim(),
                             " columns, got [", x.rows(), ", ", x.cols(), "]"));
  }
  const Index B = x.rows(), D = dim();
  MatrixD z(B, D);
  // z [B, D] = X C  (C symmetric, so row b is C x_b)
  gemm(Trans::no, Trans::no, B, D, D, 1.0, x.data(), D, c_.data(), D, 0.0, z.data(), D);
  return z;
}

MatrixD LinearAttentionFeatures::features(const MatrixD& x) const {
  VectorD norms;
  return normalize_rows_forward(attend(x), norms, "LinearAttentionFeatures::features");
}

MatrixD LinearAttentionFeatures::features(const MatrixD& x, Cache& cache) const {
  cache.x = x;
  cache.features = normalize_rows_forward(attend(x), cache.norms, "LinearAttentionFeatures");
  return cache.features;
}

void LinearAttentionFeatures::backward(const Cache& cache, const MatrixD& d_features, MatrixD* d_x,
                                       MatrixD* d_c) const {
  const Index B = cache.x.rows(), D = dim();
  if (d_features.rows() != B || d_features.cols() != D) {
    throw UsageError(str_cat("LinearAttentionFeatures::backward: d_features must be [", B, ", ", D,
                             "], got [", d_features.rows(), ", ", d_features.cols(), "]"));
  }
  // dz [B, D] through the normalization
  const MatrixD dz = normalize_rows_backward(cache.features, cache.norms, d_features);
  if (d_x != nullptr) {
    d_x->resize(B, D);
    // dX = dZ Cᵀ = dZ C
    gemm(Trans::no, Trans::no, B, D, D, 1.0, dz.data(), D, c_.data(), D, 0.0, d_x->data(), D);
  }
  if (d_c != nullptr) {
    d_c->resize(D, D);
    // z_bj = Σ_k x_bk C_kj  ->  dC = Xᵀ dZ [D, D]
    gemm(Trans::yes, Trans::no, D, D, B, 1.0, cache.x.data(), D, dz.data(), D, 0.0, d_c->data(), D);
  }
}

MatrixD LinearAttentionFeatures::context_gradient(const MatrixD& context, const MatrixD& d_c) {
  const Index n = context.rows(), D = context.cols();
  if (d_c.rows() != D || d_c.cols() != D) {
    throw UsageError(str_cat("LinearAttentionFeatures::context_gradient: d_c must be [", D, ", ", D,
                             "], got [", d_c.rows(), ", ", d_c.cols(), "]"));
  }
  const MatrixD sym = d_c + d_c.transpose();
  MatrixD out(n, D);
  gemm(Trans::no, Trans::no, n, D, D, 1.0, context.data(), D, sym.data(), D, 0.0, out.data(), D);
  return out;
}

}  // namespace attnlab::nn
