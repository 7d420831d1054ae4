// core/linalg: eigenvalues and vectors, Cholesky solve/inverse/log det against direct methods,
// spectrum summaries of rank-deficient and ill-conditioned matrices, error paths.
#include "attnlab/core/linalg.hpp"

#include <gtest/gtest.h>

#include <Eigen/LU>
#include <Eigen/QR>
#include <cmath>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab {
namespace {

MatrixD random_orthogonal(Index n, std::uint64_t seed) {
  MatrixD a(n, n);
  Rng rng(seed);
  rng.fill_normal(a.data(), a.size());
  Eigen::HouseholderQR<MatrixD> qr(a);
  return qr.householderQ();
}

TEST(Linalg, EigenvaluesAndVectorsOfAKnownMatrix) {
  const MatrixD q = random_orthogonal(6, 1);
  VectorD d(6);
  d << 5.0, 1e-3, 2.0, 7.5, 0.25, 3.0;
  const MatrixD a = q * d.asDiagonal() * q.transpose();
  const VectorD ev = symmetric_eigenvalues(a);
  VectorD sorted = d;
  std::sort(sorted.data(), sorted.data() + 6);
  EXPECT_LT((ev - sorted).cwiseAbs().maxCoeff(), 1e-13);
  const SymmetricEigen e = symmetric_eigen(a);
  EXPECT_LT((e.vectors * e.values.asDiagonal() * e.vectors.transpose() - a).cwiseAbs().maxCoeff(),
            1e-13);
  EXPECT_NEAR(symmetric_spectral_norm(a), 7.5, 1e-13);
  EXPECT_NEAR(symmetric_spectral_norm(-a), 7.5, 1e-13);
}

TEST(Linalg, CholeskyMatchesDirectSolve) {
  const MatrixD q = random_orthogonal(8, 2);
  VectorD d = VectorD::LinSpaced(8, 0.1, 4.0);
  const MatrixD a = q * d.asDiagonal() * q.transpose();
  MatrixD b(8, 3);
  Rng rng(3);
  rng.fill_normal(b.data(), b.size());
  const Cholesky chol(a, 0.5);
  const MatrixD shifted = a + 0.5 * MatrixD::Identity(8, 8);
  const MatrixD direct = shifted.partialPivLu().solve(b);
  EXPECT_LT((chol.solve(b) - direct).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((chol.inverse() * shifted - MatrixD::Identity(8, 8)).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_NEAR(chol.log_determinant(), (d.array() + 0.5).log().sum(), 1e-12);
  const MatrixD u = chol.upper_factor();
  EXPECT_LT((u.transpose() * u - shifted).cwiseAbs().maxCoeff(), 1e-12);
  const VectorD v = chol.solve(VectorD(b.col(0)));
  EXPECT_LT((v - direct.col(0)).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(Linalg, ErrorsNameTheMatrix) {
  MatrixD a = MatrixD::Identity(3, 3);
  a(1, 1) = -1.0;
  try {
    Cholesky c(a, 0.0, "test kernel");
    ADD_FAILURE() << "no error";
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("test kernel"), std::string::npos);
  }
  a(1, 1) = std::nan("");
  EXPECT_THROW(symmetric_eigenvalues(a), NumericError);
  EXPECT_THROW(symmetric_eigenvalues(MatrixD::Ones(2, 3)), Error);
  const Cholesky ok(MatrixD::Identity(3, 3));
  EXPECT_THROW(ok.solve(MatrixD(MatrixD::Ones(2, 1))), Error);
}

TEST(Linalg, SpectrumSummaryHandlesRankDeficiency) {
  // G = X Xᵀ with X [10, 4]: rank 4, κ unresolved, κ_D = κ(C) resolved.
  MatrixD x(10, 4);
  Rng rng(4);
  rng.fill_normal(x.data(), x.size());
  const MatrixD g = x * x.transpose();
  const SpectrumSummary s = summarize_spectrum(symmetric_eigenvalues(g), 10, 4, 4);
  EXPECT_EQ(s.rank, 4);
  EXPECT_FALSE(s.resolved);
  EXPECT_TRUE(s.kappa_k_resolved);
  const VectorD c = symmetric_eigenvalues(x.transpose() * x);
  EXPECT_NEAR(s.kappa_k, c(3) / c(0), 1e-9 * s.kappa_k);
  EXPECT_NEAR(s.kappa_rank, s.kappa_k, 1e-9 * s.kappa_k);
  // A well-conditioned matrix is resolved, and κ beyond 1e15 never is.
  VectorD ev(3);
  ev << 1.0, 2.0, 4.0;
  const SpectrumSummary w = summarize_spectrum(ev, 3, 3);
  EXPECT_TRUE(w.resolved);
  EXPECT_EQ(w.kappa, 4.0);
  ev << 1e-16, 2.0, 4.0;
  EXPECT_FALSE(summarize_spectrum(ev, 3, 3).resolved);
  ev << 2.0, 1.0, 4.0;
  EXPECT_THROW(summarize_spectrum(ev, 3, 3), Error);
}

}  // namespace
}  // namespace attnlab
