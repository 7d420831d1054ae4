#include "attnlab/analysis/influence/tracin.hpp"

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::influence {
namespace {

// P = S ⊙ (G Aᵀ) [B, m] for rows x [B, D] with loss gradients g [B, C].
MatrixD gated_output_weights(const nn::TwoLayerRelu& net, const MatrixD& x, const MatrixD& g) {
  const MatrixD h = net.preactivations(x);  // [B, m]
  MatrixD p = g * net.a().transpose();      // [B, m]
  for (Index i = 0; i < p.size(); ++i)
    if (!(h.data()[i] > 0.0)) p.data()[i] = 0.0;
  return p;
}

}  // namespace

MatrixD gradient_dot_products(const nn::TwoLayerRelu& net, const MatrixD& x_a, const MatrixD& g_a,
                              const MatrixD& x_b, const MatrixD& g_b) {
  const Index outputs = net.output_dim();
  if (x_a.rows() != g_a.rows() || x_b.rows() != g_b.rows() || g_a.cols() != outputs ||
      g_b.cols() != outputs || x_a.cols() != net.input_dim() || x_b.cols() != net.input_dim()) {
    throw UsageError(str_cat(
        "gradient_dot_products: shapes x_a [", x_a.rows(), ", ", x_a.cols(), "], g_a [", g_a.rows(),
        ", ", g_a.cols(), "], x_b [", x_b.rows(), ", ", x_b.cols(), "], g_b [", g_b.rows(), ", ",
        g_b.cols(), "] do not fit the network (D = ", net.input_dim(), ", C = ", outputs, ")"));
  }
  const MatrixD pa = gated_output_weights(net, x_a, g_a);
  const MatrixD pb = gated_output_weights(net, x_b, g_b);
  MatrixD out = (x_a * x_b.transpose()).cwiseProduct(pa * pb.transpose());
  out /= static_cast<double>(net.width());
  return out;
}

}  // namespace attnlab::analysis::influence
