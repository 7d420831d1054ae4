// Sliding-window perplexity against a direct computation from full-vocabulary logits, the
// window bookkeeping (every token after the first scored exactly once), BOS, the attention
// override, and the --attention mini-language.
#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/models/gpt2/perplexity.hpp"
#include "tests/models/gpt2_reference.hpp"

namespace attnlab {
namespace {

using models::gpt2::evaluate_perplexity;
using models::gpt2::ForwardOptions;
using models::gpt2::Gpt2Model;
using models::gpt2::LogitsMode;
using models::gpt2::PerplexityOptions;

// −log p(tokens[t] | tokens[begin..t−1]) from the fp64 reference on the window [begin, end).
double reference_nll(const models::gpt2::Gpt2Weights& w, const std::vector<std::int32_t>& tokens,
                     Index begin, Index end, Index t, const attention::AttentionSpec& spec) {
  const std::vector<std::int32_t> window(tokens.begin() + begin, tokens.begin() + end);
  ForwardOptions o;
  o.attention = spec;
  const auto ref = testing::reference_forward(w, window, o);
  const auto row = ref.logits.row(t - 1 - begin);
  const double mx = row.maxCoeff();
  return mx + std::log((row.array() - mx).exp().sum()) - row(tokens[t]);
}

TEST(Perplexity, SlidingWindowMatchesDirectComputation) {
  const auto c = testing::test_config();
  const auto w = testing::make_test_weights(c, 21);
  const Gpt2Model model(w);
  const Index n = 50;
  const auto tokens = testing::random_tokens(n, c.vocab_size, 22);
  for (const char* spec_text : {"full", "window=3,sinks=1"}) {
    PerplexityOptions o;
    o.context = 16;
    o.stride = 6;
    o.attention = models::gpt2::parse_attention_override(spec_text);
    o.text_bytes = 200;
    const auto r = evaluate_perplexity(model, tokens, o);
    EXPECT_EQ(r.tokens, n);
    EXPECT_EQ(r.tokens_scored, n - 1);
    // Windows start at 0, 6, 12, ... until one reaches the end: [0,16) ... [36,50).
    EXPECT_EQ(r.windows, 7);
    // Direct: token t is scored in the first window that covers it past the previous end.
    double sum = 0;
    Index prev_end = 0;
    for (Index begin = 0; prev_end < n; begin += 6) {
      const Index end = std::min(begin + 16, n);
      for (Index t = std::max(prev_end, begin + 1); t < end; ++t)
        sum += reference_nll(w, tokens, begin, end, t, *o.attention);
      prev_end = end;
    }
    EXPECT_NEAR(r.nll_sum, sum, 1e-4 * std::abs(sum)) << spec_text;
    EXPECT_NEAR(r.perplexity, std::exp(sum / double(n - 1)), 1e-4 * r.perplexity);
    EXPECT_NEAR(r.bits_per_byte, sum / (std::log(2.0) * 200), 1e-6);
  }
}

TEST(Perplexity, OneWindowBosAndOverrideEffects) {
  const auto c = testing::test_config();
  const Gpt2Model model(testing::make_test_weights(c, 23));
  const auto tokens = testing::random_tokens(30, c.vocab_size, 24);
  PerplexityOptions o;
  const auto full = evaluate_perplexity(model, tokens, o);  // context 64 >= 30: one window
  EXPECT_EQ(full.windows, 1);
  EXPECT_EQ(full.tokens_scored, 29);
  EXPECT_TRUE(std::isnan(full.bits_per_byte));
  o.prepend_bos = true;
  o.bos_id = 299;
  const auto bos = evaluate_perplexity(model, tokens, o);
  EXPECT_EQ(bos.tokens_scored, 30);
  o.prepend_bos = false;
  o.attention.emplace();
  o.attention->window = 1;  // each token sees only itself: a different (worse) model
  const auto blind = evaluate_perplexity(model, tokens, o);
  EXPECT_NE(blind.nll_sum, full.nll_sum);
  EXPECT_THROW(evaluate_perplexity(model, std::vector<std::int32_t>{5}, {}), InputError);
  PerplexityOptions bad;
  bad.context = 65;
  EXPECT_THROW(evaluate_perplexity(model, tokens, bad), UsageError);
  bad.context = 16;
  bad.stride = 16;
  EXPECT_THROW(evaluate_perplexity(model, tokens, bad), UsageError);
}

TEST(AttentionOverride, ParsesEveryItemAndRejectsTheRest) {
  using models::gpt2::parse_attention_override;
  const auto s = parse_attention_override(" window=256 , sinks=4 ");
  EXPECT_EQ(s.window, 256);
  EXPECT_EQ(s.sinks, 4);
  EXPECT_TRUE(s.causal);
  EXPECT_EQ(models::gpt2::describe_attention_override(s), "sinks=4 + window=256");
  const auto d = parse_attention_override("decay=0.1:0.2,alibi,topk=8,entmax15,temperature=4");
  EXPECT_EQ(d.decay, (std::vector<double>{0.1, 0.2}));
  EXPECT_TRUE(d.alibi);
  EXPECT_EQ(d.topk, 8);
  EXPECT_EQ(d.normalizer, attention::Normalizer::entmax15);
  EXPECT_EQ(d.temperature, 4.0);
  EXPECT_EQ(parse_attention_override("").window, 0);
  EXPECT_EQ(models::gpt2::describe_attention_override(parse_attention_override("full")),
            "full causal softmax");
  EXPECT_EQ(parse_attention_override("normalizer=ssmax,ssmax_s=2").ssmax_s, 2.0);
  for (const char* bad :
       {"window=0", "window=-3", "window=x", "sinks=4", "topk=1.5", "decay=-1", "normalizer=none",
        "normalizer=relu", "flash", "window=4,,sinks=1", "temperature=0"}) {
    EXPECT_THROW(parse_attention_override(bad), UsageError) << bad;
  }
}

}  // namespace
}  // namespace attnlab
