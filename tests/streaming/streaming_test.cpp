// Streaming perplexity (analysis/tradeoff/streaming.hpp) against oracles built from plain
// Gpt2Model::forward calls:
//   - no eviction: a stream that fits in the cache scores exactly what one forward scores;
//   - a 1-layer model's K/V depend only on the token and its slot, so with eviction every step
//     equals a fresh forward over the kept tokens (sinks, then the most recent) at slot positions;
//   - a position-free model at any depth (and RoPE / ALiBi without sinks) streams exactly what one
//     forward with the matching window (+ sinks) attention spec computes;
//   - recompute is a fresh forward over the kept tokens at every step;
//   - determinism, kv_bytes, buckets, labels and every input error.
// Models are tests/models/gpt2_reference.hpp's sharpened random GPT-2s (peaked attention), so a
// wrong kept set, slot or rotation moves the NLL far beyond the tolerances used here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/streaming.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "tests/models/gpt2_reference.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using analysis::tradeoff::stream_kv_bytes;
using analysis::tradeoff::stream_perplexity;
using analysis::tradeoff::StreamPolicy;
using analysis::tradeoff::StreamResult;
using models::gpt2::ForwardOptions;
using models::gpt2::Gpt2Config;
using models::gpt2::Gpt2Model;
using models::gpt2::LogitsMode;
using models::gpt2::PositionMode;
using testing::random_tokens;
using Tokens = std::vector<std::int32_t>;

// test_config() (H=4, C=32, ctx 64, V=300) with `layers` layers and the given positions.
Gpt2Config stream_config(PositionMode positions, Index layers, bool learnable_sink = false) {
  Gpt2Config c = testing::test_config();
  c.n_layer = layers;
  c.position_mode = positions;
  c.attention.learnable_sink = learnable_sink;
  return c;
}

// Sharpened random weights; a learnable sink slot is scaled to the size of real keys and values
// (init gives N(0, 0.02²), which attention would all but ignore).
Gpt2Model stream_model(const Gpt2Config& c, std::uint64_t seed) {
  models::gpt2::Gpt2Weights w = testing::make_test_weights(c, seed);
  for (Index l = 0; l < c.n_layer; ++l) {
    const auto P = w.layer(l);
    if (!P.sink_k) continue;
    for (Index i = 0; i < c.n_embd; ++i) {
      P.sink_k[i] *= 50.0f;
      P.sink_v[i] *= 50.0f;
    }
  }
  return Gpt2Model(std::move(w));
}

// NLL of rows 0 .. n−2 of one forward over `tokens` (row t scores tokens[t + 1]).
std::vector<double> forward_nll(const Gpt2Model& model, const Tokens& tokens,
                                ForwardOptions o = {}) {
  Tokens targets(tokens.begin() + 1, tokens.end());
  targets.push_back(0);  // the last row is not scored
  o.logits = LogitsMode::none;
  o.targets = targets;
  o.score_to = static_cast<Index>(tokens.size()) - 1;
  return model.forward(tokens, o).nll;
}

// NLL of `target` after the last row of one fresh forward over `context`.
double last_row_nll(const Gpt2Model& model, const Tokens& context, std::int32_t target) {
  Tokens targets(context.size(), 0);
  targets.back() = target;
  ForwardOptions o;
  o.logits = LogitsMode::none;
  o.targets = targets;
  o.score_from = static_cast<Index>(context.size()) - 1;
  return model.forward(context, o).nll.at(0);
}

// The tokens step t keeps under (S, W), in stream order: x_j for j < S or j > t − W.
Tokens kept_tokens(const Tokens& tokens, Index t, Index sinks, Index window) {
  Tokens kept;
  for (Index j = 0; j <= t; ++j)
    if (j < sinks || j > t - window) kept.push_back(tokens[j]);
  return kept;
}

// Step-by-step oracle: a fresh forward over kept_tokens() at every step.
std::vector<double> fresh_forward_oracle(const Gpt2Model& model, const Tokens& tokens, Index sinks,
                                         Index window) {
  std::vector<double> nll;
  for (Index t = 0; t + 1 < static_cast<Index>(tokens.size()); ++t)
    nll.push_back(last_row_nll(model, kept_tokens(tokens, t, sinks, window), tokens[t + 1]));
  return nll;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

bool slot_positions(PositionMode p) {
  return p == PositionMode::none || p == PositionMode::rope || p == PositionMode::alibi;
}

struct ModelCase {
  const char* name;
  PositionMode positions;
  bool learnable_sink;
};

std::string case_name(const ::testing::TestParamInfo<ModelCase>& info) {
  return info.param.name;
}

// ---- 1. no eviction -----------------------------------------------------------------------------

class StreamNoEviction : public ::testing::TestWithParam<ModelCase> {};

// A 48-token stream never fills 4+60 (or a 64-token recompute window): every step sees the whole
// prefix, so the per-step NLL is one forward's, whatever the position mode. Slot policies only
// where positions can be re-assigned (none, rope, alibi), recompute everywhere.
TEST_P(StreamNoEviction, EqualsOneForward) {
  const ModelCase& mc = GetParam();
  const Gpt2Model model(stream_model(stream_config(mc.positions, 2, mc.learnable_sink), 31));
  const Tokens tokens = random_tokens(48, model.config().vocab_size, 32);
  const std::vector<double> oracle = forward_nll(model, tokens);
  std::vector<StreamPolicy> policies = {{0, 64, true}};
  if (slot_positions(mc.positions)) policies.push_back({4, 60, false});
  for (const StreamPolicy& p : policies) {
    const StreamResult r = stream_perplexity(model, tokens, p, 16);
    EXPECT_EQ(r.scored, 47);
    EXPECT_LT(max_abs_diff(r.nll, oracle), 1e-5) << mc.name << " " << p.label();
    double mean = 0.0;
    for (double x : oracle) mean += x / static_cast<double>(oracle.size());
    EXPECT_NEAR(r.mean_nll, mean, 1e-5) << p.label();
    EXPECT_NEAR(std::log(r.perplexity), r.mean_nll, 1e-12);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, StreamNoEviction,
                         ::testing::Values(ModelCase{"none", PositionMode::none, false},
                                           ModelCase{"rope", PositionMode::rope, false},
                                           ModelCase{"alibi", PositionMode::alibi, false},
                                           ModelCase{"learned", PositionMode::learned, false},
                                           ModelCase{"sinusoidal", PositionMode::sinusoidal, false},
                                           ModelCase{"none_sink", PositionMode::none, true},
                                           ModelCase{"rope_sink", PositionMode::rope, true}),
                         case_name);

// ---- 2. exactness with eviction on one layer ----------------------------------------------------

class StreamOneLayer : public ::testing::TestWithParam<ModelCase> {};

// One layer: the key and value of token j are functions of x_j alone (none, ALiBi) or of x_j and
// the slot it is rotated to (RoPE: R(s)·k⁰(x_j)). When step t runs, the cache holds exactly the
// kept tokens in stream order at slots 0, 1, ..., with the keys they would have at those slots,
// and the query of x_t sits in the last slot; the logits then depend on nothing else. So each
// step equals a fresh forward over kept_tokens(t) (sinks, then the most recent), including the
// ALiBi bias, which both see as slot distance. 130 tokens through 3+13 evict 114 times (and run
// past n_positions = 64, which only slots make possible).
TEST_P(StreamOneLayer, EveryStepEqualsFreshForwardOverKeptTokensAtSlotPositions) {
  const ModelCase& mc = GetParam();
  const Gpt2Model model(stream_model(stream_config(mc.positions, 1, mc.learnable_sink), 41));
  const Tokens tokens = random_tokens(130, model.config().vocab_size, 42);
  const Index S = 3, W = 13;
  const std::vector<double> oracle = fresh_forward_oracle(model, tokens, S, W);
  const StreamResult slot = stream_perplexity(model, tokens, {S, W, false});
  EXPECT_LT(max_abs_diff(slot.nll, oracle), 1e-5) << mc.name;
  // The recompute policy with the same kept set is the same oracle.
  const StreamResult recompute = stream_perplexity(model, tokens, {S, W, true});
  EXPECT_LT(max_abs_diff(recompute.nll, oracle), 1e-12) << mc.name;
  // The tolerance means something: keeping no sinks changes the NLL by far more.
  const StreamResult no_sinks = stream_perplexity(model, tokens, {0, S + W, false});
  EXPECT_GT(max_abs_diff(no_sinks.nll, oracle), 1e-2) << mc.name;
}

INSTANTIATE_TEST_SUITE_P(Models, StreamOneLayer,
                         ::testing::Values(ModelCase{"none", PositionMode::none, false},
                                           ModelCase{"rope", PositionMode::rope, false},
                                           ModelCase{"alibi", PositionMode::alibi, false},
                                           ModelCase{"none_sink", PositionMode::none, true},
                                           ModelCase{"rope_sink", PositionMode::rope, true}),
                         case_name);

// ---- multi-layer exactness against windowed attention -------------------------------------------

struct WindowCase {
  const char* name;
  PositionMode positions;
  bool learnable_sink;
  Index sinks, window;
};

class StreamWindowedAttention : public ::testing::TestWithParam<WindowCase> {};

// At any depth, token j's cached K/V in every layer were computed when x_j was decoded, attending
// to the kept set of step j, which is exactly what AttentionSpec{window = W, sinks = S} shows row
// j of one full forward (keys j' with j − W < j' <= j, or j' < S). Without positions the
// keys do not care where they sit, so streaming "S+W" equals that forward. With RoPE or ALiBi
// only relative distances enter, and for recent keys slot distance = text distance; sinks would
// sit closer than in the text, so these run "0+W". A learnable sink is one more always-visible
// key in both, but under RoPE it is a key at position 0 (its slot is never rotated), whose logit
// depends on the query's absolute position (slot vs text): not part of the equivalence.
TEST_P(StreamWindowedAttention, SlotStreamEqualsOneWindowedForward) {
  const WindowCase& wc = GetParam();
  const Gpt2Model model(stream_model(stream_config(wc.positions, 3, wc.learnable_sink), 51));
  const Tokens tokens = random_tokens(60, model.config().vocab_size, 52);
  ForwardOptions o;
  attention::AttentionSpec spec;
  spec.window = wc.window;
  spec.sinks = wc.sinks;
  o.attention = spec;
  const std::vector<double> oracle = forward_nll(model, tokens, o);
  const StreamResult r = stream_perplexity(model, tokens, {wc.sinks, wc.window, false});
  EXPECT_LT(max_abs_diff(r.nll, oracle), 1e-5) << wc.name;
  EXPECT_GT(max_abs_diff(r.nll, forward_nll(model, tokens)), 1e-2) << wc.name;  // eviction mattered
}

INSTANTIATE_TEST_SUITE_P(
    Models, StreamWindowedAttention,
    ::testing::Values(WindowCase{"none_2_10", PositionMode::none, false, 2, 10},
                      WindowCase{"none_sink_2_10", PositionMode::none, true, 2, 10},
                      WindowCase{"rope_0_10", PositionMode::rope, false, 0, 10},
                      WindowCase{"alibi_0_10", PositionMode::alibi, false, 0, 10}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- 3. recompute -------------------------------------------------------------------------------

// Recompute runs a fresh forward over the kept tokens at every step (positions 0, 1, ... within
// it), for learned positions too, on a 2-layer model and a 100-token stream: over the last W
// tokens, and over S sinks followed by the last W.
TEST(StreamRecompute, EachStepIsAFreshForwardOverTheKeptTokens) {
  for (PositionMode pm : {PositionMode::learned, PositionMode::rope}) {
    const Gpt2Model model(stream_model(stream_config(pm, 2), 61));
    const Tokens tokens = random_tokens(100, model.config().vocab_size, 62);
    for (const StreamPolicy p : {StreamPolicy{0, 16, true}, StreamPolicy{3, 13, true}}) {
      const StreamResult r = stream_perplexity(model, tokens, p);
      const std::vector<double> oracle = fresh_forward_oracle(model, tokens, p.sinks, p.window);
      EXPECT_LT(max_abs_diff(r.nll, oracle), 1e-12) << to_string(pm) << " " << p.label();
    }
  }
}

// ---- 4. multi-layer with eviction ---------------------------------------------------------------

// 3 layers, learnable sink, RoPE, 300 tokens through 4+28: finite, bit-identical across runs,
// kv_bytes = L · 2 · (prefix + S + W) · C · 4 counted by hand, buckets are the means of their
// steps, and the summary numbers agree with the per-step NLL.
TEST(StreamMultiLayer, FiniteDeterministicAndCountedByHand) {
  const Gpt2Model model(stream_model(stream_config(PositionMode::rope, 3, true), 71));
  const Tokens tokens = random_tokens(300, model.config().vocab_size, 72);
  const StreamPolicy p{4, 28, false};
  const StreamResult a = stream_perplexity(model, tokens, p, 64);
  const StreamResult b = stream_perplexity(model, tokens, p, 64);
  ASSERT_EQ(a.nll.size(), 299u);
  EXPECT_EQ(a.scored, 299);
  for (double x : a.nll) EXPECT_TRUE(std::isfinite(x));
  EXPECT_EQ(a.nll, b.nll);
  EXPECT_EQ(a.bucket_nll, b.bucket_nll);
  EXPECT_EQ(a.mean_nll, b.mean_nll);
  EXPECT_EQ(a.kv_bytes, std::size_t{3 * 2 * (1 + 4 + 28) * 32 * 4});
  EXPECT_EQ(a.kv_bytes, model.make_cache(4 + 28).bytes());
  EXPECT_EQ(a.bucket, 64);
  ASSERT_EQ(a.bucket_nll.size(), 5u);  // ⌈299 / 64⌉, the last holding steps 256 .. 298
  double total = 0.0;
  for (std::size_t k = 0; k < 5; ++k) {
    const std::size_t lo = 64 * k, hi = std::min<std::size_t>(299, lo + 64);
    double sum = 0.0;
    for (std::size_t t = lo; t < hi; ++t) sum += a.nll[t];
    EXPECT_NEAR(a.bucket_nll[k], sum / double(hi - lo), 1e-12) << "bucket " << k;
    total += sum;
  }
  EXPECT_NEAR(a.mean_nll, total / 299.0, 1e-12);
  EXPECT_NEAR(a.perplexity, std::exp(a.mean_nll), 1e-9 * a.perplexity);
  EXPECT_GE(a.seconds, 0.0);
  // Without the learnable sink, ALiBi; recompute on learned positions.
  const Gpt2Config alibi = stream_config(PositionMode::alibi, 2);
  EXPECT_EQ(stream_kv_bytes(alibi, {0, 64, false}), std::size_t{2 * 2 * 64 * 32 * 4});
  EXPECT_EQ(stream_kv_bytes(stream_config(PositionMode::learned, 2), {2, 30, true}),
            std::size_t{2 * 2 * 32 * 32 * 4});
  const nlohmann::json j = to_json(a);
  EXPECT_EQ(j.at("policy"), "4+28");
  EXPECT_EQ(j.at("kv_bytes"), a.kv_bytes);
  EXPECT_EQ(j.at("bucket_nll").size(), 5u);
}

TEST(StreamPolicyLabel, NamesSinksWindowAndRecompute) {
  EXPECT_EQ((StreamPolicy{4, 60, false}).label(), "4+60");
  EXPECT_EQ((StreamPolicy{0, 64, false}).label(), "0+64");
  EXPECT_EQ((StreamPolicy{0, 64, true}).label(), "recompute 64");
  EXPECT_EQ((StreamPolicy{4, 60, true}).label(), "recompute 4+60");
}

// ---- 5. errors ----------------------------------------------------------------------------------

using testing::contains;
using testing::thrown_message;

TEST(StreamErrors, NameTheOffendingValues) {
  const Gpt2Model rope(stream_model(stream_config(PositionMode::rope, 1), 81));
  const Tokens tokens = random_tokens(20, rope.config().vocab_size, 82);
  auto usage = [&](const Gpt2Model& m, const Tokens& t, StreamPolicy p, Index bucket = 64) {
    return thrown_message<UsageError>([&] { stream_perplexity(m, t, p, bucket); });
  };
  EXPECT_PRED2(contains, usage(rope, tokens, {4, 0, false}), "window must be >= 1, got 0");
  EXPECT_PRED2(contains, usage(rope, tokens, {-1, 8, false}), "sinks must be >= 0, got -1");
  EXPECT_PRED2(contains, usage(rope, tokens, {8, 60, false}),
               "sinks + window = 8 + 60 = 68 exceeds the model's n_positions = 64");
  EXPECT_PRED2(contains, usage(rope, tokens, {8, 60, true}), "n_positions = 64");
  EXPECT_PRED2(contains, usage(rope, Tokens{5}, {0, 8, false}), "at least 2 tokens");
  EXPECT_PRED2(contains, usage(rope, Tokens{}, {0, 8, false}), "got 0");
  EXPECT_PRED2(contains, usage(rope, tokens, {0, 8, false}, 0), "bucket must be >= 1, got 0");
  for (PositionMode pm : {PositionMode::learned, PositionMode::sinusoidal}) {
    const Gpt2Model absolute(stream_model(stream_config(pm, 1), 83));
    const std::string m = usage(absolute, tokens, {4, 12, false});
    EXPECT_PRED2(contains, m, "policy 4+12");
    EXPECT_PRED2(contains, m, std::string(to_string(pm)) + " absolute positions");
    EXPECT_PRED2(contains, m, "use recompute = true");
    EXPECT_NO_THROW(stream_perplexity(absolute, tokens, {4, 12, true}));
  }
  for (std::int32_t bad : {300, -1}) {
    Tokens t = tokens;
    t[7] = bad;
    const std::string m = thrown_message<InputError>([&] {
      stream_perplexity(rope, t, {0, 8, false});
    });
    EXPECT_PRED2(contains, m, str_cat("token id ", bad, " at stream index 7"));
    EXPECT_PRED2(contains, m, "vocabulary [0, 300)");
  }
}

}  // namespace
}  // namespace attnlab
