#include "attnlab/nn/row_normalize.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {

MatrixD normalize_rows_forward(const MatrixD& x, VectorD& norms, const char* what) {
  MatrixD y(x.rows(), x.cols());
  norms.resize(x.rows());
  for (Index b = 0; b < x.rows(); ++b) {
    const double nrm = x.row(b).norm();
    if (!(nrm > 0.0) || !std::isfinite(nrm)) {
      throw NumericError(str_cat(what, ": row ", b, " of [", x.rows(), ", ", x.cols(),
                                 "] has l2 norm ", nrm, "; cannot scale it to unit norm"));
    }
    norms(b) = nrm;
    y.row(b) = x.row(b) / nrm;
  }
  return y;
}

MatrixD normalize_rows_backward(const MatrixD& y, const VectorD& norms, const MatrixD& dy) {
  if (dy.rows() != y.rows() || dy.cols() != y.cols() || norms.size() != y.rows()) {
    throw Error(str_cat("normalize_rows_backward: shapes differ: y [", y.rows(), ", ", y.cols(),
                        "], dy [", dy.rows(), ", ", dy.cols(), "], norms [", norms.size(), "]"));
  }
  MatrixD dx(y.rows(), y.cols());
  for (Index b = 0; b < y.rows(); ++b) {
    const double proj = y.row(b).dot(dy.row(b));
    dx.row(b) = (dy.row(b) - proj * y.row(b)) / norms(b);
  }
  return dx;
}

}  // namespace attnlab::nn
