// The fused fp32 kernel against the fp64 reference: forward, backward, lse and streamed
// diagnostics, over ragged shapes, head dims, every softmax-family mod and every SIMD level.
#include "attnlab/attention/fused_attention.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "attnlab/attention/fused_tiles.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/attention/row_diagnostics.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::attention {
namespace {

using testing::random_tensor;

Tensor3f to_float(const Tensor3d& t) {
  return t.cast<float>();
}
Tensor3d to_double(const Tensor3f& t) {
  return t.cast<double>();
}

// max |a − b| / max |b| (errors relative to the reference's scale).
double rel_err(const Tensor3f& a, const Tensor3d& b) {
  return testing::max_rel_error(to_double(a), b, 1e-30);
}

template <class S>
void check_tiles() {
  Rng rng(3);
  for (Index rows : {1, 5, 6, 13}) {
    for (Index vecs : {1, 3, 4, 9}) {
      for (Index depth : {1, 7, 64}) {
        const Index cols = vecs * S::kLanes;
        std::vector<float> a(rows * depth), bt(depth * cols), c(rows * cols), ref(rows * cols);
        rng.fill_normal(a.data(), static_cast<Index>(a.size()));
        rng.fill_normal(bt.data(), static_cast<Index>(bt.size()));
        tiles::gemm_abt<S>(rows, cols, depth, a.data(), depth, bt.data(), cols, c.data(), cols);
        tiles::gemm_abt_naive(rows, cols, depth, a.data(), depth, bt.data(), cols, ref.data(),
                              cols);
        for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], ref[i], 1e-4f) << S::kName;
        std::vector<float> acc = c, acc_ref = c;
        std::vector<float> b(depth * cols);
        rng.fill_normal(b.data(), static_cast<Index>(b.size()));
        tiles::gemm_ab_acc<S>(rows, cols, depth, a.data(), depth, b.data(), cols, acc.data(), cols);
        tiles::gemm_ab_acc_naive(rows, cols, depth, a.data(), depth, b.data(), cols, acc_ref.data(),
                                 cols);
        for (std::size_t i = 0; i < acc.size(); ++i)
          ASSERT_NEAR(acc[i], acc_ref[i], 1e-4f) << S::kName;
        // Aᵀ · B with A stored [depth, rows], padded leading dimension rows + 3.
        const Index lda = rows + 3;
        std::vector<float> at(depth * lda, 1e30f);  // padding must never be read into C
        for (Index t = 0; t < depth; ++t)
          for (Index r = 0; r < rows; ++r) at[t * lda + r] = a[r * depth + t];
        std::vector<float> tacc = c, tacc_ref = c;
        tiles::gemm_atb_acc<S>(rows, cols, depth, at.data(), lda, b.data(), cols, tacc.data(),
                               cols);
        tiles::gemm_atb_acc_naive(rows, cols, depth, at.data(), lda, b.data(), cols,
                                  tacc_ref.data(), cols);
        for (std::size_t i = 0; i < tacc.size(); ++i) {
          ASSERT_NEAR(tacc[i], tacc_ref[i], 1e-4f) << S::kName;
          ASSERT_NEAR(tacc[i], acc_ref[i], 1e-4f) << S::kName;  // same product as P · B
        }
      }
    }
  }
}

template <class S>
void check_exp2() {
  double worst = 0.0;
  float buf[16];
  for (int step = -1270000; step <= 1279990; step += 7) {
    const float x0 = static_cast<float>(step) * 1e-4f;
    float in[16];
    for (int l = 0; l < 16; ++l) in[l] = x0 + 1e-5f * l;
    for (int l = 0; l < 16; l += S::kLanes) S::store(buf + l, S::exp2(S::load(in + l)));
    for (int l = 0; l < 16; ++l) {
      if (in[l] < -125.0f) continue;  // near-denormal range: ISA-defined
      const double ref = std::exp2(static_cast<double>(in[l]));
      worst = std::max(worst, std::abs(buf[l] - ref) / ref);
    }
  }
  EXPECT_LT(worst, 3e-7) << S::kName;
  float special[16];
  for (int l = 0; l < 16; ++l)
    special[l] = l % 2 ? -std::numeric_limits<float>::infinity() : -200.0f;
  for (int l = 0; l < 16; l += S::kLanes) S::store(buf + l, S::exp2(S::load(special + l)));
  for (int l = 0; l < 16; ++l) EXPECT_EQ(buf[l], 0.0f) << S::kName;
}

TEST(FusedTiles, MicroGemmsMatchNaiveLoops) {
  check_tiles<simd::Scalar>();
#if defined(__AVX2__) && defined(__FMA__)
  check_tiles<simd::Avx2>();
#endif
#if defined(__AVX512F__)
  check_tiles<simd::Avx512>();
#endif
}

TEST(FusedTiles, Exp2IsAccurateAndFlushesToZero) {
  check_exp2<simd::Scalar>();
#if defined(__AVX2__) && defined(__FMA__)
  check_exp2<simd::Avx2>();
#endif
#if defined(__AVX512F__)
  check_exp2<simd::Avx512>();
#endif
}

struct Case {
  std::string name;
  Index H, N, M, d, dv;
  std::function<void(AttentionSpec&, Index M)> mods;
  Index block_q = 64, block_k = 256;
};

std::vector<Case> cases() {
  auto none = [](AttentionSpec&, Index) {};
  return {
      {"plain_d16", 1, 37, 53, 16, 16, none},
      {"plain_d32_H3", 3, 64, 64, 32, 32, none},
      {"plain_d64_ragged", 1, 100, 333, 64, 64, none},
      {"plain_d80", 1, 70, 90, 80, 80, none},
      {"plain_d128_H3", 3, 45, 290, 128, 128, none},
      {"dv_differs", 2, 33, 47, 24, 40, none},
      {"causal_square", 3, 150, 150, 64, 64, [](AttentionSpec& s, Index) { s.causal = true; }},
      {"causal_decode_NltM", 2, 9, 300, 32, 32, [](AttentionSpec& s, Index) { s.causal = true; }},
      {"causal_NgtM_empty_rows", 1, 50, 20, 16, 16,
       [](AttentionSpec& s, Index) { s.causal = true; }},
      {"window", 1, 120, 120, 32, 32, [](AttentionSpec& s, Index) { s.window = 17; }},
      {"causal_window", 3, 200, 230, 64, 64,
       [](AttentionSpec& s, Index) { s.causal = true, s.window = 40; }},
      {"sinks_window", 2, 160, 160, 32, 32,
       [](AttentionSpec& s, Index) { s.causal = true, s.window = 24, s.sinks = 4; }},
      {"decay_per_head", 3, 90, 110, 32, 32,
       [](AttentionSpec& s, Index) {
         s.decay = {0.01, 0.1, 0.5};
       }},
      {"alibi_causal", 3, 128, 128, 64, 64,
       [](AttentionSpec& s, Index) { s.alibi = true, s.causal = true; }},
      {"key_mask", 2, 60, 75, 16, 16,
       [](AttentionSpec& s, Index M) {
         s.key_mask.assign(static_cast<std::size_t>(M), 1);
         for (Index j = 0; j < M; j += 4) s.key_mask[j] = 0;
       }},
      {"temperature", 1, 40, 40, 32, 32, [](AttentionSpec& s, Index) { s.temperature = 0.5; }},
      {"ssmax", 2, 64, 96, 32, 32,
       [](AttentionSpec& s, Index) { s.normalizer = Normalizer::ssmax, s.ssmax_s = 0.43; }},
      {"ssmax_causal_alibi_window", 2, 80, 80, 16, 16,
       [](AttentionSpec& s, Index) {
         s.normalizer = Normalizer::ssmax, s.causal = true, s.alibi = true, s.window = 30;
       }},
      {"everything_small_blocks", 3, 77, 91, 16, 24,
       [](AttentionSpec& s, Index M) {
         s.causal = true, s.window = 20, s.sinks = 3, s.decay = {0.05}, s.alibi = true;
         s.key_mask.assign(static_cast<std::size_t>(M), 1);
         s.key_mask[5] = s.key_mask[60] = 0;
       },
       7, 16},
      {"tiny_blocks", 1, 30, 45, 16, 16, [](AttentionSpec& s, Index) { s.causal = true; }, 1, 1},
  };
}

class FusedVsReference : public ::testing::TestWithParam<std::tuple<int, SimdLevel>> {};

TEST_P(FusedVsReference, ForwardBackwardLseAndDiagnostics) {
  const auto [index, level] = GetParam();
  const auto avail = available_simd_levels();
  if (std::find(avail.begin(), avail.end(), level) == avail.end())
    GTEST_SKIP() << "not on this CPU";
  const Case c = cases()[index];
  AttentionSpec spec;
  c.mods(spec, c.M);
  const std::uint64_t seed = 500 + index;
  // Inputs are rounded to fp32 first, so both kernels see identical operands.
  const Tensor3d q = to_double(to_float(random_tensor(c.H, c.N, c.d, seed, 1.5)));
  const Tensor3d k = to_double(to_float(random_tensor(c.H, c.M, c.d, seed + 1, 1.5)));
  const Tensor3d v = to_double(to_float(random_tensor(c.H, c.M, c.dv, seed + 2)));
  const Tensor3d g = to_double(to_float(random_tensor(c.H, c.N, c.dv, seed + 3)));
  FusedOptions opt;
  opt.simd = level;
  opt.diagnostics = true;
  opt.block_q = c.block_q;
  opt.block_k = c.block_k;

  const auto ref = attention_forward_reference(q, k, v, spec);
  const auto fused = attention_forward_fused(to_float(q), to_float(k), to_float(v), spec, opt);
  EXPECT_LE(rel_err(fused.out, ref.out), 1e-5) << c.name;

  // lse against the reference logits.
  for (Index h = 0; h < c.H; ++h)
    for (Index i = 0; i < c.N; ++i) {
      double mx = -INFINITY, sum = 0.0;
      for (Index j = 0; j < c.M; ++j) mx = std::max(mx, ref.logits(h, i, j));
      if (std::isinf(mx)) {
        EXPECT_TRUE(std::isinf(fused.lse(h, i)) && fused.lse(h, i) < 0);
        continue;
      }
      for (Index j = 0; j < c.M; ++j) sum += std::exp(ref.logits(h, i, j) - mx);
      EXPECT_NEAR(fused.lse(h, i), mx + std::log(sum), 1e-5 * (1 + std::abs(mx))) << c.name;
    }

  // Streamed diagnostics against the materialized weights.
  const RowDiagnostics want = row_diagnostics_reference(ref);
  const RowDiagnostics& got = fused.diagnostics;
  for (Index h = 0; h < c.H; ++h)
    for (Index i = 0; i < c.N; ++i) {
      const RowStats a = got.get(h, i), b = want.get(h, i);
      ASSERT_EQ(a.visible, b.visible) << c.name << " h" << h << " i" << i;
      EXPECT_NEAR(a.entropy, b.entropy, 1e-5) << c.name;
      if (std::isnan(b.norm_entropy))
        EXPECT_TRUE(std::isnan(a.norm_entropy));
      else
        EXPECT_NEAR(a.norm_entropy, b.norm_entropy, 1e-5) << c.name;
      EXPECT_NEAR(a.sink_mass, b.sink_mass, 1e-5) << c.name;
      EXPECT_NEAR(a.max_weight, b.max_weight, 1e-5) << c.name;
      EXPECT_NEAR(a.top8_mass, b.top8_mass, 1e-5) << c.name;
      EXPECT_NEAR(a.wasted_mass, b.wasted_mass, 1e-5) << c.name;
      EXPECT_NEAR(a.below_1pct_max, b.below_1pct_max, 1e-5) << c.name << " h" << h << " i" << i;
      EXPECT_NEAR(a.wasted_share, b.wasted_share, 1e-5) << c.name << " h" << h << " i" << i;
    }

  const auto ref_grads = attention_backward_reference(q, k, v, spec, g);
  const auto grads = attention_backward_fused(to_float(q), to_float(k), to_float(v), spec,
                                              fused.out, fused.lse, to_float(g), opt);
  EXPECT_LE(rel_err(grads.dq, ref_grads.dq), 1e-5) << c.name;
  EXPECT_LE(rel_err(grads.dk, ref_grads.dk), 1e-5) << c.name;
  EXPECT_LE(rel_err(grads.dv, ref_grads.dv), 1e-5) << c.name;
  for (Index h = 0; h < c.H; ++h) {
    const double scale = 1.0 + std::abs(ref_grads.dslope[h]);
    EXPECT_NEAR(grads.dslope[h], ref_grads.dslope[h], 1e-4 * scale) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(ShapesModsAndIsas, FusedVsReference,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(cases().size())),
                                            ::testing::Values(SimdLevel::scalar, SimdLevel::avx2,
                                                              SimdLevel::avx512)),
                         [](const auto& info) {
                           return cases()[std::get<0>(info.param)].name + "_" +
                                  to_string(std::get<1>(info.param));
                         });

TEST(FusedAttention, BlasMicroKernelMatchesReference) {
  for (int variant = 0; variant < 3; ++variant) {
    AttentionSpec spec;
    spec.causal = variant != 0;
    if (variant == 2) spec.window = 50, spec.sinks = 2, spec.alibi = true;
    const Tensor3d q = to_double(to_float(random_tensor(2, 130, 32, 40 + variant)));
    const Tensor3d k = to_double(to_float(random_tensor(2, 170, 32, 50 + variant)));
    const Tensor3d v = to_double(to_float(random_tensor(2, 170, 48, 60 + variant)));
    FusedOptions opt;
    opt.microkernel = MicroKernel::blas;
    opt.block_k = 64;
    const auto ref = attention_forward_reference(q, k, v, spec);
    const auto f = attention_forward_fused(to_float(q), to_float(k), to_float(v), spec, opt);
    EXPECT_LE(rel_err(f.out, ref.out), 1e-5) << variant;
  }
}

TEST(FusedAttention, DeterministicForFixedThreadCount) {
  const Tensor3f q = to_float(random_tensor(2, 300, 64, 1)),
                 k = to_float(random_tensor(2, 300, 64, 2)),
                 v = to_float(random_tensor(2, 300, 64, 3)),
                 g = to_float(random_tensor(2, 300, 64, 4));
  AttentionSpec spec;
  spec.causal = true;
  FusedOptions opt;
  opt.block_k = 64;
  const auto a = attention_forward_fused(q, k, v, spec, opt);
  const auto b = attention_forward_fused(q, k, v, spec, opt);
  EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), sizeof(float) * a.out.size()), 0);
  const auto ga = attention_backward_fused(q, k, v, spec, a.out, a.lse, g, opt);
  const auto gb = attention_backward_fused(q, k, v, spec, b.out, b.lse, g, opt);
  EXPECT_EQ(std::memcmp(ga.dq.data(), gb.dq.data(), sizeof(float) * ga.dq.size()), 0);
  EXPECT_EQ(std::memcmp(ga.dk.data(), gb.dk.data(), sizeof(float) * ga.dk.size()), 0);
}

// Kᵀ and Vᵀ are packed as one [depth, Bc] panel per key block: M = 250 and 300 end in a partial,
// zero-padded block (300 also not a multiple of the vector width), 256 and 512 fill theirs.
// Forward and backward match the fp64 reference for both micro-kernels of the forward.
TEST(FusedAttention, BlockPackedPanelsMatchReferenceWithPartialBlocks) {
  for (const Index M : {250, 256, 300, 512}) {
    const Tensor3f q = to_float(random_tensor(2, 96, 128, 21)),
                   k = to_float(random_tensor(2, M, 128, 22)),
                   v = to_float(random_tensor(2, M, 128, 23)),
                   g = to_float(random_tensor(2, 96, 128, 24));
    AttentionSpec spec;
    spec.causal = true;
    const auto ref = attention_forward_reference(to_double(q), to_double(k), to_double(v), spec);
    const auto gref =
        attention_backward_reference(to_double(q), to_double(k), to_double(v), spec, to_double(g));
    for (const MicroKernel mk : {MicroKernel::tiles, MicroKernel::blas}) {
      FusedOptions opt;
      opt.microkernel = mk;
      const auto a = attention_forward_fused(q, k, v, spec, opt);
      EXPECT_LE(rel_err(a.out, ref.out), 1e-5) << M;
      if (mk == MicroKernel::blas) continue;  // the backward always runs tiles
      const auto ga = attention_backward_fused(q, k, v, spec, a.out, a.lse, g, opt);
      EXPECT_LE(rel_err(ga.dq, gref.dq), 1e-4) << M;
      EXPECT_LE(rel_err(ga.dk, gref.dk), 1e-4) << M;
      EXPECT_LE(rel_err(ga.dv, gref.dv), 1e-4) << M;
    }
  }
}

TEST(FusedAttention, PeakedRowsGiveExactSparsityCounts) {
  // Large logits make most weights tiny: the candidate buffer path decides every count.
  const Tensor3d q = to_double(to_float(random_tensor(1, 64, 32, 7, 4.0)));
  const Tensor3d k = to_double(to_float(random_tensor(1, 700, 32, 8, 4.0)));
  const Tensor3d v = to_double(to_float(random_tensor(1, 700, 8, 9)));
  const auto ref = attention_forward_reference(q, k, v, AttentionSpec{});
  FusedOptions opt;
  opt.diagnostics = true;
  opt.block_k = 32;
  const auto f =
      attention_forward_fused(to_float(q), to_float(k), to_float(v), AttentionSpec{}, opt);
  const auto want = row_diagnostics_reference(ref);
  double mean_below = 0;
  for (Index i = 0; i < 64; ++i) {
    EXPECT_NEAR(f.diagnostics.below_1pct_max(0, i), want.below_1pct_max(0, i), 1e-5);
    mean_below += want.below_1pct_max(0, i) / 64;
  }
  EXPECT_GT(mean_below, 0.5);  // the regime the test is about
}

TEST(FusedAttention, UnsupportedSpecsAreUsageErrors) {
  const Tensor3f x = to_float(random_tensor(1, 4, 8, 1));
  AttentionSpec s;
  s.normalizer = Normalizer::sparsemax;
  EXPECT_FALSE(fused_supports(s));
  EXPECT_THROW(attention_forward_fused(x, x, x, s), UsageError);
  s = {};
  s.topk = 2;
  std::string why;
  EXPECT_FALSE(fused_supports(s, &why));
  EXPECT_NE(why.find("top-k"), std::string::npos);
  const Tensor3f y = to_float(random_tensor(1, 4, 7, 1));
  EXPECT_THROW(attention_forward_fused(x, y, x, AttentionSpec{}), UsageError);
}

}  // namespace
}  // namespace attnlab::attention
