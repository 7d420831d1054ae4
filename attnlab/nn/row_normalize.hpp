// attnlab/nn/row_normalize.hpp — unit-l2 row normalization with its backward pass.
//
// y_b = x_b / ‖x_b‖ for every row b of x [B, D]. The backward pass maps dL/dy to dL/dx:
//   dx_b = (dy_b − y_b (y_bᵀ dy_b)) / ‖x_b‖,
// the projection of dy_b onto the tangent space of the sphere at y_b, scaled by 1/‖x_b‖.
// Used by MlpAttn (normalize(C x)) and by NormalizedInput (pixel space -> unit rows).
//
// Errors: a row with zero or non-finite norm cannot be normalized -> NumericError naming the row.
//
// Usage:
//   VectorD norms;  MatrixD y = normalize_rows_forward(x, norms);      // y [B, D], norms [B]
//   MatrixD dx = normalize_rows_backward(y, norms, dy);                 // dx [B, D]
#pragma once

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

// x [B, D] -> unit rows [B, D]; norms [B] receives ‖x_b‖.
MatrixD normalize_rows_forward(const MatrixD& x, VectorD& norms, const char* what = "normalize");
// y [B, D] (the forward output), norms [B], dy [B, D] -> dx [B, D].
MatrixD normalize_rows_backward(const MatrixD& y, const VectorD& norms, const MatrixD& dy);

}  // namespace attnlab::nn
