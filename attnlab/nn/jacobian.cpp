#include "attnlab/nn/jacobian.hpp"

#include "attnlab/core/error.hpp"

namespace attnlab::nn {

MatrixD parameter_jacobian(const Model& model, const MatrixD& x) {
  check_model_input(model, x, "parameter_jacobian");
  const Index B = x.rows(), C = model.output_dim(), P = model.num_params();
  MatrixD j(B * C, P);
  std::unique_ptr<ModelCache> cache;
  VectorD g;
  for (Index b = 0; b < B; ++b) {
    const MatrixD row = x.row(b);
    model.forward(row, cache);
    for (Index c = 0; c < C; ++c) {
      MatrixD d_out = MatrixD::Zero(1, C);
      d_out(0, c) = 1.0;
      model.backward(*cache, d_out, &g, nullptr);
      j.row(b * C + c) = g.transpose();
    }
  }
  return j;
}

Tensor3d input_jacobian(const Model& model, const MatrixD& x) {
  check_model_input(model, x, "input_jacobian");
  const Index B = x.rows(), C = model.output_dim(), D = model.input_dim();
  Tensor3d out(B, C, D);
  std::unique_ptr<ModelCache> cache;
  model.forward(x, cache);
  MatrixD dx;
  // Rows are independent, so one backward with d_out = e_c on every row gives row b's
  // ∂f_c(x_b)/∂x_b for all b at once.
  for (Index c = 0; c < C; ++c) {
    MatrixD d_out = MatrixD::Zero(B, C);
    d_out.col(c).setOnes();
    model.backward(*cache, d_out, nullptr, &dx);
    for (Index b = 0; b < B; ++b) out.slice(b).row(c) = dx.row(b);
  }
  return out;
}

MatrixD loss_input_gradient(const Model& model, const MatrixD& x, const Targets& targets,
                            LossKind loss) {
  check_model_input(model, x, "loss_input_gradient");
  if (targets.rows() != x.rows()) {
    throw UsageError(
        str_cat("loss_input_gradient: x has ", x.rows(), " rows, targets ", targets.rows()));
  }
  std::unique_ptr<ModelCache> cache;
  const MatrixD out = model.forward(x, cache);
  MatrixD d_out;
  loss_value(loss, out, targets, &d_out);
  d_out *= static_cast<double>(x.rows());  // per-example loss, not the batch mean
  MatrixD dx;
  model.backward(*cache, d_out, nullptr, &dx);
  return dx;
}

}  // namespace attnlab::nn
