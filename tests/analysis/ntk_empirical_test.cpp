// Structured empirical NTK (two GEMMs) == Jacobian-contraction NTK (J Jᵀ) to 1e-10 in fp64, for
// both models, traced and full, symmetric and cross kernels; λ_max of the full kernel by power
// iteration; Monte Carlo average of Θ_m converges to the analytic Θ∞.
#include "attnlab/analysis/ntk/empirical_ntk.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/analysis/ntk/kernel_metrics.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/linalg.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::analysis::ntk {
namespace {

using testing::random_unit_rows;

double rel_err(const MatrixD& a, const MatrixD& ref) {
  return (a - ref).cwiseAbs().maxCoeff() / ref.cwiseAbs().maxCoeff();
}

TEST(EmpiricalNtk, StructuredEqualsJacobianForTwoLayerRelu) {
  for (const Index C : {1, 3}) {
    const nn::TwoLayerRelu net = nn::TwoLayerRelu::random(9, 40, C, {}, 3 + C);
    const MatrixD x1 = random_unit_rows(12, 9, 1, 0.3), x2 = random_unit_rows(7, 9, 2, 0.3);
    EXPECT_LT(rel_err(empirical_ntk(net, x1), jacobian_ntk(net, x1, x1)), 1e-10) << C;
    EXPECT_LT(rel_err(empirical_ntk(net, x1, x2), jacobian_ntk(net, x1, x2)), 1e-10) << C;
    EXPECT_LT(rel_err(empirical_ntk_full(net, x1, x2), jacobian_ntk(net, x1, x2, NtkOutputs::full)),
              1e-10)
        << C;
    // The symmetric (SYRK) path equals the general one and is exactly symmetric.
    const MatrixD sym = empirical_ntk(net, x1);
    EXPECT_LT(rel_err(sym, empirical_ntk(net, x1, x1)), 1e-14);
    EXPECT_EQ(sym, sym.transpose());
  }
}

TEST(EmpiricalNtk, StructuredEqualsJacobianForMlpAttn) {
  const MatrixD context = random_unit_rows(15, 8, 5, 0.5);
  const nn::MlpAttn net(context, nn::TwoLayerRelu::random(8, 32, 2, {}, 6));
  const MatrixD x2 = random_unit_rows(6, 8, 7, 0.5);
  EXPECT_LT(rel_err(empirical_ntk(net, context), jacobian_ntk(net, context, context)), 1e-10);
  EXPECT_LT(rel_err(empirical_ntk(net, x2, context), jacobian_ntk(net, x2, context)), 1e-10);
  EXPECT_LT(rel_err(empirical_ntk_full(net, context, x2),
                    jacobian_ntk(net, context, x2, NtkOutputs::full)),
            1e-10);
}

TEST(EmpiricalNtk, GeneralOutputWeightsUseTheWeightedCounts) {
  const MatrixD w = testing::random_matrix(20, 6, 8);
  MatrixD a = testing::random_matrix(20, 2, 9);  // not ±1
  const nn::TwoLayerRelu net(w, a);
  const MatrixD x = random_unit_rows(8, 6, 10);
  EXPECT_LT(rel_err(empirical_ntk(net, x), jacobian_ntk(net, x, x)), 1e-10);
  EXPECT_LT(rel_err(empirical_ntk_full(net, x, x), jacobian_ntk(net, x, x, NtkOutputs::full)),
            1e-10);
}

TEST(EmpiricalNtk, FullKernelLambdaMaxMatchesEigenvalues) {
  const nn::TwoLayerRelu net = nn::TwoLayerRelu::random(10, 50, 3, {}, 11);
  const MatrixD x = random_unit_rows(14, 10, 12, 0.4);
  const VectorD ev = symmetric_eigenvalues(empirical_ntk_full(net, x, x));
  const double lmax = full_ntk_lambda_max(net, x, 2000, 1e-13);
  EXPECT_NEAR(lmax, ev(ev.size() - 1), 1e-7 * ev(ev.size() - 1));
  const nn::TwoLayerRelu one = nn::TwoLayerRelu::random(10, 50, 1, {}, 11);
  const VectorD ev1 = symmetric_eigenvalues(empirical_ntk(one, x));
  EXPECT_NEAR(full_ntk_lambda_max(one, x), ev1(ev1.size() - 1), 1e-12 * ev1(ev1.size() - 1));
}

TEST(EmpiricalNtk, MonteCarloAverageConvergesToThetaInfinity) {
  const bool small = testing::small_scale();
  const MatrixD x = random_unit_rows(10, 12, 13, 0.4);
  const MatrixD inf = relu_ntk_infinite(x);
  const Index few = 4, many = small ? 64 : 256;
  const double e_few = relative_frobenius(monte_carlo_ntk(x, 32, few, 1), inf);
  const double e_many = relative_frobenius(monte_carlo_ntk(x, 32, many, 1), inf);
  // Error ∝ (samples·m)^(-1/2): 16× (64×) more samples -> ~4× (8×) smaller.
  EXPECT_LT(e_many, e_few / (small ? 2.0 : 4.0));
  EXPECT_LT(e_many, small ? 0.05 : 0.025);
}

TEST(EmpiricalNtk, WrongInputWidthIsAUsageError) {
  const nn::TwoLayerRelu net = nn::TwoLayerRelu::random(5, 8, 1, {}, 1);
  EXPECT_THROW(empirical_ntk(net, MatrixD::Ones(3, 4)), UsageError);
  EXPECT_THROW(monte_carlo_ntk(MatrixD::Ones(3, 4), 8, 0, 1), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::ntk
