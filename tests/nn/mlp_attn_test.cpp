// MLP-Attn: C = XᵀX and the X Xᵀ X form agree, the feature Gram is G³, every backward (weights,
// inputs with C fixed, the training context through C, pixel-space inputs) matches finite
// differences.
#include "attnlab/nn/mlp_attn.hpp"

#include <gtest/gtest.h>

#include "attnlab/core/error.hpp"
#include "attnlab/nn/row_normalize.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::nn {
namespace {

using testing::fd_input_error;
using testing::fd_param_error;
using testing::random_matrix;
using testing::random_unit_rows;

TEST(LinearAttentionFeatures, CIsXtXAndTrainingOutputsAreXXtX) {
  const MatrixD x = random_unit_rows(9, 6, 1, 0.4);  // [n, D]
  const LinearAttentionFeatures attn(x);
  const MatrixD xtx = x.transpose() * x;
  EXPECT_LT((attn.c() - xtx).cwiseAbs().maxCoeff(), 1e-13);
  EXPECT_EQ(attn.c(), attn.c().transpose());       // exactly symmetric
  const MatrixD direct = (x * x.transpose()) * x;  // the paper's X Xᵀ X, O(n²D)
  const MatrixD via_c = attn.attend(x);            // X C, O(nD²)
  EXPECT_LT((direct - via_c).cwiseAbs().maxCoeff(), 1e-13 * direct.cwiseAbs().maxCoeff());
  const MatrixD g = x * x.transpose();
  const MatrixD g3 = g * g * g;
  const MatrixD fg = via_c * via_c.transpose();
  EXPECT_LT((fg - g3).cwiseAbs().maxCoeff(), 1e-12 * g3.cwiseAbs().maxCoeff());
  const MatrixD f = attn.features(x);
  for (Index i = 0; i < f.rows(); ++i) EXPECT_NEAR(f.row(i).norm(), 1.0, 1e-15);
}

TEST(RowNormalize, BackwardMatchesFiniteDifferences) {
  const MatrixD x = random_matrix(3, 5, 2);
  const MatrixD dy = random_matrix(3, 5, 3);
  VectorD norms;
  const MatrixD y = normalize_rows_forward(x, norms);
  const MatrixD dx = normalize_rows_backward(y, norms, dy);
  const double eps = 1e-6;
  MatrixD xp = x;
  for (Index i = 0; i < x.size(); ++i) {
    const double keep = xp.data()[i];
    VectorD nn;
    xp.data()[i] = keep + eps;
    const double up = (normalize_rows_forward(xp, nn).array() * dy.array()).sum();
    xp.data()[i] = keep - eps;
    const double down = (normalize_rows_forward(xp, nn).array() * dy.array()).sum();
    xp.data()[i] = keep;
    EXPECT_NEAR(dx.data()[i], (up - down) / (2 * eps), 1e-8);
  }
  EXPECT_THROW(normalize_rows_forward(MatrixD::Zero(2, 3), norms), NumericError);
}

TEST(MlpAttn, BackwardMatchesFiniteDifferences) {
  const MatrixD context = random_unit_rows(12, 6, 4, 0.5);
  MlpAttn net(context, TwoLayerRelu::random(6, 10, 3, {}, 5));
  const MatrixD x = random_unit_rows(4, 6, 6, 0.2);
  const MatrixD d_out = random_matrix(4, 3, 7);
  EXPECT_LT(fd_param_error(net, x, d_out), 1e-7);
  EXPECT_LT(fd_input_error(net, x, d_out), 1e-7);
  EXPECT_EQ(net.num_params(), 60);
}

TEST(MlpAttn, ContextGradientMatchesFiniteDifferences) {
  const MatrixD context = random_unit_rows(7, 5, 8, 0.5);
  const TwoLayerRelu mlp = TwoLayerRelu::random(5, 8, 2, {}, 9);
  const MatrixD x = random_unit_rows(3, 5, 10);
  const MatrixD d_out = random_matrix(3, 2, 11);
  const MlpAttn net(context, mlp);
  std::unique_ptr<ModelCache> cache;
  net.forward(x, cache);
  const MatrixD analytic = net.context_backward(*cache, d_out, context);  // [7, 5]
  const double eps = 1e-6;
  MatrixD cp = context;
  double err = 0.0, scale = 1.0;
  for (Index i = 0; i < cp.size(); ++i) {
    const double keep = cp.data()[i];
    cp.data()[i] = keep + eps;
    const double up = (MlpAttn(cp, mlp).forward(x).array() * d_out.array()).sum();
    cp.data()[i] = keep - eps;
    const double down = (MlpAttn(cp, mlp).forward(x).array() * d_out.array()).sum();
    cp.data()[i] = keep;
    const double fd = (up - down) / (2 * eps);
    err = std::max(err, std::abs(fd - analytic.data()[i]));
    scale = std::max(scale, std::abs(fd));
  }
  EXPECT_LT(err / scale, 1e-7);
}

TEST(MlpAttn, SetContextRebuildsC) {
  const MatrixD c1 = random_unit_rows(6, 4, 12), c2 = random_unit_rows(6, 4, 13);
  MlpAttn net(c1, TwoLayerRelu::random(4, 6, 1, {}, 14));
  const MatrixD x = random_unit_rows(2, 4, 15);
  net.set_context(c2);
  EXPECT_LT((net.forward(x) - MlpAttn(c2, net.mlp()).forward(x)).cwiseAbs().maxCoeff(), 1e-15);
  EXPECT_THROW(net.set_context(random_unit_rows(6, 5, 1)), UsageError);
}

TEST(NormalizedInput, PixelSpaceGradientsMatchFiniteDifferences) {
  const MatrixD context = random_unit_rows(10, 6, 16, 0.5);
  NormalizedInput net(std::make_unique<MlpAttn>(context, TwoLayerRelu::random(6, 7, 2, {}, 17)));
  MatrixD pixels(3, 6);
  Rng rng(18);
  rng.fill_uniform(pixels.data(), pixels.size(), 0.05, 1.0);
  const MatrixD d_out = random_matrix(3, 2, 19);
  EXPECT_LT(fd_input_error(net, pixels, d_out), 1e-7);
  EXPECT_LT(fd_param_error(net, pixels, d_out), 1e-7);
  // Scale invariance of the pixel-space model.
  EXPECT_LT((net.forward(pixels) - net.forward(3.0 * pixels)).cwiseAbs().maxCoeff(), 1e-14);
  const auto copy = net.clone();
  EXPECT_EQ(copy->forward(pixels), net.forward(pixels));
}

}  // namespace
}  // namespace attnlab::nn
