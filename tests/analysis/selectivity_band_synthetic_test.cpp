// Lemma 1's length band on random rows, synthetic tokens (radius, spacing, determinism) and the
// source abstraction (NPY-shaped arrays, validation).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attnlab/analysis/selectivity/length_band.hpp"
#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/analysis/selectivity/source.hpp"
#include "attnlab/analysis/selectivity/synthetic_tokens.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using attention::Normalizer;

TEST(LengthBand, SoftmaxRowsAlwaysInsideLemmaOneBand) {
  Rng rng(12);
  for (int trial = 0; trial < 300; ++trial) {
    const Index L = 2 + trial * 7 % 500, d = 1 + trial % 9;
    const double T = std::pow(10.0, -1.0 + (trial % 5) * 0.5);
    MatrixD k(L, d);
    VectorD q(d);
    rng.fill_normal(k.data(), k.size(), 0.0, 1.0 + trial % 3);
    rng.fill_normal(q.data(), q.size());
    const VectorD z = k * q;
    double kmax = 0;
    for (Index j = 0; j < L; ++j) kmax = std::max(kmax, k.row(j).norm());
    std::vector<double> zs(z.data(), z.data() + L), lg(L), w(L), lw(L);
    for (Normalizer n : {Normalizer::softmax, Normalizer::ssmax}) {
      const NormalizerSetting s{n, T, 0.5};
      row_weights(s, zs, lg, w);
      row_log_weights(n, lg, w, lw);
      const BandCheck b = check_length_band(lw, logit_scale(s, L) * q.norm() * kmax);
      EXPECT_TRUE(b.inside) << "trial " << trial << " " << attention::to_string(n);
      EXPECT_GE(b.upper_use, 0.0);
      EXPECT_LE(b.upper_use, 1.0 + 1e-12);
      EXPECT_LE(b.lower_use, 1.0 + 1e-12);
      // Direct check of the statement itself in log space (α itself may underflow to 0).
      for (double la : lw) {
        EXPECT_LE(la + std::log(static_cast<double>(L)), b.exponent * (1 + 1e-12) + 1e-12);
        EXPECT_GE(la + std::log(static_cast<double>(L)), -b.exponent * (1 + 1e-12) - 1e-12);
      }
      // Where nothing underflows the log weights are the weights.
      for (Index j = 0; j < L; ++j)
        if (w[j] > 1e-300) EXPECT_NEAR(std::exp(lw[j]), w[j], 1e-12 * w[j] + 1e-300);
    }
  }
}

TEST(LengthBand, ExactZerosViolateTheLowerSide) {
  const std::vector<double> w = {0.75, 0.25, 0.0}, lg = {2.0, 1.0, 0.0};
  std::vector<double> lw(3);
  row_log_weights(Normalizer::sparsemax, lg, w, lw);
  const BandCheck b = check_length_band(lw, 1000.0);  // e^(−2000) underflows, the check does not
  EXPECT_FALSE(b.inside);
  EXPECT_TRUE(std::isinf(b.lower_use));
  const std::vector<double> uniform(4, std::log(0.25));
  const BandCheck u = check_length_band(uniform, 0.0);
  EXPECT_TRUE(u.inside);
  EXPECT_EQ(u.upper_use, 0.0);
}

TEST(SyntheticTokens, RadiusAndSpacingHold) {
  // In 3 dimensions a spacing of M/2 binds: many candidates are rejected.
  Rng rng(4);
  const MatrixD x = sample_sphere_points(15, 3, 2.0, 1.0, rng);
  ASSERT_EQ(x.rows(), 15);
  for (Index i = 0; i < x.rows(); ++i) EXPECT_NEAR(x.row(i).norm(), 2.0, 1e-13);
  EXPECT_GE(min_pairwise_distance(x), 1.0);
  Rng free_rng(4);
  EXPECT_LT(min_pairwise_distance(sample_sphere_points(15, 3, 2.0, 0.0, free_rng)), 1.0);
  // Roughly uniform: the mean of many points is near the center.
  Rng rng2(5);
  const MatrixD y = sample_sphere_points(2000, 3, 1.0, 0.0, rng2);
  EXPECT_LT(y.colwise().mean().norm(), 0.1);
}

TEST(SyntheticTokens, ImpossibleSpacingIsAClearError) {
  Rng rng(1);
  EXPECT_THROW(sample_sphere_points(100, 2, 1.0, 1.5, rng, 500), InputError);  // circle is full
  EXPECT_THROW(sample_sphere_points(3, 3, 1.0, 2.5, rng), UsageError);         // δ > 2M
  EXPECT_THROW(sample_sphere_points(3, 3, -1.0, 0.1, rng), UsageError);
}

TEST(SyntheticSource, DeterministicAndShapedAsAsked) {
  SyntheticOptions o;
  o.heads = 3;
  o.queries = 4;
  o.length = 50;
  o.dim = 8;
  o.gain_spread = 0.5;
  o.seed = 9;
  const SelectivitySource a = make_synthetic_source(o), b = make_synthetic_source(o);
  ASSERT_EQ(a.num_heads(), 3);
  EXPECT_EQ(a.num_queries(), 4);
  EXPECT_EQ(a.max_length(), 50);
  EXPECT_EQ(a.key_dim(), 8);
  for (Index h = 0; h < 3; ++h) {
    EXPECT_EQ(testing::max_abs_diff(a.heads[h].q, b.heads[h].q), 0.0);
    EXPECT_EQ(testing::max_abs_diff(a.heads[h].k, b.heads[h].k), 0.0);
    // Tied tokens: x = k (value spread 0); keys on the sphere of radius √d with spacing √d/2.
    EXPECT_EQ(testing::max_abs_diff(a.heads[h].x, a.heads[h].k), 0.0);
    for (Index j = 0; j < 50; ++j) EXPECT_NEAR(a.heads[h].k.row(j).norm(), std::sqrt(8.0), 1e-12);
    EXPECT_GE(min_pairwise_distance(a.heads[h].k), std::sqrt(8.0) / 2);
  }
  o.independent_tokens = true;
  o.value_spread = 1.0;
  const SelectivitySource c = make_synthetic_source(o);
  EXPECT_GT(testing::max_abs_diff(c.heads[0].x, c.heads[0].k), 0.1);
  o.seed = 10;
  EXPECT_GT(testing::max_abs_diff(make_synthetic_source(o).heads[0].k, c.heads[0].k), 0.1);
}

TEST(SelectivitySourceArrays, BroadcastsHiddenStatesAndValidatesShapes) {
  const Tensor3d q = testing::random_tensor(2, 3, 4, 1), k = testing::random_tensor(2, 6, 4, 2);
  const Tensor3d hidden = testing::random_tensor(1, 6, 5, 3);
  const SelectivitySource s = source_from_arrays(q, k, hidden, true, "hidden", "test");
  EXPECT_EQ(s.num_heads(), 2);
  EXPECT_EQ(s.token_dim(), 5);
  EXPECT_EQ(testing::max_abs_diff(s.heads[1].x, MatrixD(hidden.slice(0))), 0.0);
  EXPECT_EQ(s.query_position(0), 3);  // the last query sits at the last key
  EXPECT_THROW(source_from_arrays(q, testing::random_tensor(2, 6, 3, 2), hidden, false, "v", ""),
               InputError);
  EXPECT_THROW(source_from_arrays(q, k, testing::random_tensor(1, 5, 5, 3), false, "v", ""),
               InputError);
  EXPECT_THROW(source_from_arrays(q, testing::random_tensor(3, 6, 4, 2), hidden, false, "v", ""),
               InputError);
  Tensor3d bad = q;
  bad(1, 2, 3) = std::nan("");
  EXPECT_THROW(source_from_arrays(bad, k, hidden, false, "v", ""), InputError);
  // Causal sources need no more queries than keys.
  EXPECT_THROW(source_from_arrays(testing::random_tensor(2, 7, 4, 1), k, hidden, true, "v", ""),
               InputError);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
