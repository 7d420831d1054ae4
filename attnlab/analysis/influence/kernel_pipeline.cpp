#include "attnlab/analysis/influence/kernel_pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis::influence {
namespace {

// Unit rows of x [B, D] and their norms; NumericError on a zero row.
MatrixD unit_rows(const MatrixD& x, VectorD& norms, const char* what) {
  norms.resize(x.rows());
  MatrixD u(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i) {
    const double nr = x.row(i).norm();
    if (!(nr > 0.0) || !std::isfinite(nr)) {
      throw NumericError(str_cat("KernelPipeline: ", what, " row ", i, " has norm ", nr));
    }
    norms(i) = nr;
    u.row(i) = x.row(i) / nr;
  }
  return u;
}

// Backward of y = x/‖x‖ row-wise: dy [B, D], y [B, D] unit rows, norms ‖x‖ [B] -> dx.
MatrixD normalize_backward(const MatrixD& dy, const MatrixD& y, const VectorD& norms) {
  MatrixD dx(dy.rows(), dy.cols());
  for (Index i = 0; i < dy.rows(); ++i) {
    const double proj = dy.row(i).dot(y.row(i));
    dx.row(i) = (dy.row(i) - proj * y.row(i)) / norms(i);
  }
  return dx;
}

MatrixD apply_kernel(const MatrixD& s, bool symmetric) {
  MatrixD k(s.rows(), s.cols());
  for (Index i = 0; i < s.rows(); ++i)
    for (Index j = 0; j < s.cols(); ++j)
      k(i, j) = symmetric && i == j ? 0.5 : ntk::relu_ntk_infinite_unit(s(i, j));
  return k;
}

}  // namespace

double relu_ntk_infinite_unit_derivative(double u) {
  const double uc = std::clamp(u, -1.0, 1.0);
  const double root = std::sqrt(std::max(1.0 - uc * uc, 1e-14));
  return (std::numbers::pi - std::acos(uc)) / (2.0 * std::numbers::pi) +
         uc / (2.0 * std::numbers::pi * root);
}

KernelPipeline::KernelPipeline(ntk::ModelKind model, const MatrixD& raw_train,
                               const MatrixD& raw_query)
    : model_(model) {
  if (raw_train.rows() < 1 || (raw_query.rows() > 0 && raw_query.cols() != raw_train.cols())) {
    throw UsageError(str_cat("KernelPipeline: need train [n, D] (n >= 1) and query [T, D], got [",
                             raw_train.rows(), ", ", raw_train.cols(), "] and [", raw_query.rows(),
                             ", ", raw_query.cols(), "]"));
  }
  VectorD query_norms;
  u_ = unit_rows(raw_train, r_norm_, "training");
  us_ = raw_query.rows() > 0 ? unit_rows(raw_query, query_norms, "query")
                             : MatrixD(0, raw_train.cols());
  if (model_ == ntk::ModelKind::attn) {
    c_ = u_.transpose() * u_;  // [D, D]
    f_ = unit_rows(u_ * c_, z_norm_, "attention feature");
    fs_ = us_.rows() > 0 ? unit_rows(us_ * c_, zs_norm_, "query attention feature")
                         : MatrixD(0, u_.cols());
  } else {
    f_ = u_;
    fs_ = us_;
  }
  s_ = f_ * f_.transpose();
  ss_ = fs_ * f_.transpose();
  k_ = apply_kernel(s_, true);
  ks_ = apply_kernel(ss_, false);
}

MatrixD KernelPipeline::backward(const MatrixD& d_k_train, const MatrixD& d_k_query) const {
  const Index n = u_.rows(), t = us_.rows();
  MatrixD d_s = MatrixD::Zero(n, n);
  if (d_k_train.size() > 0) {
    if (d_k_train.rows() != n || d_k_train.cols() != n) {
      throw UsageError("KernelPipeline::backward: d_k_train must be [n, n]");
    }
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < n; ++j)
        if (i != j) d_s(i, j) = d_k_train(i, j) * relu_ntk_infinite_unit_derivative(s_(i, j));
  }
  MatrixD d_f = (d_s + d_s.transpose()) * f_;  // [n, D]
  MatrixD d_fs;
  if (d_k_query.size() > 0 && t > 0) {
    if (d_k_query.rows() != t || d_k_query.cols() != n) {
      throw UsageError("KernelPipeline::backward: d_k_query must be [T, n]");
    }
    MatrixD d_ss(t, n);
    for (Index i = 0; i < t; ++i)
      for (Index j = 0; j < n; ++j)
        d_ss(i, j) = d_k_query(i, j) * relu_ntk_infinite_unit_derivative(ss_(i, j));
    d_f.noalias() += d_ss.transpose() * fs_;
    d_fs = d_ss * f_;  // [T, D]
  }
  MatrixD d_u;
  if (model_ == ntk::ModelKind::attn) {
    const MatrixD d_z = normalize_backward(d_f, f_, z_norm_);  // [n, D]
    d_u = d_z * c_;
    MatrixD d_c = u_.transpose() * d_z;  // [D, D]
    if (d_fs.size() > 0) {
      const MatrixD d_zs = normalize_backward(d_fs, fs_, zs_norm_);
      d_c.noalias() += us_.transpose() * d_zs;
    }
    d_u.noalias() += u_ * (d_c + d_c.transpose());
  } else {
    d_u = std::move(d_f);
  }
  return normalize_backward(d_u, u_, r_norm_);
}

}  // namespace attnlab::analysis::influence
