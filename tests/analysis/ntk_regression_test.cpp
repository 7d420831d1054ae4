// Kernel ridge regression (Cholesky) against a direct LU solve; the closed-form kernel-GD
// predictor against the explicit iteration; error paths.
#include "attnlab/analysis/ntk/kernel_regression.hpp"

#include <gtest/gtest.h>

#include <Eigen/LU>
#include <cmath>

#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/core/error.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::analysis::ntk {
namespace {

struct Problem {
  MatrixD k, k_test, y;
};

Problem make_problem() {
  const MatrixD x = testing::random_unit_rows(25, 8, 1, 0.4);
  const MatrixD xt = testing::random_unit_rows(6, 8, 2, 0.4);
  return {relu_ntk_infinite(x), relu_ntk_infinite(xt, x), testing::random_matrix(25, 3, 3)};
}

TEST(KernelRidge, MatchesDirectSolve) {
  const Problem p = make_problem();
  const double ridge = 1e-3;
  const KernelRidge krr(p.k, p.y, ridge);
  const MatrixD a = p.k + ridge * MatrixD::Identity(25, 25);
  const MatrixD direct = a.partialPivLu().solve(p.y);
  EXPECT_LT((krr.alpha() - direct).cwiseAbs().maxCoeff(), 1e-9 * direct.cwiseAbs().maxCoeff());
  EXPECT_LT((krr.predict(p.k_test) - p.k_test * direct).cwiseAbs().maxCoeff(), 1e-9);
  const MatrixD inv = krr.inverse();
  EXPECT_LT((inv * a - MatrixD::Identity(25, 25)).cwiseAbs().maxCoeff(), 1e-8);
  EXPECT_NEAR(relative_ridge(p.k, 0.1), 0.1 * p.k.trace() / 25, 1e-15);
}

TEST(KernelRidge, ErrorsNameTheProblem) {
  const Problem p = make_problem();
  EXPECT_THROW(KernelRidge(p.k, p.y, 0.0), UsageError);
  EXPECT_THROW(KernelRidge(p.k, p.y.topRows(3), 1e-3), UsageError);
  try {
    KernelRidge(-p.k, p.y, 1e-3);
    ADD_FAILURE() << "no error";
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("not positive definite"), std::string::npos);
  }
  const KernelRidge krr(p.k, p.y, 1e-3);
  EXPECT_THROW(krr.predict(MatrixD::Ones(2, 3)), UsageError);
}

TEST(KernelGradientDescent, ClosedFormEqualsTheIteration) {
  const Problem p = make_problem();
  const KernelGradientDescent gd(p.k, p.y);
  const double lr = 1.5 * 25 / gd.lambda_max();  // rate 1.5 < 2
  EXPECT_TRUE(gd.stable(lr));
  // f ← f − (η/n) K (f − y) on train, and the test predictions through the same residuals.
  MatrixD f = MatrixD::Zero(25, 3), ft = MatrixD::Zero(6, 3);
  const Index steps = 40;
  for (Index t = 0; t < steps; ++t) {
    const MatrixD r = f - p.y;
    f -= (lr / 25) * p.k * r;
    ft -= (lr / 25) * p.k_test * r;
  }
  EXPECT_LT((gd.predict(p.k, lr, steps) - f).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT((gd.predict(p.k_test, lr, steps) - ft).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_EQ(gd.predict(p.k_test, lr, 0).cwiseAbs().maxCoeff(), 0.0);
  // Unstable steps give NaN, not garbage.
  EXPECT_FALSE(gd.stable(2.5 * 25 / gd.lambda_max()));
  EXPECT_TRUE(std::isnan(gd.predict(p.k_test, 2.5 * 25 / gd.lambda_max(), 5)(0, 0)));
}

}  // namespace
}  // namespace attnlab::analysis::ntk
