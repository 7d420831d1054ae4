#include "attnlab/attention/normalizers.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::attention {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const Normalizer kAll[] = {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15,
                           Normalizer::ssmax, Normalizer::none};

std::vector<double> run(Normalizer n, std::vector<double> z) {
  std::vector<double> p(z.size());
  normalize_row<double>(n, z, p);
  return p;
}

TEST(Normalizers, GoldenValues) {
  const std::vector<double> z = {-2.0, 0.0, 0.5};
  const auto sm = run(Normalizer::softmax, z);
  EXPECT_NEAR(sm[0], 0.0486, 5e-5);
  EXPECT_NEAR(sm[1], 0.3592, 5e-5);
  EXPECT_NEAR(sm[2], 0.5922, 5e-5);
  const auto sp = run(Normalizer::sparsemax, z);
  EXPECT_DOUBLE_EQ(sp[0], 0.0);
  EXPECT_NEAR(sp[1], 0.25, 1e-15);
  EXPECT_NEAR(sp[2], 0.75, 1e-15);
  const auto en = run(Normalizer::entmax15, z);
  EXPECT_DOUBLE_EQ(en[0], 0.0);
  EXPECT_NEAR(en[1], 0.3260, 5e-5);
  EXPECT_NEAR(en[2], 0.6740, 5e-5);
  // Exact 1.5-entmax value: τ = 1/8 − sqrt(31)/8 on z/2 = [.25, 0], p = (z/2 − τ)².
  const double tau = 0.125 - std::sqrt(0.484375);
  EXPECT_NEAR(en[1], tau * tau, 1e-14);
}

TEST(Normalizers, SimplexAndExactZeros) {
  Rng rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> z(1 + trial % 37);
    for (auto& x : z) x = 3.0 * rng.normal();
    for (Normalizer n : {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15}) {
      const auto p = run(n, z);
      double sum = 0.0;
      for (double x : p) {
        EXPECT_GE(x, 0.0);
        sum += x;
      }
      EXPECT_NEAR(sum, 1.0, 1e-12) << to_string(n) << " trial " << trial;
    }
  }
  // Sparse normalizers give exact zeros on well-separated logits.
  const auto sp = run(Normalizer::sparsemax, {5.0, 0.0, -1.0});
  EXPECT_EQ(sp[1], 0.0);
  EXPECT_EQ(sp[0], 1.0);
}

TEST(Normalizers, MaskedEntriesAndEmptyRows) {
  for (Normalizer n : kAll) {
    const auto p = run(n, {1.0, -kInf, 0.5});
    EXPECT_EQ(p[1], 0.0) << to_string(n);
    const auto empty = run(n, {-kInf, -kInf});
    EXPECT_EQ(empty[0], 0.0) << to_string(n);
    EXPECT_EQ(empty[1], 0.0) << to_string(n);
    EXPECT_FALSE(std::isnan(empty[0]));
  }
}

TEST(Normalizers, SoftmaxStableAtExtremeScales) {
  // |logits| up to 1e4 divided by temperature 1e-4: logits of 1e8 magnitude.
  std::vector<double> z = {1e4 / 1e-4, -1e4 / 1e-4, 0.5e4 / 1e-4, 1e4 / 1e-4};
  const auto p = run(Normalizer::softmax, z);
  for (double x : p) EXPECT_TRUE(std::isfinite(x));
  EXPECT_NEAR(p[0], 0.5, 1e-15);
  EXPECT_NEAR(p[3], 0.5, 1e-15);
  std::vector<float> zf = {1e8f, -1e8f, 3e7f};
  std::vector<float> pf(3);
  normalize_row<float>(Normalizer::softmax, zf, pf);
  for (float x : pf) EXPECT_TRUE(std::isfinite(x));
  EXPECT_FLOAT_EQ(pf[0], 1.0f);
}

TEST(Normalizers, BackwardMatchesFiniteDifferences) {
  Rng rng(5);
  for (Normalizer n : kAll) {
    for (int trial = 0; trial < 20; ++trial) {
      const int m = 2 + trial % 9;
      std::vector<double> z(m), g(m);
      for (auto& x : z) x = 2.0 * rng.normal();
      for (auto& x : g) x = rng.normal();
      if (trial % 3 == 0) z[0] = -kInf;  // a masked key
      std::vector<double> p(m), dz(m);
      normalize_row<double>(n, z, p);
      normalize_row_backward<double>(n, z, p, g, dz);
      const double eps = 1e-6;
      for (int j = 0; j < m; ++j) {
        if (std::isinf(z[j])) {
          EXPECT_EQ(dz[j], 0.0);
          continue;
        }
        auto zp = z, zm = z;
        zp[j] += eps;
        zm[j] -= eps;
        const auto pp = run(n, zp), pm = run(n, zm);
        double fd = 0.0;
        for (int a = 0; a < m; ++a) fd += g[a] * (pp[a] - pm[a]) / (2 * eps);
        EXPECT_NEAR(dz[j], fd, 1e-6 * (1.0 + std::abs(fd)))
            << to_string(n) << " trial " << trial << " j " << j;
      }
    }
  }
}

TEST(Normalizers, JacobianIsSymmetricWithZeroRowSums) {
  const std::vector<double> z = {0.3, -1.2, 2.0, 0.1, 1.9};
  for (Normalizer n : {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15}) {
    const MatrixD j = normalizer_jacobian<double>(n, z);
    EXPECT_LT((j - j.transpose()).cwiseAbs().maxCoeff(), 1e-14) << to_string(n);
    EXPECT_LT(j.rowwise().sum().cwiseAbs().maxCoeff(), 1e-14) << to_string(n);
  }
  // Softmax: J = diag(α) − ααᵀ.
  std::vector<double> p(z.size());
  normalize_row<double>(Normalizer::softmax, z, p);
  const MatrixD j = normalizer_jacobian<double>(Normalizer::softmax, z);
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 5; ++b) EXPECT_NEAR(j(a, b), (a == b ? p[a] : 0.0) - p[a] * p[b], 1e-15);
}

TEST(Normalizers, ParseAndPrint) {
  for (Normalizer n : kAll) EXPECT_EQ(parse_normalizer(to_string(n)), n);
  EXPECT_THROW(parse_normalizer("softmaxx"), UsageError);
}

}  // namespace
}  // namespace attnlab::attention
