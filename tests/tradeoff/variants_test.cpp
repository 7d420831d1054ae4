// The trade-off study's attention variants by name (analysis/tradeoff/variants.hpp): each name
// parses to the documented ModelAttention and position mode, RetNet's per-head rates, parse
// errors name the variant and the bad part, and the default / report sets have the documented
// members, scaled with the context.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/variants.hpp"
#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using analysis::tradeoff::default_variants;
using analysis::tradeoff::parse_variant;
using analysis::tradeoff::parse_variants;
using analysis::tradeoff::report_variants;
using analysis::tradeoff::retnet_rates;
using analysis::tradeoff::Variant;
using attention::Normalizer;
using models::gpt2::PositionMode;
using testing::contains;
using testing::thrown_message;

std::vector<std::string> names(const std::vector<Variant>& vs) {
  std::vector<std::string> out;
  for (const auto& v : vs) out.push_back(v.name);
  return out;
}

// Nothing but the parts a test sets: checks that a variant changes only what its name says.
void expect_plain_softmax_except(const Variant& v, bool window, bool sinks, bool decay, bool topk) {
  const auto& s = v.attention.spec;
  if (!window) {
    EXPECT_EQ(s.window, 0) << v.name;
  }
  if (!sinks) {
    EXPECT_EQ(s.sinks, 0) << v.name;
  }
  if (!decay) {
    EXPECT_TRUE(s.decay.empty()) << v.name;
  }
  if (!topk) {
    EXPECT_EQ(s.topk, 0) << v.name;
  }
  EXPECT_FALSE(s.alibi) << v.name;
  EXPECT_EQ(s.normalizer, Normalizer::softmax) << v.name;
  EXPECT_FALSE(v.attention.linear) << v.name;
  EXPECT_FALSE(v.attention.learned_decay) << v.name;
  EXPECT_FALSE(v.attention.learnable_sink) << v.name;
  EXPECT_EQ(v.positions, PositionMode::learned) << v.name;
}

TEST(TradeoffVariants, FixedNamesParseToTheirAttention) {
  const Variant full = parse_variant("full", 4);
  EXPECT_EQ(full.name, "full");
  EXPECT_EQ(full.family, "full");
  EXPECT_TRUE(full.attention.is_default());
  EXPECT_EQ(full.positions, PositionMode::learned);

  const Variant lin = parse_variant("linear", 4);
  EXPECT_EQ(lin.family, "linear");
  EXPECT_TRUE(lin.attention.linear);
  EXPECT_FALSE(lin.attention.learned_decay);
  EXPECT_FALSE(lin.attention.learnable_sink);
  EXPECT_EQ(lin.positions, PositionMode::learned);

  const Variant sm = parse_variant("sparsemax", 4);
  EXPECT_EQ(sm.family, "sparsemax");
  EXPECT_EQ(sm.attention.spec.normalizer, Normalizer::sparsemax);
  EXPECT_FALSE(sm.attention.linear);

  // ALiBi is a position mode (no position embeddings), not a spec item.
  const Variant alibi = parse_variant("alibi", 4);
  EXPECT_EQ(alibi.family, "alibi");
  EXPECT_EQ(alibi.positions, PositionMode::alibi);
  EXPECT_TRUE(alibi.attention.is_default());

  const Variant ld = parse_variant("learned-decay", 4);
  EXPECT_EQ(ld.family, "learned-decay");
  EXPECT_TRUE(ld.attention.learned_decay);
  EXPECT_TRUE(ld.attention.spec.decay.empty());
  EXPECT_FALSE(ld.attention.learnable_sink);

  const Variant ls = parse_variant("learnable-sink", 4);
  EXPECT_EQ(ls.family, "learnable-sink");
  EXPECT_TRUE(ls.attention.learnable_sink);
  EXPECT_FALSE(ls.attention.learned_decay);
  EXPECT_EQ(ls.attention.spec.window, 0);
  EXPECT_EQ(ls.positions, PositionMode::learned);
}

TEST(TradeoffVariants, ParameterizedNamesCarryTheirNumbers) {
  const Variant w = parse_variant("window-16", 4);
  EXPECT_EQ(w.name, "window-16");
  EXPECT_EQ(w.family, "window");
  EXPECT_EQ(w.attention.spec.window, 16);
  expect_plain_softmax_except(w, true, false, false, false);

  const Variant sw = parse_variant("sinks-4-window-32", 4);
  EXPECT_EQ(sw.family, "sinks+window");
  EXPECT_EQ(sw.attention.spec.sinks, 4);
  EXPECT_EQ(sw.attention.spec.window, 32);
  expect_plain_softmax_except(sw, true, true, false, false);

  const Variant tk = parse_variant("topk-8", 4);
  EXPECT_EQ(tk.family, "topk");
  EXPECT_EQ(tk.attention.spec.topk, 8);
  expect_plain_softmax_except(tk, false, false, false, true);

  const Variant d = parse_variant("decay-0.25", 4);
  EXPECT_EQ(d.family, "decay");
  ASSERT_EQ(d.attention.spec.decay.size(), 1u);
  EXPECT_DOUBLE_EQ(d.attention.spec.decay[0], 0.25);
  expect_plain_softmax_except(d, false, false, true, false);
  const Variant d2 = parse_variant("decay-1e-3", 4);
  ASSERT_EQ(d2.attention.spec.decay.size(), 1u);
  EXPECT_DOUBLE_EQ(d2.attention.spec.decay[0], 1e-3);
  EXPECT_DOUBLE_EQ(parse_variant("decay-100", 2).attention.spec.decay[0], 100.0);
}

TEST(TradeoffVariants, RetnetRatesAreMinusLogGamma) {
  for (Index H : {1, 2, 4, 8}) {
    const std::vector<double> r = retnet_rates(H);
    ASSERT_EQ(static_cast<Index>(r.size()), H);
    for (Index h = 0; h < H; ++h) {
      const double gamma = 1.0 - std::pow(2.0, -5.0 - static_cast<double>(h));
      EXPECT_NEAR(r[static_cast<std::size_t>(h)], -std::log(gamma), 1e-15) << "h " << h;
    }
  }
  // Head 0: γ = 31/32, r = ln(32/31) ≈ 0.031749; rates halve (roughly) per head.
  EXPECT_NEAR(retnet_rates(1)[0], 0.0317486983145803, 1e-12);
  const Variant v = parse_variant("decay-retnet", 4);
  EXPECT_EQ(v.family, "decay");
  EXPECT_EQ(v.attention.spec.decay, retnet_rates(4));
  expect_plain_softmax_except(v, false, false, true, false);
  EXPECT_EQ(parse_variant("decay-retnet", 2).attention.spec.decay.size(), 2u);
}

TEST(TradeoffVariants, SearchedSpecsParseThroughTheModelAttentionGrammar) {
  const Variant s = parse_variant("searched:window=16,sinks=4,topk=8", 4);
  EXPECT_EQ(s.name, "searched:window=16,sinks=4,topk=8");
  EXPECT_EQ(s.family, "searched");
  EXPECT_EQ(s.attention.spec.window, 16);
  EXPECT_EQ(s.attention.spec.sinks, 4);
  EXPECT_EQ(s.attention.spec.topk, 8);
  EXPECT_EQ(s.positions, PositionMode::learned);
  const Variant d = parse_variant("searched:decay=0.05", 4);
  ASSERT_EQ(d.attention.spec.decay.size(), 1u);
  EXPECT_DOUBLE_EQ(d.attention.spec.decay[0], 0.05);
  EXPECT_TRUE(parse_variant("searched:window=8,learnable_sink", 2).attention.learnable_sink);
  // The model-attention rules apply: linear replaces the softmax spec.
  EXPECT_PRED2(contains,
               thrown_message<UsageError>([] { parse_variant("searched:linear,window=4", 2); }),
               "cannot be combined");
}

TEST(TradeoffVariants, BadNamesNameTheVariantAndThePart) {
  auto message = [](const std::string& n) {
    return thrown_message<UsageError>([&] { parse_variant(n, 4); });
  };
  EXPECT_PRED2(contains, message("window-0"),
               "variant 'window-0': window '0' is not an integer in [1, 1048576]");
  EXPECT_PRED2(contains, message("window-x"), "variant 'window-x': window 'x' is not an integer");
  EXPECT_PRED2(contains, message("window-"), "window '' is not an integer");
  EXPECT_PRED2(contains, message("window-8.5"), "window '8.5'");
  EXPECT_PRED2(contains, message("window-1048577"), "window '1048577'");
  EXPECT_PRED2(contains, message("topk-0"), "variant 'topk-0': K '0'");
  EXPECT_PRED2(contains, message("sinks-4"), "variant 'sinks-4': expected sinks-S-window-W");
  EXPECT_PRED2(contains, message("sinks-0-window-8"), "sinks '0'");
  EXPECT_PRED2(contains, message("sinks-4-window-0"), "window '0'");
  EXPECT_PRED2(contains, message("decay-0"),
               "variant 'decay-0': rate '0' is not a number in (0, 100]");
  EXPECT_PRED2(contains, message("decay--1"), "rate '-1'");
  EXPECT_PRED2(contains, message("decay-101"), "rate '101'");
  EXPECT_PRED2(contains, message("decay-fast"), "rate 'fast'");
  const std::string unknown = message("ring");
  EXPECT_PRED2(contains, unknown, "unknown variant 'ring'");
  EXPECT_PRED2(contains, unknown, "sinks-S-window-W");
  EXPECT_PRED2(contains, message("Full"), "unknown variant 'Full'");
  EXPECT_PRED2(contains, message(""), "unknown variant ''");
}

TEST(TradeoffVariants, ParseVariantsSplitsTrimsAndRejectsDuplicates) {
  const auto vs = parse_variants(" full, window-8 ,decay-retnet", 2);
  EXPECT_EQ(names(vs), (std::vector<std::string>{"full", "window-8", "decay-retnet"}));
  EXPECT_EQ(vs[1].attention.spec.window, 8);
  EXPECT_PRED2(contains,
               thrown_message<UsageError>([] { parse_variants("full,window-8,full", 2); }),
               "--variants: 'full' twice");
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { parse_variants("full,,alibi", 2); }),
               "--variants: empty item in 'full,,alibi'");
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { parse_variants("", 2); }), "empty item");
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { parse_variants("full,window-0", 2); }),
               "variant 'window-0'");
}

TEST(TradeoffVariants, DefaultAndReportSetsScaleWithTheContext) {
  const auto all = default_variants(128, 4);
  EXPECT_EQ(names(all),
            (std::vector<std::string>{"full", "window-16", "window-32", "sinks-4-window-32",
                                      "decay-retnet", "decay-0.25", "alibi", "topk-8", "linear",
                                      "sparsemax", "learned-decay", "learnable-sink"}));
  EXPECT_EQ(all[1].attention.spec.window, 16);
  EXPECT_EQ(all[2].attention.spec.window, 32);
  EXPECT_EQ(all[3].attention.spec.window, 32);
  EXPECT_EQ(all[3].attention.spec.sinks, 4);
  EXPECT_EQ(all[4].attention.spec.decay.size(), 4u);
  const auto small = default_variants(64, 2);
  EXPECT_EQ(small[1].name, "window-8");
  EXPECT_EQ(small[2].name, "window-16");
  EXPECT_EQ(small[3].name, "sinks-4-window-16");
  const auto rep = report_variants(64, 4);
  EXPECT_EQ(names(rep),
            (std::vector<std::string>{"full", "window-16", "sinks-4-window-16", "decay-retnet",
                                      "alibi", "linear", "learned-decay"}));
  // Windows never fall below 2 tokens.
  EXPECT_EQ(report_variants(8, 2)[1].name, "window-2");
  // Families of the default set cover every family the header lists but "searched".
  std::set<std::string> fams;
  for (const auto& v : all) fams.insert(v.family);
  EXPECT_EQ(fams,
            (std::set<std::string>{"full", "window", "sinks+window", "decay", "alibi", "topk",
                                   "linear", "sparsemax", "learned-decay", "learnable-sink"}));
}

TEST(TradeoffVariants, DefaultVariantNamesAreDistinctAtEveryContext) {
  // The study trains each name once per seed; two equal names would give two summaries of the
  // same variant. Every context a task accepts (kjv accepts T >= 8) gives distinct names: 12,
  // or 11 where T/8 and T/4 round to the same window (T < 12).
  for (Index T = 8; T <= 520; ++T) {
    const auto vs = default_variants(T, 2);
    const std::vector<std::string> n = names(vs);
    EXPECT_EQ(std::set<std::string>(n.begin(), n.end()).size(), n.size()) << "context " << T;
    EXPECT_EQ(n.size(), T < 12 ? 11u : 12u) << "context " << T;
  }
}

}  // namespace
}  // namespace attnlab
