// Per-example Jacobians: parameter rows and input slices against finite differences of single
// outputs; the per-example loss input gradient against finite differences of the loss.
#include "attnlab/nn/jacobian.hpp"

#include <gtest/gtest.h>

#include "attnlab/nn/mlp_attn.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::nn {
namespace {

using testing::random_unit_rows;

TEST(Jacobian, ParameterRowsMatchFiniteDifferences) {
  MlpAttn net(random_unit_rows(8, 5, 1, 0.5), TwoLayerRelu::random(5, 6, 2, {}, 2));
  const MatrixD x = random_unit_rows(3, 5, 3);
  const MatrixD j = parameter_jacobian(net, x);  // [3*2, 30]
  ASSERT_EQ(j.rows(), 6);
  ASSERT_EQ(j.cols(), 30);
  const double eps = 1e-6;
  auto p = net.params();
  for (Index k = 0; k < p.size(); ++k) {
    const double keep = p(k);
    p(k) = keep + eps;
    const MatrixD up = net.forward(x);
    p(k) = keep - eps;
    const MatrixD down = net.forward(x);
    p(k) = keep;
    for (Index b = 0; b < 3; ++b)
      for (Index c = 0; c < 2; ++c)
        EXPECT_NEAR(j(b * 2 + c, k), (up(b, c) - down(b, c)) / (2 * eps), 1e-8);
  }
}

TEST(Jacobian, InputSlicesAndLossGradientMatchFiniteDifferences) {
  const TwoLayerRelu net = TwoLayerRelu::random(4, 12, 3, {}, 4);
  const MatrixD x = random_unit_rows(2, 4, 5, 0.3);
  const Tensor3d jx = input_jacobian(net, x);  // [2, 3, 4]
  const Targets t = encode_targets({2, 0}, 3, TargetEncoding::centered_one_hot);
  const MatrixD gl = loss_input_gradient(net, x, t, LossKind::cross_entropy);  // [2, 4]
  const double eps = 1e-6;
  MatrixD xp = x;
  for (Index b = 0; b < 2; ++b) {
    for (Index d = 0; d < 4; ++d) {
      const double keep = xp(b, d);
      xp(b, d) = keep + eps;
      const MatrixD up = net.forward(xp);
      const double lup = cross_entropy_loss(up.row(b), {t.labels[b]}, nullptr);
      xp(b, d) = keep - eps;
      const MatrixD down = net.forward(xp);
      const double ldown = cross_entropy_loss(down.row(b), {t.labels[b]}, nullptr);
      xp(b, d) = keep;
      for (Index c = 0; c < 3; ++c)
        EXPECT_NEAR(jx(b, c, d), (up(b, c) - down(b, c)) / (2 * eps), 1e-8);
      EXPECT_NEAR(gl(b, d), (lup - ldown) / (2 * eps), 1e-8);
    }
  }
}

}  // namespace
}  // namespace attnlab::nn
