// The Witten–Bell n-gram baseline against a brute-force recursive reference, normalization,
// known sequences (periodic → ~0 bits, i.i.d. uniform → log2 V bits), the 16-bit key path of a
// GPT-2-sized vocabulary, and input validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/models/tinylm/ngram_baseline.hpp"

namespace attnlab {
namespace {

using models::tinylm::evaluate_ngram_baseline;
using models::tinylm::NgramBaselineOptions;
using models::tinylm::NgramBaselineResult;
using models::tinylm::WittenBellModel;
using Tokens = std::vector<std::int32_t>;

Tokens random_tokens(std::size_t n, std::int32_t vocab, std::uint32_t seed) {
  std::mt19937 gen(seed);  // raw mt19937 output is fixed by the standard
  Tokens t(n);
  for (auto& x : t) x = static_cast<std::int32_t>(gen() % static_cast<std::uint32_t>(vocab));
  return t;
}

// P_WB(w | h) straight from the definition, counting by scanning the training sequence.
double reference_wb(const Tokens& train, std::int32_t vocab, const Tokens& h, std::int32_t w) {
  const double lower =
      h.empty() ? 1.0 / vocab : reference_wb(train, vocab, Tokens(h.begin() + 1, h.end()), w);
  double c_h = 0, c_hw = 0;
  std::vector<bool> seen(static_cast<std::size_t>(vocab), false);
  for (std::size_t i = 0; i + h.size() < train.size(); ++i) {
    if (!std::equal(h.begin(), h.end(), train.begin() + static_cast<std::ptrdiff_t>(i))) continue;
    const std::int32_t next = train[i + h.size()];
    c_h += 1;
    c_hw += next == w ? 1 : 0;
    seen[static_cast<std::size_t>(next)] = true;
  }
  const double d = static_cast<double>(std::count(seen.begin(), seen.end(), true));
  return c_h == 0 ? lower : (c_hw + d * lower) / (c_h + d);
}

// Every context of length `len` over the alphabet, in lexicographic order.
std::vector<Tokens> all_contexts(std::int32_t vocab, std::size_t len) {
  std::vector<Tokens> out{Tokens{}};
  for (std::size_t k = 0; k < len; ++k) {
    std::vector<Tokens> next;
    for (const Tokens& c : out)
      for (std::int32_t v = 0; v < vocab; ++v) {
        Tokens e = c;
        e.push_back(v);
        next.push_back(e);
      }
    out = next;
  }
  return out;
}

TEST(NgramBaseline, MatchesBruteForceWittenBell) {
  const std::int32_t V = 4;
  // Short enough that some 3-token contexts are unseen; the train suffix is a context too.
  const Tokens train = random_tokens(60, V, 1);
  const WittenBellModel model(train, V, 4);
  for (std::size_t len = 0; len <= 3; ++len)
    for (const Tokens& h : all_contexts(V, len))
      for (std::int32_t w = 0; w < V; ++w) {
        const int order = static_cast<int>(len) + 1;
        EXPECT_NEAR(model.probability(h, w, order), reference_wb(train, V, h, w), 1e-14)
            << "order " << order << " w " << w;
      }
  const Tokens suffix(train.end() - 3, train.end());
  for (std::int32_t w = 0; w < V; ++w)
    EXPECT_NEAR(model.probability(suffix, w, 4), reference_wb(train, V, suffix, w), 1e-14);
}

TEST(NgramBaseline, LongerContextUsesOnlyItsLastTokens) {
  const std::int32_t V = 3;
  const Tokens train = random_tokens(200, V, 2);
  const WittenBellModel model(train, V, 5);
  const Tokens context = {2, 0, 1, 1, 0, 2};
  std::vector<double> by_order(5);
  model.probabilities_by_order(context, 1, by_order);
  for (int k = 1; k <= 5; ++k) {
    const Tokens last(context.end() - (k - 1), context.end());
    EXPECT_NEAR(by_order[k - 1], reference_wb(train, V, last, 1), 1e-14) << "order " << k;
    EXPECT_EQ(model.probability(context, 1, k), by_order[k - 1]);
  }
}

TEST(NgramBaseline, ProbabilitiesSumToOne) {
  const std::int32_t V = 5;
  Tokens train = random_tokens(300, V, 3);
  for (int i = 0; i < 100; ++i) train.push_back(i % 3);  // some repeated structure
  const WittenBellModel model(train, V, 5);
  const std::vector<Tokens> contexts = {{},           {0},          {4, 4, 4, 4}, {0, 1, 2, 0},
                                        {1, 2, 0, 1}, {3, 1, 4, 0}, {2, 2}};
  for (const Tokens& h : contexts)
    for (int order = 1; order <= 5; ++order) {
      double sum = 0;
      for (std::int32_t w = 0; w < V; ++w) {
        const double p = model.probability(h, w, order);
        EXPECT_GT(p, 0.0);
        sum += p;
      }
      EXPECT_NEAR(sum, 1.0, 1e-12) << "order " << order << " context size " << h.size();
    }
}

TEST(NgramBaseline, PeriodicSequenceIsPredictedFromOnePeriodOfContext) {
  // Period 4: "0 0 0 1". Two tokens of context are ambiguous ("0 0" → 0 or 1), three are not.
  const Tokens period = {0, 0, 0, 1};
  Tokens train, heldout;
  for (int i = 0; i < 250; ++i) train.insert(train.end(), period.begin(), period.end());
  for (int i = 0; i < 25; ++i) heldout.insert(heldout.end(), period.begin(), period.end());
  const NgramBaselineResult r = evaluate_ngram_baseline(train, heldout, 2, {1, 6});
  ASSERT_EQ(r.orders.size(), 6u);
  for (int k = 1; k <= 3; ++k) EXPECT_GT(r.orders[k - 1].bits_per_token, 0.3) << "order " << k;
  for (int k = 4; k <= 6; ++k) EXPECT_LT(r.orders[k - 1].bits_per_token, 0.01) << "order " << k;
  EXPECT_GE(r.best_order, 4);
  for (const auto& o : r.orders) {
    EXPECT_GE(o.bits_per_token, r.best_bits_per_token);
    EXPECT_NEAR(o.nats_per_token, o.bits_per_token * std::log(2.0), 1e-12);
  }
  EXPECT_EQ(r.orders[r.best_order - 1].bits_per_token, r.best_bits_per_token);
  EXPECT_NEAR(r.unigram_entropy_bits, -(0.75 * std::log2(0.75) + 0.25 * std::log2(0.25)), 1e-12);
  const nlohmann::json j = r.to_json();
  EXPECT_EQ(j.at("best_order"), r.best_order);
  EXPECT_EQ(j.at("orders").size(), 6u);
  EXPECT_EQ(j.at("train_tokens"), 1000);
  EXPECT_EQ(j.at("heldout_tokens"), 100);
}

TEST(NgramBaseline, UniformRandomTokensCostLog2VocabBits) {
  const std::int32_t V = 8;
  const Tokens train = random_tokens(200000, V, 4);
  const Tokens heldout = random_tokens(20000, V, 5);
  const NgramBaselineResult r = evaluate_ngram_baseline(train, heldout, V, {1, 4});
  for (const auto& o : r.orders) {
    EXPECT_NEAR(o.bits_per_token, 3.0, 0.05) << "order " << o.order;
    EXPECT_GT(o.bits_per_token, 2.98) << "order " << o.order;
  }
  EXPECT_NEAR(r.unigram_entropy_bits, 3.0, 0.01);
  EXPECT_NEAR(r.unigram_heldout_bits, 3.0, 0.01);
}

TEST(NgramBaseline, Gpt2SizedVocabularyFitsOrderFour) {
  const std::int32_t V = 50257;  // 16 bits per token: order 4 is the most that packs in 64 bits
  Tokens train = random_tokens(500, 6, 6);
  for (auto& x : train) x = x == 5 ? V - 1 : x * 10007;
  const WittenBellModel model(train, V, 4);
  const Tokens h(train.begin() + 100, train.begin() + 103);
  for (std::int32_t w : {train[103], V - 1, 0, 12345})
    EXPECT_NEAR(model.probability(h, w, 4), reference_wb(train, V, h, w), 1e-14);
  EXPECT_THROW(WittenBellModel(train, V, 5), UsageError);
}

TEST(NgramBaseline, RejectsBadInputs) {
  const Tokens ok = {0, 1, 2, 1};
  const auto eval = [](const Tokens& tr, const Tokens& ho, std::int32_t V, int lo, int hi) {
    return evaluate_ngram_baseline(tr, ho, V, NgramBaselineOptions{lo, hi});
  };
  EXPECT_THROW(eval(ok, ok, 0, 1, 2), UsageError);
  EXPECT_THROW(eval(ok, ok, 3, 0, 2), UsageError);
  EXPECT_THROW(eval(ok, ok, 3, 3, 2), UsageError);
  EXPECT_THROW(eval(ok, ok, 3, 1, 9), UsageError);
  EXPECT_THROW(eval({}, ok, 3, 1, 2), UsageError);
  EXPECT_THROW(eval(ok, {}, 3, 1, 2), UsageError);
  EXPECT_THROW(eval({0, 3}, ok, 3, 1, 2), UsageError);
  EXPECT_THROW(eval(ok, {0, -1}, 3, 1, 2), UsageError);
  EXPECT_THROW(eval(ok, ok, 70000, 1, 5), UsageError);  // 17 bits x 5 > 64
  try {
    eval(ok, {0, 1, 7}, 3, 1, 2);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("heldout token 2 is 7"), std::string::npos) << e.what();
  }
  const WittenBellModel model(ok, 3, 3);
  EXPECT_THROW(model.probability(Tokens{0}, 3, 2), UsageError);
  EXPECT_THROW(model.probability(Tokens{5}, 0, 2), UsageError);
  EXPECT_THROW(model.probability(Tokens{0}, 0, 4), UsageError);
  EXPECT_THROW(model.probability(Tokens{0}, 0, 0), UsageError);
}

}  // namespace
}  // namespace attnlab
