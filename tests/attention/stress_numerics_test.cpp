// Property-based stress sweep (issue #15, "numerics under stress"): random specs × random shapes ×
// extreme inputs — logits up to ~±1e4 (typical |q·k|/T of 1, 1e2 or 1e4), temperatures down to
// 1e-4, fully masked rows, N = 1, M = 1; plus scores beyond 2^24, where only finiteness holds.
// For every case: the fp64 reference has no NaN/Inf, each visible row's weights form a
// distribution (sum 1, in [0, 1]) and an empty row gives 0; the fused fp32 kernel (softmax family)
// matches the reference to 1e-5 of the output scale, forward and backward, and is bit-identical
// across two runs at a fixed thread count; sparsemax and entmax-1.5 rows are distributions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::attention {
namespace {

struct StressCase {
  AttentionSpec spec;
  Index H = 1, N = 1, M = 1, d = 1, dv = 1;
  double q_scale = 1.0;  // logits reach ~ q_scale · k_scale · √d / T
  double k_scale = 1.0;
  std::string label;
};

Index pick_index(Rng& rng, std::initializer_list<Index> values) {
  const auto i =
      static_cast<std::size_t>(rng.uniform_int(static_cast<std::uint64_t>(values.size())));
  return *(values.begin() + i);
}

double pick_real(Rng& rng, std::initializer_list<double> values) {
  const auto i =
      static_cast<std::size_t>(rng.uniform_int(static_cast<std::uint64_t>(values.size())));
  return *(values.begin() + i);
}

// One random case: shapes from a set with the edges (1) in it, mods drawn independently.
StressCase draw_case(std::uint64_t seed, bool softmax_family) {
  Rng rng(seed);
  StressCase c;
  c.H = pick_index(rng, {1, 2, 3});
  c.N = pick_index(rng, {1, 1, 2, 7, 33, 64, 97});
  c.M = pick_index(rng, {1, 1, 3, 16, 65, 130});
  c.d = pick_index(rng, {1, 8, 16, 33, 64});
  c.dv = pick_index(rng, {1, 8, 24});
  AttentionSpec& s = c.spec;
  if (softmax_family) {
    s.normalizer = rng.uniform() < 0.3 ? Normalizer::ssmax : Normalizer::softmax;
  } else {
    s.normalizer = rng.uniform() < 0.5 ? Normalizer::sparsemax : Normalizer::entmax15;
  }
  s.temperature = pick_real(rng, {0.0, 1e-4, 1e-2, 1.0, 10.0});
  s.causal = rng.uniform() < 0.5;
  if (rng.uniform() < 0.4) {
    s.window = pick_index(rng, {1, 2, 5, 40});
    if (rng.uniform() < 0.5) s.sinks = pick_index(rng, {1, 4});
  }
  if (rng.uniform() < 0.3) s.decay = {pick_real(rng, {1e-3, 0.1, 5.0})};
  if (rng.uniform() < 0.3) s.alibi = true;
  if (rng.uniform() < 0.4) {
    s.key_mask.assign(static_cast<std::size_t>(c.M), 1);
    const double drop = pick_real(rng, {0.3, 1.0});  // 1.0: every key masked, every row empty
    for (auto& m : s.key_mask) m = rng.uniform() < drop ? 0 : 1;
  }
  // Typical |logit| = |q·k|/T: ordinary (1), large (1e2) or extreme (1e4), whatever the
  // temperature: q and k entries scale by √(L·T/√d) each, so q·k/T ~ L.
  const double mag = pick_real(rng, {1.0, 100.0, 1e4});
  const double temp = s.temperature > 0 ? s.temperature : std::sqrt(static_cast<double>(c.d));
  c.q_scale = c.k_scale = std::sqrt(mag * temp / std::sqrt(static_cast<double>(c.d)));
  c.label = "seed " + std::to_string(seed) + ": H" + std::to_string(c.H) + " N" +
            std::to_string(c.N) + " M" + std::to_string(c.M) + " d" + std::to_string(c.d) +
            " logits ~" + std::to_string(mag) + " " + s.describe();
  return c;
}

Tensor3d rounded(const Tensor3d& t) {
  return t.cast<float>().cast<double>();
}

bool all_finite(const Tensor3d& t) {
  for (Index i = 0; i < t.size(); ++i)
    if (!std::isfinite(t.data()[i])) return false;
  return true;
}

// Every row of weights is a distribution (visible row) or all zero (empty row, out = 0).
void expect_distributions(const ReferenceForward& r, const StressCase& c) {
  for (Index h = 0; h < c.H; ++h)
    for (Index i = 0; i < c.N; ++i) {
      double sum = 0;
      bool any_visible = false;
      for (Index j = 0; j < c.M; ++j) {
        const double w = r.weights(h, i, j);
        ASSERT_TRUE(w >= 0.0 && w <= 1.0 + 1e-12) << c.label << " w=" << w;
        sum += w;
        any_visible = any_visible || std::isfinite(r.logits(h, i, j));
      }
      if (any_visible) {
        ASSERT_NEAR(sum, 1.0, 1e-9) << c.label << " h" << h << " i" << i;
      } else {
        ASSERT_EQ(sum, 0.0) << c.label;
        for (Index e = 0; e < c.dv; ++e) ASSERT_EQ(r.out(h, i, e), 0.0) << c.label;
      }
    }
}

// max |a − b| / max(max |b|, floor): the floor is the quantity's natural scale, so a gradient that
// is exactly 0 in fp64 (one key: softmax has no gradient) is compared with what it would be.
double err(const Tensor3f& a, const Tensor3d& b, double floor) {
  double diff = 0, mag = floor;
  for (Index i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
    mag = std::max(mag, std::abs(b.data()[i]));
  }
  return diff / mag;
}

double max_abs_logit(const ReferenceForward& r) {
  double m = 0;
  for (Index i = 0; i < r.logits.size(); ++i)
    if (std::isfinite(r.logits.data()[i])) m = std::max(m, std::abs(r.logits.data()[i]));
  return m;
}

double max_abs(const Tensor3d& t) {
  double m = 0;
  for (Index i = 0; i < t.size(); ++i) m = std::max(m, std::abs(t.data()[i]));
  return m;
}

// The fp32 kernel rounds each score: |δℓ| ≲ 2⁻²⁴ (√d · Σ_t |q_t k_t| · f + |ℓ|) with f = 1/T (times
// s·log M for ssmax). Softmax turns a score error δ into weight errors of about δ, so no fp32
// kernel can be closer to the fp64 reference than that; the comparisons allow 1e-5 + 8δ. For
// ordinary inputs δ ~ 1e-6 and the bound is the usual 1e-5; at logits ~1e4 it is what fp32 can do.
double score_rounding(const StressCase& c, const Tensor3d& q, const Tensor3d& k,
                      const ReferenceForward& ref) {
  const double temp = c.spec.temperature > 0 ? c.spec.temperature : std::sqrt(double(c.d));
  double f = 1.0 / temp;
  if (c.spec.normalizer == Normalizer::ssmax)
    f *= std::max(1.0, c.spec.ssmax_s * std::log(double(c.M)));
  double worst = 0;
  for (Index h = 0; h < c.H; ++h)
    for (Index i = 0; i < c.N; ++i)
      for (Index j = 0; j < c.M; ++j) {
        if (!std::isfinite(ref.logits(h, i, j))) continue;
        double abs_dot = 0;
        for (Index t = 0; t < c.d; ++t) abs_dot += std::abs(q(h, i, t) * k(h, j, t));
        worst =
            std::max(worst, std::sqrt(double(c.d)) * abs_dot * f + std::abs(ref.logits(h, i, j)));
      }
  return std::ldexp(worst, -24);
}

constexpr int kCases = 120;

TEST(StressNumerics, SoftmaxFamilyFusedMatchesReferenceOnExtremeInputs) {
  int compared = 0, empty_rows_cases = 0, extreme_cases = 0, well_conditioned = 0;
  for (int n = 0; n < kCases; ++n) {
    const StressCase c = draw_case(9000 + n, true);
    const Tensor3d q = rounded(testing::random_tensor(c.H, c.N, c.d, 31 * n + 1, c.q_scale));
    const Tensor3d k = rounded(testing::random_tensor(c.H, c.M, c.d, 31 * n + 2, c.k_scale));
    const Tensor3d v = rounded(testing::random_tensor(c.H, c.M, c.dv, 31 * n + 3));
    const Tensor3d g = rounded(testing::random_tensor(c.H, c.N, c.dv, 31 * n + 4));
    const ReferenceForward ref = attention_forward_reference(q, k, v, c.spec);
    ASSERT_TRUE(all_finite(ref.out)) << c.label;
    expect_distributions(ref, c);
    if (!c.spec.key_mask.empty()) {
      bool all_zero = true;
      for (Index i = 0; i < ref.out.size(); ++i) all_zero = all_zero && ref.out.data()[i] == 0.0;
      empty_rows_cases += all_zero ? 1 : 0;
    }
    if (max_abs_logit(ref) >= 1e3) ++extreme_cases;

    const Tensor3f qf = q.cast<float>(), kf = k.cast<float>(), vf = v.cast<float>(),
                   gf = g.cast<float>();
    FusedOptions opt;
    opt.block_k = 32;
    const FusedForward a = attention_forward_fused(qf, kf, vf, c.spec, opt);
    const FusedForward b = attention_forward_fused(qf, kf, vf, c.spec, opt);
    for (Index i = 0; i < a.out.size(); ++i) ASSERT_TRUE(std::isfinite(a.out.data()[i])) << c.label;
    ASSERT_EQ(std::memcmp(a.out.data(), b.out.data(), sizeof(float) * a.out.size()), 0) << c.label;
    const double delta = score_rounding(c, q, k, ref);
    const double tol = 1e-5 + 8 * delta;
    const double vmax = max_abs(v), gmax = max_abs(g), qmax = max_abs(q), kmax = max_abs(k);
    const double temp = c.spec.temperature > 0 ? c.spec.temperature : std::sqrt(double(c.d));
    EXPECT_LE(err(a.out, ref.out, vmax), tol) << c.label;

    const AttentionGrads rg = attention_backward_reference(q, k, v, c.spec, g);
    const FusedGrads fg = attention_backward_fused(qf, kf, vf, c.spec, a.out, a.lse, gf, opt);
    ASSERT_TRUE(all_finite(rg.dq) && all_finite(rg.dk) && all_finite(rg.dv)) << c.label;
    for (const Tensor3f* t : {&fg.dq, &fg.dk, &fg.dv})
      for (Index i = 0; i < t->size(); ++i) ASSERT_TRUE(std::isfinite(t->data()[i])) << c.label;
    // Natural scales: dv ~ |g|, dq ~ |g||v||k|/T, dk ~ |g||v||q|/T (times the rows that share a key
    // for dv and dk).
    const double rows = static_cast<double>(c.N);
    EXPECT_LE(err(fg.dv, rg.dv, gmax), tol * rows) << c.label;
    EXPECT_LE(err(fg.dq, rg.dq, gmax * vmax * kmax / temp), tol) << c.label;
    EXPECT_LE(err(fg.dk, rg.dk, gmax * vmax * qmax / temp), tol * rows) << c.label;
    well_conditioned += delta <= 1e-6 ? 1 : 0;
    ++compared;
  }
  EXPECT_EQ(compared, kCases);
  // The sweep really visits the hard regimes.
  EXPECT_GT(empty_rows_cases, 0);
  EXPECT_GT(extreme_cases, kCases / 4);
  EXPECT_GT(well_conditioned, kCases / 4);  // where the bound is the plain 1e-5
}

// Scores of ~1e10 (q, k entries ~100, T = 1e-4): beyond 2^24 the fp32 lse is coarser than a score,
// and P = exp(ℓ − lse) recomputed in the backward used to overflow to inf. Only finiteness (and
// the forward's convex combination) is promised here.
TEST(StressNumerics, ScoresBeyond2To24GiveFiniteOutputsAndGradients) {
  int cases = 0;
  for (std::uint64_t seed = 0; seed < 8; ++seed)
    for (const Index block_k : {16, 32, 256}) {
      AttentionSpec spec;
      spec.temperature = 1e-4;
      spec.causal = seed % 2 == 1;
      const Tensor3f q = testing::random_tensor(3, 7, 16, 10 * seed + 1, 100.0).cast<float>();
      const Tensor3f k = testing::random_tensor(3, 65, 16, 10 * seed + 2, 100.0).cast<float>();
      const Tensor3f v = testing::random_tensor(3, 65, 8, 10 * seed + 3).cast<float>();
      const Tensor3f g = testing::random_tensor(3, 7, 8, 10 * seed + 4).cast<float>();
      FusedOptions opt;
      opt.block_k = block_k;
      const FusedForward f = attention_forward_fused(q, k, v, spec, opt);
      float vmax = 0;
      for (Index i = 0; i < v.size(); ++i) vmax = std::max(vmax, std::abs(v.data()[i]));
      for (Index i = 0; i < f.out.size(); ++i) {
        ASSERT_TRUE(std::isfinite(f.out.data()[i]));
        ASSERT_LE(std::abs(f.out.data()[i]), vmax * (1 + 1e-5f));
      }
      const FusedGrads gr = attention_backward_fused(q, k, v, spec, f.out, f.lse, g, opt);
      for (const Tensor3f* t : {&gr.dq, &gr.dk, &gr.dv})
        for (Index i = 0; i < t->size(); ++i)
          ASSERT_TRUE(std::isfinite(t->data()[i])) << "seed " << seed << " block_k " << block_k;
      ++cases;
    }
  EXPECT_EQ(cases, 24);
}

TEST(StressNumerics, SparseNormalizersGiveDistributionsOnExtremeInputs) {
  for (int n = 0; n < kCases / 2; ++n) {
    const StressCase c = draw_case(7000 + n, false);
    const Tensor3d q = testing::random_tensor(c.H, c.N, c.d, 17 * n + 1, c.q_scale);
    const Tensor3d k = testing::random_tensor(c.H, c.M, c.d, 17 * n + 2, c.k_scale);
    const Tensor3d v = testing::random_tensor(c.H, c.M, c.dv, 17 * n + 3);
    const ReferenceForward ref = attention_forward_reference(q, k, v, c.spec);
    ASSERT_TRUE(all_finite(ref.out)) << c.label;
    expect_distributions(ref, c);
  }
}

}  // namespace
}  // namespace attnlab::attention
