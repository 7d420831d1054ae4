#include "attnlab/attention/positional.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::attention {
namespace {

using attnlab::testing::max_abs_diff;
using attnlab::testing::random_tensor;

constexpr RopeStyle kStyles[] = {RopeStyle::half, RopeStyle::interleaved};

// ---- names -------------------------------------------------------------------------------------

TEST(PositionalEncodingNames, RoundTripAndUnknown) {
  for (PositionalEncoding p :
       {PositionalEncoding::none, PositionalEncoding::sinusoidal, PositionalEncoding::learned,
        PositionalEncoding::rope, PositionalEncoding::alibi}) {
    EXPECT_EQ(parse_positional_encoding(to_string(p)), p);
  }
  EXPECT_EQ(to_string(PositionalEncoding::rope), "rope");
  EXPECT_THROW(parse_positional_encoding("RoPE2"), UsageError);
  EXPECT_EQ(parse_rope_style("half"), RopeStyle::half);
  EXPECT_EQ(parse_rope_style(to_string(RopeStyle::interleaved)), RopeStyle::interleaved);
  EXPECT_THROW(parse_rope_style("neox"), UsageError);
}

// ---- sinusoidal --------------------------------------------------------------------------------

TEST(PositionalSinusoidal, GoldenValues) {
  const MatrixD pe = sinusoidal_table(5, 8);
  ASSERT_EQ(pe.rows(), 5);
  ASSERT_EQ(pe.cols(), 8);
  for (Index c = 0; c < 8; ++c) EXPECT_EQ(pe(0, c), c % 2 == 0 ? 0.0 : 1.0);  // p = 0
  // p = 3, D = 8: ω_i = 10000^(−2i/8) = 1, 0.1, 0.01, 0.001.
  EXPECT_NEAR(pe(3, 0), std::sin(3.0), 1e-15);
  EXPECT_NEAR(pe(3, 1), std::cos(3.0), 1e-15);
  EXPECT_NEAR(pe(3, 2), std::sin(0.3), 1e-15);
  EXPECT_NEAR(pe(3, 3), std::cos(0.3), 1e-15);
  EXPECT_NEAR(pe(3, 5), std::cos(0.03), 1e-15);
  EXPECT_NEAR(pe(3, 6), std::sin(0.003), 1e-15);
  EXPECT_NEAR(pe(1, 0), 0.8414709848078965, 1e-15);   // sin 1
  EXPECT_NEAR(pe(2, 1), -0.4161468365471424, 1e-15);  // cos 2
}

TEST(PositionalSinusoidal, OddDimensionEndsWithSin) {
  const MatrixD pe = sinusoidal_table(4, 5);
  // Column 4 = 2i with i = 2: sin(p · 10000^(−4/5)), no cos partner.
  const double omega = std::pow(10000.0, -0.8);
  for (Index p = 0; p < 4; ++p) {
    EXPECT_NEAR(pe(p, 4), std::sin(static_cast<double>(p) * omega), 1e-15);
    EXPECT_NEAR(pe(p, 3), std::cos(static_cast<double>(p) * std::pow(10000.0, -0.4)), 1e-15);
  }
}

TEST(PositionalSinusoidal, OffsetAndAdd) {
  const MatrixD full = sinusoidal_table(10, 6);
  const MatrixD tail = sinusoidal_table(4, 6, 6);
  EXPECT_EQ(max_abs_diff(tail, MatrixD(full.bottomRows(4))), 0.0);
  MatrixD x = random_tensor(1, 4, 6, 1).slice(0);
  const MatrixD x0 = x;
  add_sinusoidal(x, 6);
  EXPECT_LT(max_abs_diff(x, MatrixD(x0 + tail)), 1e-15);
  // Every entry is bounded and the base is a knob.
  EXPECT_LE(full.cwiseAbs().maxCoeff(), 1.0);
  EXPECT_NEAR(sinusoidal_table(3, 4, 0, 100.0)(2, 2), std::sin(2.0 / 10.0), 1e-15);
  EXPECT_THROW(sinusoidal_table(-1, 4), UsageError);
  EXPECT_THROW(sinusoidal_table(3, 0), UsageError);
  EXPECT_THROW(sinusoidal_table(3, 4, 0, 0.0), UsageError);
}

// ---- learned -----------------------------------------------------------------------------------

TEST(PositionalLearned, ApplyAddsTableRows) {
  const auto pos = LearnedPositions::initialize(10, 4, 7, 0.5);
  EXPECT_EQ(pos.max_length(), 10);
  EXPECT_EQ(pos.dim(), 4);
  EXPECT_EQ(max_abs_diff(pos.table, LearnedPositions::initialize(10, 4, 7, 0.5).table), 0.0);
  MatrixD x = MatrixD::Zero(3, 4);
  pos.apply(x, 5);
  EXPECT_EQ(max_abs_diff(x, MatrixD(pos.table.middleRows(5, 3))), 0.0);
  MatrixD y = MatrixD::Ones(3, 4);
  const std::vector<Index> p = {9, 0, 9};
  pos.apply(y, p);
  for (Index t = 0; t < 3; ++t) {
    EXPECT_EQ(max_abs_diff(MatrixD(y.row(t)), MatrixD(pos.table.row(p[t]).array() + 1.0)), 0.0);
  }
}

TEST(PositionalLearned, BackwardMatchesFiniteDifferences) {
  auto pos = LearnedPositions::initialize(8, 3, 1, 1.0);
  const MatrixD x = random_tensor(1, 5, 3, 2).slice(0);
  const MatrixD g = random_tensor(1, 5, 3, 3).slice(0);
  const std::vector<Index> p = {2, 7, 2, 0, 5};  // position 2 used twice: gradients accumulate
  // Loss L(table) = Σ (x + table[p] + 0.1·(x + table[p])²) ⊙ G: nonlinear downstream.
  auto loss = [&] {
    MatrixD y = x;
    pos.apply(y, p);
    return (g.array() * (y.array() + 0.1 * y.array().square())).sum();
  };
  MatrixD y = x;
  pos.apply(y, p);
  const MatrixD dy = (g.array() * (1.0 + 0.2 * y.array())).matrix();
  const MatrixD analytic = pos.backward(dy, p);
  double worst = 0.0;
  for (Index r = 0; r < 8; ++r) {
    for (Index c = 0; c < 3; ++c) {
      const double t0 = pos.table(r, c), eps = 1e-6;
      pos.table(r, c) = t0 + eps;
      const double fp = loss();
      pos.table(r, c) = t0 - eps;
      const double fm = loss();
      pos.table(r, c) = t0;
      worst = std::max(worst, std::abs((fp - fm) / (2 * eps) - analytic(r, c)));
    }
  }
  EXPECT_LT(worst / analytic.cwiseAbs().maxCoeff(), 1e-8);
  for (Index c = 0; c < 3; ++c) {
    EXPECT_EQ(analytic(1, c), 0.0);  // unused rows get no gradient
    EXPECT_NEAR(analytic(2, c), dy(0, c) + dy(2, c), 1e-15);
  }
  // The offset form agrees with explicit consecutive positions.
  const std::vector<Index> consecutive = {3, 4, 5, 6, 7};
  EXPECT_EQ(max_abs_diff(pos.backward(dy, 3), pos.backward(dy, consecutive)), 0.0);
}

TEST(PositionalLearned, Errors) {
  const auto pos = LearnedPositions::initialize(4, 2, 1);
  MatrixD x = MatrixD::Zero(3, 2);
  EXPECT_THROW(pos.apply(x, 2), InputError);  // positions 2, 3, 4: 4 ≥ L_max
  EXPECT_THROW(pos.apply(x, -1), InputError);
  EXPECT_EQ(max_abs_diff(x, MatrixD(MatrixD::Zero(3, 2))), 0.0);  // failed apply leaves x alone
  const std::vector<Index> bad = {0, 4, 1};
  EXPECT_THROW(pos.apply(x, bad), InputError);
  const std::vector<Index> two = {0, 1};
  EXPECT_THROW(pos.apply(x, two), UsageError);
  MatrixD wrong_d = MatrixD::Zero(3, 5);
  EXPECT_THROW(pos.apply(wrong_d, 0), UsageError);
  EXPECT_THROW(pos.backward(x, 2), InputError);
  EXPECT_THROW(LearnedPositions::initialize(0, 2, 1), UsageError);
}

// ---- RoPE --------------------------------------------------------------------------------------

// Rotates a single vector to position p.
VectorD rope_at(const VectorD& x, Index p, RopeStyle style, double base = 10000.0) {
  Tensor3d t(1, 1, x.size());
  for (Index c = 0; c < x.size(); ++c) t(0, 0, c) = x(c);
  apply_rope(t, p, base, style);
  VectorD out(x.size());
  for (Index c = 0; c < x.size(); ++c) out(c) = t(0, 0, c);
  return out;
}

TEST(Rope, GoldenTwoDimensions) {
  // d = 2: one pair, θ_0 = 1, so position p rotates by p radians in both styles.
  for (RopeStyle style : kStyles) {
    const VectorD r = rope_at(VectorD::Unit(2, 0), 3, style);
    EXPECT_NEAR(r(0), std::cos(3.0), 1e-15);
    EXPECT_NEAR(r(1), std::sin(3.0), 1e-15);
  }
  // d = 4, half style, base 100: pairs (0, 2) at θ = 1 and (1, 3) at θ = 0.1.
  const VectorD r = rope_at(VectorD::Unit(4, 1), 2, RopeStyle::half, 100.0);
  EXPECT_NEAR(r(1), std::cos(0.2), 1e-15);
  EXPECT_NEAR(r(3), std::sin(0.2), 1e-15);
  EXPECT_EQ(r(0), 0.0);
  EXPECT_EQ(r(2), 0.0);
  // Interleaved: pairs (0, 1) and (2, 3).
  const VectorD s = rope_at(VectorD::Unit(4, 2), 2, RopeStyle::interleaved, 100.0);
  EXPECT_NEAR(s(2), std::cos(0.2), 1e-15);
  EXPECT_NEAR(s(3), std::sin(0.2), 1e-15);
}

TEST(Rope, PreservesNorms) {
  for (RopeStyle style : kStyles) {
    Tensor3d x = random_tensor(3, 20, 16, 5);
    const Tensor3d x0 = x;
    apply_rope(x, 7, 10000.0, style);
    EXPECT_GT(max_abs_diff(x, x0), 0.1);
    for (Index h = 0; h < 3; ++h) {
      for (Index t = 0; t < 20; ++t) {
        EXPECT_NEAR(x.slice(h).row(t).norm(), x0.slice(h).row(t).norm(), 1e-13);
      }
    }
  }
}

TEST(Rope, DotDependsOnlyOnRelativePosition) {
  const VectorD q = random_tensor(1, 1, 8, 1).slice(0).row(0).transpose();
  const VectorD k = random_tensor(1, 1, 8, 2).slice(0).row(0).transpose();
  for (RopeStyle style : kStyles) {
    for (Index delta : {0, 1, 5, -3, 40}) {
      const double ref = rope_at(q, delta, style).dot(rope_at(k, 0, style));
      for (Index r : {1, 17, 250, 4096}) {
        EXPECT_NEAR(rope_at(q, r + delta, style).dot(rope_at(k, r, style)), ref, 1e-11)
            << "delta=" << delta << " r=" << r;
      }
    }
    // And it does depend on the difference.
    EXPECT_GT(std::abs(rope_at(q, 3, style).dot(rope_at(k, 0, style)) - q.dot(k)), 1e-3);
  }
}

TEST(Rope, StylesArePairPermutationsOfEachOther) {
  // half on x equals interleaved on P x, mapped back: pair (i, i + d/2) ↔ (2i, 2i + 1).
  const Index d = 10;
  Tensor3d x = random_tensor(2, 6, d, 9);
  Tensor3d y(2, 6, d);
  for (Index h = 0; h < 2; ++h)
    for (Index t = 0; t < 6; ++t)
      for (Index i = 0; i < d / 2; ++i) {
        y(h, t, 2 * i) = x(h, t, i);
        y(h, t, 2 * i + 1) = x(h, t, i + d / 2);
      }
  apply_rope(x, 3, 10000.0, RopeStyle::half);
  apply_rope(y, 3, 10000.0, RopeStyle::interleaved);
  double worst = 0.0;
  for (Index h = 0; h < 2; ++h)
    for (Index t = 0; t < 6; ++t)
      for (Index i = 0; i < d / 2; ++i) {
        worst = std::max(worst, std::abs(y(h, t, 2 * i) - x(h, t, i)));
        worst = std::max(worst, std::abs(y(h, t, 2 * i + 1) - x(h, t, i + d / 2)));
      }
  EXPECT_EQ(worst, 0.0);
}

TEST(Rope, BackwardMatchesFiniteDifferences) {
  for (RopeStyle style : kStyles) {
    Tensor3d x = random_tensor(2, 5, 6, 3);
    const Tensor3d g = random_tensor(2, 5, 6, 4);
    const Index offset = -2;  // a query block with N > M sits at negative positions
    // Loss L = Σ (rope(x) + 0.1·rope(x)²) ⊙ G.
    auto loss = [&] {
      Tensor3d y = x;
      apply_rope(y, offset, 10000.0, style);
      double s = 0.0;
      for (Index i = 0; i < y.size(); ++i)
        s += g.data()[i] * (y.data()[i] + 0.1 * y.data()[i] * y.data()[i]);
      return s;
    };
    Tensor3d y = x;
    apply_rope(y, offset, 10000.0, style);
    Tensor3d dx(2, 5, 6);
    for (Index i = 0; i < y.size(); ++i) dx.data()[i] = g.data()[i] * (1.0 + 0.2 * y.data()[i]);
    apply_rope_backward(dx, offset, 10000.0, style);
    double worst = 0.0, scale = 0.0;
    for (Index i = 0; i < x.size(); ++i) {
      const double x0 = x.data()[i], eps = 1e-6;
      x.data()[i] = x0 + eps;
      const double fp = loss();
      x.data()[i] = x0 - eps;
      const double fm = loss();
      x.data()[i] = x0;
      const double fd = (fp - fm) / (2 * eps);
      worst = std::max(worst, std::abs(fd - dx.data()[i]));
      scale = std::max(scale, std::abs(fd));
    }
    EXPECT_LT(worst / scale, 1e-8) << to_string(style);
    // Backward of forward is the identity (R⁻¹ = Rᵀ).
    Tensor3d z = x;
    apply_rope(z, 11, 500.0, style);
    apply_rope_backward(z, 11, 500.0, style);
    EXPECT_LT(max_abs_diff(z, x), 1e-14);
  }
}

TEST(Rope, QkUsesSpecAlignment) {
  // apply_rope_qk puts query i at i + (M − N): the last query and the last key share a position,
  // so equal vectors there stay equal.
  for (RopeStyle style : kStyles) {
    Tensor3d q = random_tensor(2, 3, 8, 1), k = random_tensor(2, 7, 8, 2);
    for (Index h = 0; h < 2; ++h)
      for (Index c = 0; c < 8; ++c) k(h, 6, c) = q(h, 2, c);
    Tensor3d q_expected = q;
    apply_rope(q_expected, 4, 10000.0, style);
    apply_rope_qk(q, k, 10000.0, style);
    EXPECT_EQ(max_abs_diff(q, q_expected), 0.0);
    for (Index h = 0; h < 2; ++h)
      for (Index c = 0; c < 8; ++c) EXPECT_EQ(q(h, 2, c), k(h, 6, c));
  }
}

TEST(Rope, Errors) {
  Tensor3d odd = random_tensor(1, 3, 5, 1);
  const Tensor3d odd0 = odd;
  EXPECT_THROW(apply_rope(odd, 0), UsageError);
  EXPECT_THROW(apply_rope_backward(odd, 0), UsageError);
  EXPECT_EQ(max_abs_diff(odd, odd0), 0.0);
  Tensor3d even = random_tensor(1, 3, 4, 1);
  EXPECT_THROW(apply_rope(even, 0, 0.0), UsageError);
  EXPECT_THROW(apply_rope(even, 0, -5.0), UsageError);
  Tensor3d k = random_tensor(1, 3, 5, 1);
  const Tensor3d even0 = even;
  EXPECT_THROW(apply_rope_qk(even, k), UsageError);
  Tensor3d k_odd = random_tensor(1, 4, 5, 2);
  EXPECT_THROW(apply_rope_qk(odd, k_odd), UsageError);
  EXPECT_EQ(max_abs_diff(even, even0), 0.0);
}

// ---- ALiBi -------------------------------------------------------------------------------------

TEST(PositionalAlibi, EqualsScoreModsBias) {
  const Index H = 4;
  for (auto [N, M] : {std::pair<Index, Index>{5, 9}, {9, 5}, {6, 6}}) {
    AttentionSpec spec;
    spec.alibi = true;
    const ScoreMods mods(spec, H, N, M, 8);
    for (Index h = 0; h < H; ++h) {
      const MatrixD b = alibi_head_bias(h, H, N, M);
      ASSERT_EQ(b.rows(), N);
      ASSERT_EQ(b.cols(), M);
      for (Index i = 0; i < N; ++i)
        for (Index j = 0; j < M; ++j) EXPECT_EQ(b(i, j), mods.bias(h, i, j)) << h << i << j;
    }
  }
  // Hand values: slope of head 0 of 4 is 2^−2; query 1 of N = 2, M = 4 sits at 3.
  const MatrixD b = alibi_head_bias(0, 4, 2, 4);
  EXPECT_EQ(b(1, 3), 0.0);
  EXPECT_EQ(b(1, 0), -0.75);
  EXPECT_EQ(b(0, 3), -0.25);  // non-causal side: |Δ| = 1
  EXPECT_EQ(alibi_bias(0.5, 3, 3)(2, 0), -1.0);
  EXPECT_THROW(alibi_head_bias(4, 4, 2, 2), UsageError);
  EXPECT_THROW(alibi_bias(0.5, -1, 2), UsageError);
}

}  // namespace
}  // namespace attnlab::attention
