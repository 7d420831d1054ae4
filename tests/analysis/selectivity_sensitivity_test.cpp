// Jacobian sensitivity: the diag-minus-rank-one structure against the operator library's own
// Jacobian, the secular-equation spectral norm against Eigen's dense eigensolver, both softmax
// bounds (entries 1/(4T); spectral 1/(2T), attained by two tied top logits), finite differences
// against the analytic Jacobian, and the linearization breaking down for large ε.
#include "attnlab/analysis/selectivity/sensitivity.hpp"

#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using attention::Normalizer;
const Normalizer kStudy[] = {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15,
                             Normalizer::ssmax};

MatrixD structured(const JacobianStructure& j) {
  const auto L = static_cast<Index>(j.a.size());
  MatrixD m(L, L);
  for (Index a = 0; a < L; ++a)
    for (Index b = 0; b < L; ++b) m(a, b) = j.scale * ((a == b ? j.a[a] : 0.0) - j.u[a] * j.u[b]);
  return m;
}

std::vector<double> random_scores(Index L, double spread, Rng& rng) {
  std::vector<double> z(L);
  for (auto& x : z) x = spread * rng.normal();
  return z;
}

TEST(Sensitivity, StructureEqualsOperatorLibraryJacobian) {
  Rng rng(3);
  for (Normalizer n : kStudy) {
    for (int trial = 0; trial < 30; ++trial) {
      const Index L = 2 + trial % 23;
      auto z = random_scores(L, 1.0 + trial % 4, rng);
      if (trial % 5 == 0) z[1] = z[0];  // exact ties
      const NormalizerSetting s{n, 0.05 + 0.3 * (trial % 7), 0.7};
      const MatrixD dense = dense_jacobian(s, z);
      EXPECT_LT(testing::max_abs_diff(structured(jacobian_structure(s, z)), dense),
                1e-13 * (1 + dense.cwiseAbs().maxCoeff()))
          << attention::to_string(n) << " trial " << trial;
    }
  }
}

TEST(Sensitivity, SpectralNormAndMaxEntryMatchDenseEigensolver) {
  Rng rng(4);
  for (Normalizer n : kStudy) {
    for (int trial = 0; trial < 60; ++trial) {
      const Index L = 2 + (trial * 7) % 64;
      auto z = random_scores(L, 0.2 + trial % 6, rng);
      if (trial % 6 == 0) z[L - 1] = *std::max_element(z.begin(), z.end());  // tie at the top
      if (trial % 6 == 1) z[0] += 1e-9;                                      // near-tie
      const double T = std::pow(10.0, -2.0 + (trial % 9) * 0.4);
      const NormalizerSetting s{n, T, 1.0};
      const MatrixD dense = dense_jacobian(s, z);
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(Eigen::MatrixXd(dense),
                                                         Eigen::ComputeEigenvectors);
      const double ref = eig.eigenvalues().cwiseAbs().maxCoeff();
      const JacobianStructure js = jacobian_structure(s, z);
      std::vector<double> v(L);
      const double got = spectral_norm(js, v);
      const std::string where =
          std::string(attention::to_string(n)) + " trial " + std::to_string(trial);
      EXPECT_NEAR(got, ref, 1e-10 * ref + 1e-12 * js.scale) << where;
      EXPECT_NEAR(max_abs_entry(js), dense.cwiseAbs().maxCoeff(), 1e-13 * (1 + js.scale)) << where;
      // v is a unit eigenvector for the top eigenvalue: ‖J v − λ v‖ small.
      const Eigen::Map<const VectorD> vm(v.data(), L);
      EXPECT_NEAR(vm.norm(), 1.0, 1e-12) << where;
      EXPECT_LT((dense * vm - got * vm).norm(), 1e-9 * (ref + 1e-12 * js.scale) + 1e-12) << where;
    }
  }
}

TEST(Sensitivity, SoftmaxBoundsEntriesQuarterSpectralHalfAttainedByTie) {
  for (double T : {1e-3, 0.1, 1.0, 10.0}) {
    const NormalizerSetting s{Normalizer::softmax, T, 1.0};
    // Two tied top logits, the rest of the mass negligible (scores 1e6·T below).
    std::vector<double> z(64, -1e6 * T);
    z[5] = z[17] = 2.0 * T;
    const JacobianStructure js = jacobian_structure(s, z);
    EXPECT_NEAR(spectral_norm(js), 1.0 / (2.0 * T), 1e-12 / T) << "T=" << T;
    EXPECT_NEAR(max_abs_entry(js), 1.0 / (4.0 * T), 1e-12 / T) << "T=" << T;
    // Generic rows stay within both bounds.
    Rng rng(static_cast<std::uint64_t>(T * 1000) + 1);
    for (int trial = 0; trial < 50; ++trial) {
      const auto g = random_scores(2 + trial, 5.0 * T * (1 + trial % 3), rng);
      const JacobianStructure gj = jacobian_structure(s, g);
      EXPECT_LE(spectral_norm(gj), 1.0 / (2.0 * T) * (1 + 1e-12));
      EXPECT_LE(max_abs_entry(gj), 1.0 / (4.0 * T) * (1 + 1e-12));
    }
  }
  // With the rest of the row present the tie gets close to 1/(2T) but stays below it.
  std::vector<double> z = {3.0, 3.0, 0.0, -1.0, 0.5};
  const double tied = spectral_norm(jacobian_structure({Normalizer::softmax, 1.0, 1.0}, z));
  EXPECT_LT(tied, 0.5);
  EXPECT_GT(tied, 0.4);
}

TEST(Sensitivity, SaturatedSoftmaxKeepsItsTinyNorm) {
  // Two keys, weights a and b = 1 − a with b ≈ 4e-31: J/c = ab·[[1, −1], [−1, 1]], so
  // ‖J‖₂ = 2ab·c and max |J_ij| = ab·c, far below the rounding noise of 1 − a.
  for (double T : {1.0, 0.01}) {
    const std::vector<double> z = {0.0, -70.0 * T};
    const double b = std::exp(-70.0) / (1.0 + std::exp(-70.0)), a = 1.0 / (1.0 + std::exp(-70.0));
    const JacobianStructure js = jacobian_structure({Normalizer::softmax, T, 1.0}, z);
    EXPECT_NEAR(spectral_norm(js) / (2.0 * a * b / T), 1.0, 1e-10) << T;
    EXPECT_NEAR(max_abs_entry(js) / (a * b / T), 1.0, 1e-10) << T;
  }
  // A long saturated row: still positive and consistent with the largest off-diagonal entry.
  std::vector<double> z(100, -50.0);
  z[7] = 0.0;
  const JacobianStructure js = jacobian_structure({Normalizer::softmax, 1.0, 1.0}, z);
  const double s = spectral_norm(js), e = max_abs_entry(js);
  EXPECT_GT(s, 0.0);
  EXPECT_GE(s, e * (1 - 1e-12));
  EXPECT_LT(s, 1e-18);
}

TEST(Sensitivity, OtherNormalizersWorstCases) {
  std::vector<double> z(32, -100.0);
  z[0] = z[1] = 1.0;
  const double T = 0.25;
  // sparsemax: J/c is a projection, ‖J‖₂ = 1/T once the support has 2 keys.
  EXPECT_NEAR(spectral_norm(jacobian_structure({Normalizer::sparsemax, T, 1.0}, z)), 1.0 / T,
              1e-12);
  // entmax15 with two tied keys: √α = 1/√2 each, ‖J‖₂ = (1/√2)/T.
  EXPECT_NEAR(spectral_norm(jacobian_structure({Normalizer::entmax15, T, 1.0}, z)),
              std::sqrt(0.5) / T, 1e-12);
  // ssmax: the softmax bound scaled by s·log L.
  const double c = 0.8 * std::log(32.0) / T;
  EXPECT_NEAR(spectral_norm(jacobian_structure({Normalizer::ssmax, T, 0.8}, z)), c / 2.0, 1e-9 * c);
  EXPECT_NEAR(logit_scale({Normalizer::ssmax, T, 0.8}, 32), c, 1e-15 * c);
  // A one-hot sparsemax row has J = 0.
  std::vector<double> one_hot = {5.0, 0.0, -1.0};
  EXPECT_EQ(spectral_norm(jacobian_structure({Normalizer::sparsemax, 1.0, 1.0}, one_hot)), 0.0);
}

TEST(Sensitivity, FiniteDifferencesMatchAnalyticJacobian) {
  Rng rng(8);
  for (Normalizer n : kStudy) {
    for (int trial = 0; trial < 8; ++trial) {
      const Index L = 3 + trial * 3;
      const auto z = random_scores(L, 1.0, rng);
      const NormalizerSetting s{n, 0.5, 1.0};
      const MatrixD J = dense_jacobian(s, z);
      // Every entry: central differences of α_a(z) in z_b (testing::numeric_gradient).
      for (Index a = 0; a < L; ++a) {
        auto alpha_a = [&](const std::vector<double>& zz) {
          std::vector<double> lg(zz.size()), w(zz.size());
          row_weights(s, zz, lg, w);
          return w[a];
        };
        const auto g = testing::numeric_gradient(alpha_a, z, 1e-6);
        for (Index b = 0; b < L; ++b) {
          EXPECT_NEAR(g[b], J(a, b), 2e-6 * (1 + std::abs(J(a, b))))
              << attention::to_string(n) << " trial " << trial << " J[" << a << "," << b << "]";
        }
      }
      // Directional FD along the top eigenvector gives ‖J‖₂; top-two columns give max |J_ij|.
      const JacobianStructure js = jacobian_structure(s, z);
      std::vector<double> v(L);
      const double spec = spectral_norm(js, v);
      FdWorkspace ws;
      EXPECT_NEAR(fd_central(s, z, v, 1e-6, ws), spec, 1e-5 * (1 + spec))
          << attention::to_string(n);
      const auto [i1, i2] = top_two(z);
      const Index cols[2] = {i1, i2};
      EXPECT_NEAR(fd_max_entry(s, z, cols, 1e-6, ws), max_abs_entry(js), 1e-5)
          << attention::to_string(n);
      // Forward difference along a unit direction: |fd − ‖J v‖| = O(ε).
      const Eigen::Map<const VectorD> vm(v.data(), L);
      EXPECT_NEAR(fd_forward(s, z, v, 1e-7, ws), (J * vm).norm(), 1e-4 * (1 + spec));
    }
  }
}

TEST(Sensitivity, LargeStepsMeasureTheSecantNotTheDerivative) {
  // Tied top logits at small T: the derivative is 1/(2T) = 50, but a step of 10 in the scores
  // jumps between near one-hot rows, so the secant is at most the simplex diameter √2 over ε.
  std::vector<double> z(16, -5.0);
  z[2] = z[9] = 1.0;
  const NormalizerSetting s{Normalizer::softmax, 0.01, 1.0};
  const JacobianStructure js = jacobian_structure(s, z);
  std::vector<double> v(16);
  const double spec = spectral_norm(js, v);
  EXPECT_NEAR(spec, 50.0, 1e-9);
  FdWorkspace ws;
  EXPECT_NEAR(fd_central(s, z, v, 1e-7, ws), 50.0, 1e-3);
  for (double eps : {0.1, 10.0}) {
    const double g = fd_forward(s, z, v, eps, ws);
    EXPECT_LE(g, std::sqrt(2.0) / eps + 1e-12) << eps;
    EXPECT_LT(g, 0.2 * spec) << eps;
  }
  EXPECT_THROW(fd_forward(s, z, v, 0.0, ws), UsageError);
  EXPECT_THROW(jacobian_structure({Normalizer::none, 1.0, 1.0}, z), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
