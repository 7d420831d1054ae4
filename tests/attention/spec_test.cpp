#include "attnlab/attention/spec.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::attention {
namespace {

// Visibility written out independently of ScoreMods, straight from the definitions.
bool visible_by_definition(const AttentionSpec& s, Index N, Index M, Index i, Index j) {
  const Index pos = i + (M - N);
  const Index delta = pos - j;
  if (!s.key_mask.empty() && !s.key_mask[j]) return false;
  if (s.causal && delta < 0) return false;
  if (s.window > 0 && std::abs(delta) >= s.window && j >= s.sinks) return false;
  return true;
}

std::vector<AttentionSpec> mask_specs(Index M) {
  std::vector<AttentionSpec> specs;
  for (int causal = 0; causal < 2; ++causal)
    for (Index window : {0, 1, 2, 5})
      for (Index sinks : {0, 1, 3})
        for (int masked = 0; masked < 2; ++masked) {
          if (sinks > 0 && window == 0) continue;
          AttentionSpec s;
          s.causal = causal;
          s.window = window;
          s.sinks = sinks;
          if (masked) {
            s.key_mask.assign(static_cast<std::size_t>(M), 1);
            for (Index j = 0; j < M; j += 3) s.key_mask[j] = 0;
          }
          specs.push_back(s);
        }
  return specs;
}

TEST(ScoreMods, VisibilityCountAndBandAgreeWithDefinition) {
  for (auto [N, M] : {std::pair<Index, Index>{4, 6}, {6, 6}, {7, 3}, {1, 9}, {9, 1}}) {
    for (const auto& s : mask_specs(M)) {
      ScoreMods mods(s, 2, N, M, 4);
      for (Index i = 0; i < N; ++i) {
        Index count = 0;
        const auto band = mods.band(i);
        for (Index j = 0; j < M; ++j) {
          const bool v = visible_by_definition(s, N, M, i, j);
          ASSERT_EQ(mods.visible(i, j), v)
              << s.describe() << " N=" << N << " M=" << M << " i=" << i << " j=" << j;
          count += v;
          if (v && j >= mods.sinks()) {
            EXPECT_TRUE(j >= band.lo && j < band.hi) << s.describe() << " i=" << i << " j=" << j;
          }
        }
        EXPECT_EQ(mods.visible_count(i), count)
            << s.describe() << " N=" << N << " M=" << M << " i=" << i;
      }
    }
  }
}

TEST(ScoreMods, CausalWindowEqualsHandBuiltMask) {
  // N = 4 queries at positions 2..5 over M = 6 keys, causal, window 2: keys pos−1 and pos.
  AttentionSpec s;
  s.causal = true;
  s.window = 2;
  const int expected[4][6] = {
      {0, 1, 1, 0, 0, 0}, {0, 0, 1, 1, 0, 0}, {0, 0, 0, 1, 1, 0}, {0, 0, 0, 0, 1, 1}};
  ScoreMods mods(s, 1, 4, 6, 8);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j) EXPECT_EQ(mods.visible(i, j), expected[i][j] == 1) << i << "," << j;
  // With one sink, key 0 joins every row.
  s.sinks = 1;
  ScoreMods sink_mods(s, 1, 4, 6, 8);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j)
      EXPECT_EQ(sink_mods.visible(i, j), expected[i][j] == 1 || j == 0) << i << "," << j;
}

TEST(ScoreMods, BiasesAndSlopes) {
  // Standard ALiBi slopes for 8 heads: 1/2, 1/4, ..., 1/256.
  for (Index h = 0; h < 8; ++h) EXPECT_DOUBLE_EQ(alibi_slope(h, 8), std::exp2(-(h + 1.0)));
  AttentionSpec s;
  s.decay = {0.25, 0.5};
  s.alibi = true;
  ScoreMods mods(s, 2, 3, 5, 4);
  // Query 0 sits at position 2; key 4 is Δ = −2 away, key 0 is Δ = 2.
  EXPECT_DOUBLE_EQ(mods.bias(0, 0, 4), -(0.25 + alibi_slope(0, 2)) * 2.0);
  EXPECT_DOUBLE_EQ(mods.bias(1, 0, 0), -(0.5 + alibi_slope(1, 2)) * 2.0);
  EXPECT_DOUBLE_EQ(mods.bias(1, 2, 4), 0.0);
}

TEST(ScoreMods, LogitScale) {
  AttentionSpec s;
  EXPECT_DOUBLE_EQ(ScoreMods(s, 1, 4, 4, 16).logit_scale(0), 0.25);  // 1/√d
  s.temperature = 2.0;
  EXPECT_DOUBLE_EQ(ScoreMods(s, 1, 4, 4, 16).logit_scale(0), 0.5);
  s.normalizer = Normalizer::ssmax;
  s.ssmax_s = 0.43;
  s.causal = true;
  ScoreMods mods(s, 1, 4, 4, 16);
  EXPECT_DOUBLE_EQ(mods.logit_scale(3), 0.5 * 0.43 * std::log(4.0));
  EXPECT_DOUBLE_EQ(mods.logit_scale(0), 0.0);  // one visible key: log 1 = 0
}

TEST(AttentionSpec, ValidationNamesTheField) {
  AttentionSpec s;
  s.window = -1;
  EXPECT_THROW(s.validate(1, 4, 4, 8), UsageError);
  s = {};
  s.sinks = 4;
  try {
    s.validate(1, 4, 4, 8);
    FAIL() << "sinks without window accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("window"), std::string::npos);
  }
  s = {};
  s.decay = {0.1, 0.2, 0.3};
  EXPECT_THROW(s.validate(2, 4, 4, 8), UsageError);
  s.decay = {-0.1};
  EXPECT_THROW(s.validate(2, 4, 4, 8), UsageError);
  s = {};
  s.key_mask = {1, 0};
  EXPECT_THROW(s.validate(1, 4, 3, 8), UsageError);
  s = {};
  s.temperature = NAN;
  EXPECT_THROW(s.validate(1, 4, 4, 8), UsageError);
  s = {};
  s.topk = -2;
  EXPECT_THROW(s.validate(1, 4, 4, 8), UsageError);
}

TEST(AttentionSpec, JsonRoundTrip) {
  AttentionSpec s;
  s.normalizer = Normalizer::entmax15;
  s.temperature = 3.0;
  s.causal = true;
  s.window = 16;
  s.sinks = 4;
  s.decay = {0.1, 0.2};
  s.alibi = true;
  s.topk = 8;
  const AttentionSpec r = AttentionSpec::from_json(s.to_json());
  EXPECT_EQ(r.describe(), s.describe());
}

}  // namespace
}  // namespace attnlab::attention
