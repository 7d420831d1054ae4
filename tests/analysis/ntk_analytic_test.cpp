// Analytic infinite-width kernels: arc-cosine spot values, clamping, homogeneity, the matrix
// form against the scalar form.
#include "attnlab/analysis/ntk/analytic_ntk.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "attnlab/core/error.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::analysis::ntk {
namespace {

constexpr double kPi = std::numbers::pi;

TEST(AnalyticNtk, ArcCosineSpotValues) {
  EXPECT_NEAR(relu_ntk_infinite_unit(1.0), 0.5, 1e-15);
  EXPECT_NEAR(relu_ntk_infinite_unit(0.0), 0.0, 1e-15);
  EXPECT_NEAR(relu_ntk_infinite_unit(0.5), 1.0 / 6.0, 1e-15);     // ½·(π − π/3)/(2π)
  EXPECT_NEAR(relu_ntk_infinite_unit(-0.5), -1.0 / 12.0, 1e-15);  // −½·(π − 2π/3)/(2π)
  EXPECT_NEAR(relu_ntk_infinite_unit(-1.0), 0.0, 1e-15);
  EXPECT_NEAR(relu_ntk_infinite_unit(std::sqrt(0.5)), std::sqrt(0.5) * 0.75 / 2.0, 1e-15);
  EXPECT_NEAR(relu_nngp_unit(1.0), 0.5, 1e-15);
  EXPECT_NEAR(relu_nngp_unit(0.0), 1.0 / (2 * kPi), 1e-15);
  EXPECT_NEAR(relu_nngp_unit(-1.0), 0.0, 1e-15);
  // Rounding past ±1 is clamped, never NaN.
  EXPECT_NEAR(relu_ntk_infinite_unit(1.0 + 1e-15), 0.5, 1e-14);
  EXPECT_TRUE(std::isfinite(relu_nngp_unit(-1.0 - 1e-15)));
}

TEST(AnalyticNtk, MatrixFormMatchesScalarFormAndIsHomogeneous) {
  const MatrixD x = testing::random_unit_rows(6, 5, 1, 0.2);
  const MatrixD k = relu_ntk_infinite(x);
  const MatrixD g = relu_nngp(x);
  EXPECT_EQ(k, k.transpose());
  for (Index i = 0; i < 6; ++i) {
    EXPECT_EQ(k(i, i), 0.5 * x.row(i).squaredNorm());  // exact diagonal (θ = 0)
    EXPECT_EQ(g(i, i), 0.5 * x.row(i).squaredNorm());
    for (Index j = 0; j < 6; ++j) {
      if (i == j) continue;
      const double u = x.row(i).dot(x.row(j));
      EXPECT_NEAR(k(i, j), relu_ntk_infinite_unit(u), 1e-14);
      EXPECT_NEAR(g(i, j), relu_nngp_unit(u), 1e-14);
    }
  }
  // The two-matrix form agrees off the diagonal (where arccos is well conditioned).
  const MatrixD k12 = relu_ntk_infinite(x, x);
  EXPECT_LT((k12 - k).cwiseAbs().maxCoeff(), 1e-8);
  // Θ∞(a x, b x') = a b Θ∞(x, x') and the same for the NNGP.
  const MatrixD y = testing::random_unit_rows(4, 5, 2, 0.2);
  const MatrixD k2 = relu_ntk_infinite(2.0 * x, 3.0 * y);
  const MatrixD g2 = relu_nngp(2.0 * x, 3.0 * y);
  EXPECT_LT((k2 - 6.0 * relu_ntk_infinite(x, y)).cwiseAbs().maxCoeff(), 1e-13);
  EXPECT_LT((g2 - 6.0 * relu_nngp(x, y)).cwiseAbs().maxCoeff(), 1e-13);
  // A zero row gives a zero kernel row.
  MatrixD z = x;
  z.row(0).setZero();
  EXPECT_EQ(relu_ntk_infinite(z, x).row(0).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_THROW(relu_ntk_infinite(x, MatrixD::Ones(2, 4)), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::ntk
