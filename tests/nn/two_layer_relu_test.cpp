// 2L-ReLU: forward against the definition, FD-checked backward (weights and inputs), seeded and
// antisymmetric initialization, fp32 GEMM mode.
#include "attnlab/nn/two_layer_relu.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::nn {
namespace {

using testing::fd_input_error;
using testing::fd_param_error;
using testing::random_matrix;
using testing::random_unit_rows;

TEST(TwoLayerRelu, ForwardMatchesDefinition) {
  const TwoLayerRelu net = TwoLayerRelu::random(7, 11, 3, {.w_std = 1.0}, 5);
  const MatrixD x = random_unit_rows(4, 7, 1);
  const MatrixD out = net.forward(x);
  for (Index b = 0; b < 4; ++b) {
    for (Index c = 0; c < 3; ++c) {
      double f = 0.0;
      for (Index r = 0; r < 11; ++r) {
        const double h = net.w().row(r).dot(x.row(b));
        f += net.a()(r, c) * std::max(h, 0.0);
      }
      EXPECT_NEAR(out(b, c), f / std::sqrt(11.0), 1e-14);
    }
  }
  for (Index i = 0; i < net.a().size(); ++i) EXPECT_EQ(std::abs(net.a().data()[i]), 1.0);
}

TEST(TwoLayerRelu, BackwardMatchesFiniteDifferences) {
  for (const Index C : {1, 3}) {
    TwoLayerRelu net = TwoLayerRelu::random(6, 9, C, {.w_std = 1.0}, 11 + C);
    const MatrixD x = random_unit_rows(5, 6, 2, 0.3);
    const MatrixD d_out = random_matrix(5, C, 3);
    EXPECT_LT(fd_param_error(net, x, d_out), 1e-7) << "C=" << C;
    EXPECT_LT(fd_input_error(net, x, d_out), 1e-7) << "C=" << C;
  }
}

TEST(TwoLayerRelu, SeededInitSharesDirectionsAcrossScales) {
  const TwoLayerRelu a = TwoLayerRelu::random(5, 8, 2, {.w_std = 1.0}, 42);
  const TwoLayerRelu b = TwoLayerRelu::random(5, 8, 2, {.w_std = 0.01}, 42);
  const TwoLayerRelu c = TwoLayerRelu::random(5, 8, 2, {.w_std = 1.0}, 42);
  const TwoLayerRelu d = TwoLayerRelu::random(5, 8, 2, {.w_std = 1.0}, 43);
  EXPECT_EQ(a.w(), c.w());
  EXPECT_EQ(a.a(), b.a());
  EXPECT_LT((b.w() - 0.01 * a.w()).cwiseAbs().maxCoeff(), 1e-17);
  EXPECT_NE(a.w(), d.w());
}

TEST(TwoLayerRelu, AntisymmetricInitHasZeroOutputAndTiedRows) {
  const TwoLayerRelu net = TwoLayerRelu::random(6, 10, 3, {.antisymmetric = true}, 9);
  const MatrixD x = random_unit_rows(8, 6, 4);
  EXPECT_LT(net.forward(x).cwiseAbs().maxCoeff(), 1e-14);  // 0 up to summation rounding
  EXPECT_EQ(net.w().topRows(5), net.w().bottomRows(5));
  EXPECT_EQ(net.a().topRows(5), -net.a().bottomRows(5));
  // The first half equals the first half of the i.i.d. draw with the same seed.
  const TwoLayerRelu iid = TwoLayerRelu::random(6, 10, 3, {}, 9);
  EXPECT_EQ(net.w().topRows(5), iid.w().topRows(5));
  EXPECT_THROW(TwoLayerRelu::random(6, 9, 3, {.antisymmetric = true}, 9), UsageError);
}

TEST(TwoLayerRelu, Fp32GemmModeAgreesWithFp64) {
  TwoLayerRelu net = TwoLayerRelu::random(30, 64, 4, {}, 3);
  const MatrixD x = random_unit_rows(20, 30, 5, 0.5);
  const MatrixD ref = net.forward(x);
  std::unique_ptr<ModelCache> cache;
  const MatrixD d_out = random_matrix(20, 4, 6);
  net.forward(x, cache);
  VectorD g64;
  net.backward(*cache, d_out, &g64, nullptr);
  net.set_gemm_precision(GemmPrecision::fp32);
  const MatrixD f32 = net.forward(x, cache);
  VectorD g32;
  net.backward(*cache, d_out, &g32, nullptr);
  EXPECT_LT((f32 - ref).cwiseAbs().maxCoeff(), 1e-5 * ref.cwiseAbs().maxCoeff());
  EXPECT_LT((g32 - g64).cwiseAbs().maxCoeff(), 1e-5 * g64.cwiseAbs().maxCoeff());
}

TEST(TwoLayerRelu, BadShapesAreUsageErrors) {
  EXPECT_THROW(TwoLayerRelu(MatrixD::Ones(4, 3), MatrixD::Ones(5, 2)), UsageError);
  EXPECT_THROW(TwoLayerRelu::random(3, 0, 1, {}, 0), UsageError);
  EXPECT_THROW(TwoLayerRelu::random(3, 4, 1, {.w_std = -1.0}, 0), UsageError);
  const TwoLayerRelu net = TwoLayerRelu::random(3, 4, 2, {}, 0);
  EXPECT_THROW(net.forward(MatrixD::Ones(2, 5)), UsageError);
  std::unique_ptr<ModelCache> cache;
  net.forward(MatrixD::Ones(2, 3), cache);
  VectorD g;
  EXPECT_THROW(net.backward(*cache, MatrixD::Ones(2, 3), &g, nullptr), UsageError);
  MatrixD w = MatrixD::Ones(4, 3);
  w(0, 0) = std::nan("");
  EXPECT_THROW(TwoLayerRelu(w, MatrixD::Ones(4, 1)), UsageError);
}

}  // namespace
}  // namespace attnlab::nn
