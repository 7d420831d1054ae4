// The trade-off study's cost model (analysis/tradeoff/cost_model.hpp) against hand counts on tiny
// configs built the way the study builds them (task_model_config): visible pairs per row for
// full, window, sinks + window, learnable sink, top-k and sparsemax; the per-pair FLOP rules; the
// dense GEMM formula; training = forward + backward; KV bytes per variant; linear attention's
// state; and the prunable pairs of a fixed or learned decay.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/cost_model.hpp"
#include "attnlab/analysis/tradeoff/task_trainer.hpp"
#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using analysis::tradeoff::CostCounts;
using analysis::tradeoff::count_costs;
using analysis::tradeoff::parse_variant;
using analysis::tradeoff::task_model_config;
using analysis::tradeoff::task_preset;
using analysis::tradeoff::TaskKind;
using analysis::tradeoff::TaskTrainOptions;
using models::gpt2::Gpt2Config;
using testing::contains;
using testing::thrown_message;

// L = 2 layers, H = 2 heads, C = 16 (d = 8), F = 4C = 64, context 64, vocabulary 97.
constexpr double L = 2, H = 2, C = 16, d = 8, F = 64, V = 97;

Gpt2Config config_for(const std::string& variant) {
  TaskTrainOptions o;
  o.layers = 2;
  o.width = 16;
  o.heads = 2;
  o.mlp_ratio = 4;
  const auto task = task_preset(TaskKind::retrieval, 64);
  return task_model_config(task, parse_variant(variant, o.heads), o, task.vocab_size());
}

// Σ over query rows i = 0 .. n − 1 of f(i).
double sum_rows(Index n, const std::function<double(double)>& f) {
  double s = 0;
  for (Index i = 0; i < n; ++i) s += f(static_cast<double>(i));
  return s;
}

// N · (L · (2C·3C + 2C² + 2·C·F·2) + 2·C·V): the header's dense GEMM count.
double dense(Index n) {
  return static_cast<double>(n) * (L * (2 * C * 3 * C + 2 * C * C + 2 * C * F * 2) + 2 * C * V);
}

// Softmax-family costs from visible pairs per row v(i): pairs, forward, training.
void expect_softmax_counts(const CostCounts& c, Index n, const std::function<double(double)>& v) {
  const double per_layer_head = sum_rows(n, v);
  const double pairs = L * H * per_layer_head;
  EXPECT_EQ(c.tokens, n);
  EXPECT_DOUBLE_EQ(c.attention_pairs, pairs);
  EXPECT_DOUBLE_EQ(c.attention_flops, pairs * (4 * d + 4));
  EXPECT_DOUBLE_EQ(c.dense_flops, dense(n));
  EXPECT_DOUBLE_EQ(c.forward_flops, c.attention_flops + c.dense_flops);
  EXPECT_DOUBLE_EQ(c.training_flops, c.forward_flops + 2 * c.dense_flops + pairs * (10 * d + 4));
}

double kv_rows(double rows) {
  return L * 2 * C * 4 * rows;  // per layer 2·C·4 bytes per kept row
}

TEST(TradeoffCostModel, FullCausalCountsEveryEarlierKey) {
  const Gpt2Config c = config_for("full");
  ASSERT_EQ(c.head_dim(), 8);
  ASSERT_EQ(c.ffn_dim(), 64);
  ASSERT_EQ(c.vocab_size, 97);
  const CostCounts k = count_costs(c, 8);
  EXPECT_DOUBLE_EQ(k.attention_pairs, L * H * 8 * 9 / 2);  // n(n + 1)/2 = 36 per layer and head
  expect_softmax_counts(k, 8, [](double i) { return i + 1; });
  EXPECT_DOUBLE_EQ(k.kv_bytes, kv_rows(8));
  EXPECT_DOUBLE_EQ(k.prunable_pairs, 0);
  EXPECT_DOUBLE_EQ(k.pruned_kv_bytes, k.kv_bytes);
  // One token: one pair per layer and head.
  EXPECT_DOUBLE_EQ(count_costs(c, 1).attention_pairs, L * H);
  EXPECT_DOUBLE_EQ(count_costs(c, 64).attention_pairs, L * H * 64 * 65 / 2);
}

TEST(TradeoffCostModel, WindowSeesMinOfRowAndWindow) {
  const CostCounts k = count_costs(config_for("window-4"), 10);
  // Rows 0..3 see 1..4 keys, rows 4..9 see 4: 10 + 24 = 34 per layer and head.
  EXPECT_DOUBLE_EQ(k.attention_pairs, L * H * 34);
  expect_softmax_counts(k, 10, [](double i) { return std::min(i + 1, 4.0); });
  EXPECT_DOUBLE_EQ(k.kv_bytes, kv_rows(4));
  // Shorter than the window: the cache holds the whole sequence.
  EXPECT_DOUBLE_EQ(count_costs(config_for("window-4"), 3).kv_bytes, kv_rows(3));
}

TEST(TradeoffCostModel, SinksStayVisibleBesideTheWindow) {
  const Index n = 12;
  const CostCounts k = count_costs(config_for("sinks-2-window-4"), n);
  // Row i: the window min(i + 1, 4) plus the sinks j < 2 that fell out of it, min(2, i − 3)^+.
  auto v = [](double i) { return std::min(i + 1, 4.0) + std::clamp(i - 3, 0.0, 2.0); };
  // Rows 0..3: 1+2+3+4, row 4: 4 + 1, rows 5..11: 7·6 → 57 per layer and head.
  EXPECT_DOUBLE_EQ(sum_rows(n, v), 57);
  expect_softmax_counts(k, n, v);
  EXPECT_DOUBLE_EQ(k.kv_bytes, kv_rows(6));  // W + S rows
  EXPECT_DOUBLE_EQ(count_costs(config_for("sinks-2-window-4"), 5).kv_bytes, kv_rows(5));
}

TEST(TradeoffCostModel, LearnableSinkAddsOneKeyPerRowAndOneCacheRow) {
  const Index n = 8;
  const CostCounts k = count_costs(config_for("learnable-sink"), n);
  expect_softmax_counts(k, n, [](double i) { return i + 2; });
  EXPECT_DOUBLE_EQ(k.attention_pairs, L * H * (36 + 8));
  EXPECT_DOUBLE_EQ(k.kv_bytes, kv_rows(n + 1));
  EXPECT_DOUBLE_EQ(k.pruned_kv_bytes, k.kv_bytes);
  // With a window W the slot is one extra sink: row i sees min(i + 2, W + 1) keys, the cache W + 1.
  const CostCounts w = count_costs(config_for("searched:window=4,learnable_sink"), 10);
  expect_softmax_counts(w, 10, [](double i) { return std::min(i + 2, 5.0); });
  EXPECT_DOUBLE_EQ(w.kv_bytes, kv_rows(5));
}

TEST(TradeoffCostModel, LinearAttentionHasNoPairsAndAFixedState) {
  const Index n = 8;
  const CostCounts k = count_costs(config_for("linear"), n);
  EXPECT_DOUBLE_EQ(k.attention_pairs, 0);
  const double fwd = L * n * H * (4 * d * d + 8 * d);
  EXPECT_DOUBLE_EQ(k.attention_flops, fwd);
  EXPECT_DOUBLE_EQ(k.dense_flops, dense(n));
  EXPECT_DOUBLE_EQ(k.training_flops, fwd + dense(n) + 2 * dense(n) + 2 * fwd);
  EXPECT_DOUBLE_EQ(k.kv_bytes, L * H * (d * d + d) * 4);
  EXPECT_DOUBLE_EQ(k.pruned_kv_bytes, k.kv_bytes);
  // The state does not grow with the sequence.
  EXPECT_DOUBLE_EQ(count_costs(config_for("linear"), 64).kv_bytes, k.kv_bytes);
}

TEST(TradeoffCostModel, TopkPaysForEveryLogitButMixesOnlyK) {
  const Index n = 8;
  const double K = 3;
  const CostCounts k = count_costs(config_for("topk-3"), n);
  // Pairs are the q·k products: every visible key, before selection.
  EXPECT_DOUBLE_EQ(k.attention_pairs, L * H * 36);
  // Forward per row: q·k over v keys (2d·v), selection (v), softmax and α·v over the kept
  // min(K, v) pairs ((2d + 4) each); backward: recompute q·k (2d·v) plus (8d + 4) per kept pair.
  const double fwd = L * H * sum_rows(n, [&](double i) {
                       const double v = i + 1, kept = std::min(v, K);
                       return 2 * d * v + v + (2 * d + 4) * kept;
                     });
  const double bwd = L * H * sum_rows(n, [&](double i) {
                       const double v = i + 1, kept = std::min(v, K);
                       return 2 * d * v + (8 * d + 4) * kept;
                     });
  EXPECT_DOUBLE_EQ(k.attention_flops, fwd);
  EXPECT_DOUBLE_EQ(k.training_flops, fwd + dense(n) + 2 * dense(n) + bwd);
  EXPECT_DOUBLE_EQ(k.kv_bytes, kv_rows(n));
  // Cheaper forward than full attention once rows are longer than K.
  EXPECT_LT(k.attention_flops, count_costs(config_for("full"), n).attention_flops);
}

TEST(TradeoffCostModel, SparsemaxAddsASortPerRow) {
  const Index n = 8;
  const CostCounts k = count_costs(config_for("sparsemax"), n);
  EXPECT_DOUBLE_EQ(k.attention_pairs, L * H * 36);
  // ⌈log2 v⌉ for v = 1..8: 0 1 2 2 3 3 3 3 → Σ v·⌈log2 v⌉ = 0+2+6+8+15+18+21+24 = 94.
  const double sort = L * H * 94;
  EXPECT_DOUBLE_EQ(k.attention_flops, L * H * 36 * (4 * d + 4) + sort);
  EXPECT_DOUBLE_EQ(k.training_flops,
                   k.attention_flops + dense(n) + 2 * dense(n) + L * H * 36 * (10 * d + 4));
}

TEST(TradeoffCostModel, FixedDecayPrunesPairsBeyondTenOverRate) {
  // Rate 0.25: bias −0.25·Δ reaches ln ε = −10 at Δ = ⌈10 / 0.25⌉ = 40.
  const Gpt2Config c = config_for("decay-0.25");
  const CostCounts at40 = count_costs(c, 40);  // largest Δ is 39: nothing prunable
  EXPECT_DOUBLE_EQ(at40.prunable_pairs, 0);
  EXPECT_DOUBLE_EQ(at40.pruned_kv_bytes, at40.kv_bytes);
  EXPECT_DOUBLE_EQ(count_costs(c, 41).prunable_pairs, L * H * 1);  // row 40, Δ = 40
  const Index n = 48;
  const CostCounts k = count_costs(c, n);
  // Row i has max(0, i − 39) pairs with Δ ≥ 40: 1 + 2 + … + 8 = 36 per layer and head.
  EXPECT_DOUBLE_EQ(k.prunable_pairs,
                   L * H * sum_rows(n, [](double i) { return std::max(0.0, i - 39); }));
  EXPECT_DOUBLE_EQ(k.prunable_pairs, L * H * 36);
  EXPECT_DOUBLE_EQ(k.kv_bytes, kv_rows(48));
  EXPECT_DOUBLE_EQ(k.pruned_kv_bytes, kv_rows(40));  // keys at Δ ≤ 39 kept
  // The bias prunes nothing from the work a dense kernel does.
  expect_softmax_counts(k, n, [](double i) { return i + 1; });
  // RetNet's rates (≈ 0.032 and 0.016) reach −10 only beyond 300 tokens: nothing at T = 64.
  EXPECT_DOUBLE_EQ(count_costs(config_for("decay-retnet"), 64).prunable_pairs, 0);
}

TEST(TradeoffCostModel, LearnedRatesMoveOnlyThePrunableCounts) {
  const Gpt2Config c = config_for("learned-decay");
  const CostCounts none = count_costs(c, 48);
  EXPECT_DOUBLE_EQ(none.prunable_pairs, 0);
  const std::vector<std::vector<double>> rates = {{0.25, 0.25}, {0.25, 0.25}};
  const CostCounts learned = count_costs(c, 48, rates);
  EXPECT_DOUBLE_EQ(learned.prunable_pairs,
                   count_costs(config_for("decay-0.25"), 48).prunable_pairs);
  EXPECT_DOUBLE_EQ(learned.pruned_kv_bytes, kv_rows(40));
  EXPECT_DOUBLE_EQ(learned.attention_flops, none.attention_flops);
  EXPECT_DOUBLE_EQ(learned.training_flops, none.training_flops);
  // Rate 0.5 (cut Δ ≥ 20) on both heads of layer 0 only: Σ_i max(0, i − 19) = 406 per head.
  const double beyond20 = sum_rows(48, [](double i) { return std::max(0.0, i - 19); });
  EXPECT_DOUBLE_EQ(beyond20, 406);
  const CostCounts layer0 = count_costs(c, 48, {{0.5, 0.5}, {0.0, 0.0}});
  EXPECT_DOUBLE_EQ(layer0.prunable_pairs, H * beyond20);
  // Layer 0 keeps 20 rows, layer 1 (no pruning) all 48.
  EXPECT_DOUBLE_EQ(layer0.pruned_kv_bytes, 2 * C * 4 * (20 + 48));
  // One decaying head: its pairs are prunable, but the cache keeps what the other head needs.
  const CostCounts one_head = count_costs(c, 48, {{0.5, 0.0}, {0.0, 0.0}});
  EXPECT_DOUBLE_EQ(one_head.prunable_pairs, beyond20);
  EXPECT_DOUBLE_EQ(one_head.pruned_kv_bytes, one_head.kv_bytes);
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] {
                 count_costs(c, 48, {{0.25, 0.25}});
               }),
               "1 layers of learned rates for 2 layers");
}

TEST(TradeoffCostModel, LengthOutsideThePositionsIsAUsageError) {
  const Gpt2Config c = config_for("full");
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { count_costs(c, 0); }),
               "count_costs: n = 0 outside [1, n_positions = 64]");
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { count_costs(c, 65); }), "n = 65");
  EXPECT_NO_THROW(count_costs(c, 64));
}

TEST(TradeoffCostModel, JsonNamesEveryCount) {
  const CostCounts k = count_costs(config_for("sinks-2-window-4"), 12);
  const nlohmann::json j = k.to_json();
  EXPECT_EQ(j.at("tokens"), 12);
  EXPECT_DOUBLE_EQ(j.at("attention_pairs").get<double>(), k.attention_pairs);
  EXPECT_DOUBLE_EQ(j.at("attention_flops").get<double>(), k.attention_flops);
  EXPECT_DOUBLE_EQ(j.at("dense_flops").get<double>(), k.dense_flops);
  EXPECT_DOUBLE_EQ(j.at("forward_flops").get<double>(), k.forward_flops);
  EXPECT_DOUBLE_EQ(j.at("training_flops").get<double>(), k.training_flops);
  EXPECT_DOUBLE_EQ(j.at("kv_bytes").get<double>(), k.kv_bytes);
  EXPECT_DOUBLE_EQ(j.at("prunable_pairs").get<double>(), k.prunable_pairs);
  EXPECT_DOUBLE_EQ(j.at("pruned_kv_bytes").get<double>(), k.pruned_kv_bytes);
}

}  // namespace
}  // namespace attnlab
