#include "attnlab/attention/reference_attention.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::attention {
namespace {

using testing::random_tensor;

struct NamedMod {
  std::string name;
  std::function<void(AttentionSpec&, Index M)> apply;
};

std::vector<NamedMod> all_mods() {
  return {
      {"plain", [](AttentionSpec&, Index) {}},
      {"causal", [](AttentionSpec& s, Index) { s.causal = true; }},
      {"window3", [](AttentionSpec& s, Index) { s.window = 3; }},
      {"causal_window3", [](AttentionSpec& s, Index) { s.causal = true, s.window = 3; }},
      {"causal_window2_sinks2",
       [](AttentionSpec& s, Index) { s.causal = true, s.window = 2, s.sinks = 2; }},
      {"decay_per_head",
       [](AttentionSpec& s, Index) {
         s.decay = {0.3, 0.7};
       }},
      {"alibi", [](AttentionSpec& s, Index) { s.alibi = true; }},
      {"causal_alibi_window4",
       [](AttentionSpec& s, Index) { s.causal = true, s.alibi = true, s.window = 4; }},
      {"topk3", [](AttentionSpec& s, Index) { s.topk = 3; }},
      {"causal_topk2", [](AttentionSpec& s, Index) { s.causal = true, s.topk = 2; }},
      {"key_mask",
       [](AttentionSpec& s, Index M) {
         s.key_mask.assign(static_cast<std::size_t>(M), 1);
         s.key_mask[1] = 0;
       }},
      {"causal_decay_mask",
       [](AttentionSpec& s, Index M) {
         s.causal = true;
         s.decay = {0.5};
         s.key_mask.assign(static_cast<std::size_t>(M), 1);
         s.key_mask[M - 1] = 0;
       }},
      {"temperature0_7", [](AttentionSpec& s, Index) { s.temperature = 0.7; }},
  };
}

const Normalizer kNormalizers[] = {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15,
                                   Normalizer::ssmax, Normalizer::none};

double loss(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v, const AttentionSpec& s,
            const Tensor3d& g) {
  const auto f = attention_forward_reference(q, k, v, s);
  double l = 0.0;
  for (Index i = 0; i < g.size(); ++i) l += f.out.data()[i] * g.data()[i];
  return l;
}

// Checks an analytic gradient of `loss` against central differences over every entry of x.
void expect_gradient(Tensor3d& x, const Tensor3d& analytic, const std::function<double()>& f,
                     const std::string& what) {
  const double eps = 1e-6;
  for (Index i = 0; i < x.size(); ++i) {
    const double x0 = x.data()[i];
    x.data()[i] = x0 + eps;
    const double fp = f();
    x.data()[i] = x0 - eps;
    const double fm = f();
    x.data()[i] = x0;
    const double fd = (fp - fm) / (2 * eps);
    ASSERT_NEAR(analytic.data()[i], fd, 1e-6 * (1.0 + std::abs(fd))) << what << " entry " << i;
  }
}

class ReferenceGradient : public ::testing::TestWithParam<std::tuple<Normalizer, int, int>> {};

TEST_P(ReferenceGradient, MatchesFiniteDifferences) {
  const auto [normalizer, mod_index, shape_index] = GetParam();
  const NamedMod mod = all_mods()[mod_index];
  const Index H = 2, d = 3, dv = 4;
  const Index N = shape_index == 0 ? 5 : 6, M = shape_index == 0 ? 7 : 4;
  AttentionSpec spec;
  spec.normalizer = normalizer;
  spec.ssmax_s = 0.8;
  mod.apply(spec, M);
  const std::uint64_t seed = 1000 + 31 * mod_index + shape_index;
  Tensor3d q = random_tensor(H, N, d, seed), k = random_tensor(H, M, d, seed + 1),
           v = random_tensor(H, M, dv, seed + 2), g = random_tensor(H, N, dv, seed + 3);
  const auto grads = attention_backward_reference(q, k, v, spec, g);
  const std::string tag = std::string(to_string(normalizer)) + "/" + mod.name;
  auto f = [&] { return loss(q, k, v, spec, g); };
  expect_gradient(q, grads.dq, f, tag + " dq");
  expect_gradient(k, grads.dk, f, tag + " dk");
  expect_gradient(v, grads.dv, f, tag + " dv");
  if (!spec.decay.empty()) {  // ∂loss/∂γ_h equals dslope_h
    for (std::size_t h = 0; h < spec.decay.size(); ++h) {
      const double eps = 1e-6, g0 = spec.decay[h];
      spec.decay[h] = g0 + eps;
      const double fp = f();
      spec.decay[h] = g0 - eps;
      const double fm = f();
      spec.decay[h] = g0;
      double analytic = 0.0;
      if (spec.decay.size() == 1)
        for (double ds : grads.dslope) analytic += ds;
      else
        analytic = grads.dslope[h];
      EXPECT_NEAR(analytic, (fp - fm) / (2 * eps), 1e-6) << tag << " dslope";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryNormalizerAndMod, ReferenceGradient,
                         ::testing::Combine(::testing::ValuesIn(kNormalizers),
                                            ::testing::Range(0,
                                                             static_cast<int>(all_mods().size())),
                                            ::testing::Values(0, 1)),
                         [](const auto& info) {
                           return std::string(to_string(std::get<0>(info.param))) + "_" +
                                  all_mods()[std::get<1>(info.param)].name +
                                  (std::get<2>(info.param) ? "_NgtM" : "_NltM");
                         });

TEST(ReferenceAttention, PlainSoftmaxMatchesTextbookFormula) {
  const Index H = 3, N = 6, M = 9, d = 5, dv = 2;
  const Tensor3d q = random_tensor(H, N, d, 1), k = random_tensor(H, M, d, 2),
                 v = random_tensor(H, M, dv, 3);
  const auto f = attention_forward_reference(q, k, v, AttentionSpec{});
  for (Index h = 0; h < H; ++h) {
    MatrixD s = q.slice(h) * k.slice(h).transpose() / std::sqrt(5.0);
    for (Index i = 0; i < N; ++i) {
      const double mx = s.row(i).maxCoeff();
      s.row(i) = (s.row(i).array() - mx).exp().matrix();
      s.row(i) /= s.row(i).sum();
    }
    const MatrixD o = s * v.slice(h);
    EXPECT_LT((o - f.out.slice(h)).cwiseAbs().maxCoeff(), 1e-14);
  }
}

TEST(ReferenceAttention, FullyMaskedRowsAreZeroNotNaN) {
  // N > M with causal: queries 0..2 sit at negative positions and see no key.
  const Tensor3d q = random_tensor(1, 5, 4, 1), k = random_tensor(1, 2, 4, 2),
                 v = random_tensor(1, 2, 3, 3);
  for (Normalizer n : kNormalizers) {
    AttentionSpec s;
    s.normalizer = n;
    s.causal = true;
    const auto f = attention_forward_reference(q, k, v, s);
    for (Index i = 0; i < 3; ++i)
      for (Index c = 0; c < 3; ++c) EXPECT_EQ(f.out(0, i, c), 0.0) << to_string(n);
    for (Index c = 0; c < 3; ++c) EXPECT_NE(f.out(0, 4, c), 0.0);
    // All keys padded: everything zero, gradients zero and finite.
    s.causal = false;
    s.key_mask = {0, 0};
    const auto g = attention_backward_reference(q, k, v, s, random_tensor(1, 5, 3, 4));
    for (Index i = 0; i < g.dq.size(); ++i) EXPECT_EQ(g.dq.data()[i], 0.0);
    for (Index i = 0; i < g.dv.size(); ++i) EXPECT_EQ(g.dv.data()[i], 0.0);
  }
}

TEST(ReferenceAttention, StableAtHugeLogitsAndTinyTemperature) {
  Tensor3d q = random_tensor(2, 8, 4, 5, 100.0), k = random_tensor(2, 8, 4, 6, 100.0),
           v = random_tensor(2, 8, 4, 7);
  AttentionSpec s;
  s.temperature = 1e-4;  // logits ~ 1e4 / 1e-4 = 1e8
  for (Normalizer n :
       {Normalizer::softmax, Normalizer::ssmax, Normalizer::sparsemax, Normalizer::entmax15}) {
    s.normalizer = n;
    const auto f = attention_forward_reference(q, k, v, s);
    for (Index i = 0; i < f.out.size(); ++i) ASSERT_TRUE(std::isfinite(f.out.data()[i]));
    for (Index h = 0; h < 2; ++h)
      for (Index i = 0; i < 8; ++i) {
        double sum = 0;
        for (Index j = 0; j < 8; ++j) sum += f.weights(h, i, j);
        EXPECT_NEAR(sum, 1.0, 1e-12) << to_string(n);
      }
    const auto g = attention_backward_reference(q, k, v, s, random_tensor(2, 8, 4, 8));
    for (Index i = 0; i < g.dq.size(); ++i) ASSERT_TRUE(std::isfinite(g.dq.data()[i]));
  }
}

TEST(ReferenceAttention, TopKKeepsAtMostKAndIsNoOpWhenLarge) {
  const Tensor3d q = random_tensor(2, 6, 4, 1), k = random_tensor(2, 10, 4, 2),
                 v = random_tensor(2, 10, 3, 3);
  AttentionSpec s;
  s.topk = 3;
  const auto f = attention_forward_reference(q, k, v, s);
  for (Index h = 0; h < 2; ++h)
    for (Index i = 0; i < 6; ++i) {
      int nonzero = 0;
      for (Index j = 0; j < 10; ++j) nonzero += f.weights(h, i, j) > 0;
      EXPECT_EQ(nonzero, 3);
    }
  s.topk = 10;
  const auto all = attention_forward_reference(q, k, v, s);
  const auto plain = attention_forward_reference(q, k, v, AttentionSpec{});
  EXPECT_EQ(testing::max_abs_diff(all.out, plain.out), 0.0);
  // Ties break towards the lower key index.
  std::vector<double> row = {1.0, 2.0, 2.0, 0.5, 2.0};
  apply_topk_row(row, 2);
  EXPECT_EQ(row[1], 2.0);
  EXPECT_EQ(row[2], 2.0);
  EXPECT_TRUE(std::isinf(row[4]));
}

TEST(ReferenceAttention, ScalableSoftmaxIsSoftmaxAtRescaledTemperature) {
  const Tensor3d q = random_tensor(1, 4, 8, 1), k = random_tensor(1, 12, 8, 2),
                 v = random_tensor(1, 12, 3, 3);
  AttentionSpec ss;
  ss.normalizer = Normalizer::ssmax;
  ss.ssmax_s = 0.43;
  AttentionSpec sm;
  sm.temperature = std::sqrt(8.0) / (0.43 * std::log(12.0));
  const auto a = attention_forward_reference(q, k, v, ss),
             b = attention_forward_reference(q, k, v, sm);
  EXPECT_LT(testing::max_abs_diff(a.out, b.out), 1e-14);
}

TEST(ReferenceAttention, LastQueryAlignsWithLastKey) {
  // Decoding: one query over M keys with causal sees every key.
  const Tensor3d q = random_tensor(1, 1, 4, 1), k = random_tensor(1, 7, 4, 2),
                 v = random_tensor(1, 7, 2, 3);
  AttentionSpec causal;
  causal.causal = true;
  const auto a = attention_forward_reference(q, k, v, causal);
  const auto b = attention_forward_reference(q, k, v, AttentionSpec{});
  EXPECT_EQ(testing::max_abs_diff(a.out, b.out), 0.0);
}

TEST(ReferenceAttention, ShapeMismatchIsUsageError) {
  const Tensor3d q = random_tensor(1, 4, 4, 1), k = random_tensor(1, 5, 3, 2),
                 v = random_tensor(1, 5, 2, 3);
  EXPECT_THROW(attention_forward_reference(q, k, v, AttentionSpec{}), UsageError);
  const Tensor3d k2 = random_tensor(1, 5, 4, 2), v2 = random_tensor(1, 6, 2, 3);
  EXPECT_THROW(attention_forward_reference(q, k2, v2, AttentionSpec{}), UsageError);
}

}  // namespace
}  // namespace attnlab::attention
