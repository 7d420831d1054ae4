// The trade-off study end to end (analysis/tradeoff/task_trainer, tradeoff_study,
// heuristic_search, tradeoff_run, tradeoff_outputs):
//   - a tiny full-attention GPT solves typed retrieval while a 4-token window, which cannot reach
//     most keys, stays near chance; the per-distance buckets show where the window still works;
//   - summarize()'s mean and Student-t interval against a hand computation, t quantiles, frontier
//     marks on fabricated summaries, TaskRun JSON round trip;
//   - the budgeted search is deterministic, stays under its budget and spends the documented
//     steps; its grid's FLOP fractions;
//   - task lists, variant lists, seed ranges, plan validation and the output files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/heuristic_search.hpp"
#include "attnlab/analysis/tradeoff/task_trainer.hpp"
#include "attnlab/analysis/tradeoff/tradeoff_outputs.hpp"
#include "attnlab/analysis/tradeoff/tradeoff_run.hpp"
#include "attnlab/analysis/tradeoff/tradeoff_study.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using namespace analysis::tradeoff;
using testing::contains;
using testing::thrown_message;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The study's recipe shrunk to a few seconds on 2 cores.
TaskTrainOptions tiny_options(std::int64_t steps) {
  TaskTrainOptions o;
  o.layers = 2;
  o.width = 32;
  o.heads = 2;
  o.batch = 16;
  o.steps = steps;
  o.eval_rows = 128;
  o.seed = 3;
  return o;
}

// ---------------------------------------------------------------------------------------------
// End to end: full attention reads the context, a short window cannot.

TEST(TradeoffStudy, FullAttentionSolvesRetrievalAWindowOfFourCannot) {
  const TaskConfig task = task_preset(TaskKind::retrieval, 32);  // P = 8, Q = 4, 4 values per key
  ASSERT_TRUE(task.typed);
  // Width 64 with 4 heads: at width 32 / 2 heads the full model reached only 0.37–0.80 after
  // 400 steps (seeds 1–3); at 64 / 4 it reached 0.98–1.00 after 250 steps and 1.00 after 300
  // (seeds 1–4), while window-4 stayed at 0.22–0.30.
  TaskTrainOptions o = tiny_options(300);
  o.width = 64;
  o.heads = 4;
  const TaskRun full = train_on_task(task, parse_variant("full", o.heads), o);
  const TaskRun window = train_on_task(task, parse_variant("window-4", o.heads), o);
  RecordProperty("full_accuracy", std::to_string(full.accuracy));
  RecordProperty("window4_accuracy", std::to_string(window.accuracy));

  for (const TaskRun* r : {&full, &window}) {
    EXPECT_EQ(r->scored, o.eval_rows * task.queries);
    EXPECT_EQ(r->seed, o.seed);
    EXPECT_EQ(r->loss_curve.size(), static_cast<std::size_t>(o.steps));
    EXPECT_EQ(r->bucket_width, 4);  // ⌈32 / 8⌉
    ASSERT_EQ(r->bucket_quality.size(), 8u);
    ASSERT_EQ(r->bucket_count.size(), 8u);
    Index counted = 0;
    double weighted = 0;
    for (std::size_t b = 0; b < 8; ++b) {
      counted += r->bucket_count[b];
      if (r->bucket_count[b] > 0)
        weighted += r->bucket_quality[b] * static_cast<double>(r->bucket_count[b]);
      else
        EXPECT_TRUE(std::isnan(r->bucket_quality[b]));
    }
    EXPECT_EQ(counted, r->scored);
    // Buckets partition the scored queries: their weighted mean is the accuracy.
    EXPECT_NEAR(weighted / static_cast<double>(counted), r->accuracy, 1e-12);
    EXPECT_GT(r->parameters, 0u);
    EXPECT_EQ(r->costs.tokens, task.context);
  }
  EXPECT_EQ(full.variant, "full");
  EXPECT_EQ(window.family, "window");
  // Training reduced the loss of the full model from chance (ln 64 ≈ 4.16 over all values).
  EXPECT_LT(full.loss_curve.back(), 0.5 * full.loss_curve.front());
  EXPECT_GE(full.accuracy, 0.9);  // measured 1.000 (seed 3)
  // Chance among a key's 4 typed values is 1/4; the window reaches only distances < 4 directly.
  EXPECT_LE(window.accuracy, 0.45);  // measured 0.299 (seed 3)
  EXPECT_GE(window.accuracy, 0.10);
  // The window's cost is lower, at the same dense work.
  EXPECT_LT(window.costs.attention_pairs, full.costs.attention_pairs);
  EXPECT_DOUBLE_EQ(window.costs.dense_flops, full.costs.dense_flops);
  // Both models are scored on the same held-out queries, bucket by bucket, and no distance below
  // 2 exists. Bucket 0 ([0, 4): distance 2 only, a key in the last haystack slot queried first)
  // is the one the window can read, but it holds only 7–13 queries and window-4's accuracy there
  // ranged 0.00–0.55 over seeds 1–4 (window-16 did not learn in-window retrieval within 300 steps
  // either: 0.29–0.46 at distances 4–15), so the in-window vs beyond comparison is not asserted.
  EXPECT_EQ(window.bucket_count, full.bucket_count);
  EXPECT_EQ(full.bucket_count[0], 11);  // the seed-3 evaluation set (measured)
  EXPECT_GE(full.bucket_quality[0], 0.9);
}

TEST(TradeoffStudy, TrainingIsReproducibleFromTheSeed) {
  const TaskConfig task = task_preset(TaskKind::recency, 32);
  TaskTrainOptions o = tiny_options(12);
  o.eval_rows = 32;
  const Variant v = parse_variant("decay-retnet", o.heads);
  const TaskRun a = train_on_task(task, v, o), b = train_on_task(task, v, o);
  EXPECT_EQ(a.loss_curve, b.loss_curve);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_EQ(a.weights.params, b.weights.params);
  o.seed = 4;
  EXPECT_NE(train_on_task(task, v, o).loss_curve, a.loss_curve);
}

TEST(TradeoffStudy, LearnedDecayRunsReportTheirRates) {
  const TaskConfig task = task_preset(TaskKind::retrieval, 32);
  TaskTrainOptions o = tiny_options(5);
  o.eval_rows = 16;
  const TaskRun r = train_on_task(task, parse_variant("learned-decay", o.heads), o);
  ASSERT_EQ(r.learned_decay.size(), 2u);
  ASSERT_EQ(r.learned_decay[0].size(), 2u);
  // Initialized at RetNet's rates and moved only a little in 5 steps.
  EXPECT_NEAR(r.learned_decay[0][0], retnet_rates(2)[0], 0.05);
  EXPECT_TRUE(train_on_task(task, parse_variant("full", o.heads), o).learned_decay.empty());
}

TEST(TradeoffStudy, TrainOptionsAndTheKjvTaskAreChecked) {
  TaskTrainOptions o = tiny_options(5);
  o.heads = 3;  // 32 % 3 != 0
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }),
               "tradeoff: heads 3 outside the divisors of width");
  o = tiny_options(0);
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }), "steps 0 outside");
  o = tiny_options(5);
  o.eval_rows = 0;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }), "eval_rows 0 outside");
  o = tiny_options(5);
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] {
                 train_on_task(task_preset(TaskKind::kjv, 32), parse_variant("full", 2), o);
               }),
               "the kjv task needs its dataset");
}

// ---------------------------------------------------------------------------------------------
// Summaries, intervals and the frontier on fabricated runs.

TaskRun fake_run(TaskKind kind, double accuracy, double nll, std::vector<double> buckets,
                 double flops, double seconds) {
  TaskRun r;
  r.task = task_preset(kind, 64);
  r.variant = "window-8";
  r.family = "window";
  r.accuracy = accuracy;
  r.eval_nll = nll;
  r.bucket_width = 8;
  r.bucket_quality = std::move(buckets);
  r.bucket_count.assign(r.bucket_quality.size(), 1);
  r.costs.forward_flops = flops;
  r.costs.attention_pairs = flops / 10;
  r.train_seconds = seconds;
  r.eval_seconds_per_sequence = seconds / 100;
  return r;
}

TEST(TradeoffSummary, MeanAndStudentIntervalMatchAHandComputation) {
  const TaskRun a = fake_run(TaskKind::retrieval, 0.5, 1.0, {0.4, kNaN, 0.9}, 100, 2.0);
  const TaskRun b = fake_run(TaskKind::retrieval, 0.7, 0.8, {0.6, kNaN, kNaN}, 200, 4.0);
  const TaskRun c = fake_run(TaskKind::retrieval, 0.6, 0.9, {0.8, kNaN, 0.7}, 300, 6.0);
  const VariantSummary s = summarize({&a, &b, &c});
  EXPECT_EQ(s.variant, "window-8");
  EXPECT_EQ(s.family, "window");
  EXPECT_TRUE(s.higher_is_better);
  EXPECT_EQ(s.per_seed, (std::vector<double>{0.5, 0.7, 0.6}));
  EXPECT_NEAR(s.mean, 0.6, 1e-15);
  // sd = sqrt(((−0.1)² + 0.1² + 0²) / 2) = 0.1; half width = t(2 df) · 0.1 / √3 = 4.303 · 0.057735.
  const double half = 4.303 * 0.1 / std::sqrt(3.0);
  EXPECT_NEAR(s.lo, 0.6 - half, 1e-12);
  EXPECT_NEAR(s.hi, 0.6 + half, 1e-12);
  // Buckets average the seeds that had data; a bucket no seed had stays NaN.
  ASSERT_EQ(s.bucket_mean.size(), 3u);
  EXPECT_NEAR(s.bucket_mean[0], 0.6, 1e-15);
  EXPECT_TRUE(std::isnan(s.bucket_mean[1]));
  EXPECT_NEAR(s.bucket_mean[2], 0.8, 1e-15);
  EXPECT_EQ(s.bucket_width, 8);
  // Costs are the first run's, seconds the mean.
  EXPECT_DOUBLE_EQ(s.costs.forward_flops, 100);
  EXPECT_NEAR(s.train_seconds, 4.0, 1e-12);
  EXPECT_NEAR(s.eval_seconds_per_sequence, 0.04, 1e-12);

  // One seed: a point interval.
  const VariantSummary one = summarize({&b});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_DOUBLE_EQ(one.lo, 0.7);
  EXPECT_DOUBLE_EQ(one.hi, 0.7);
  // Accuracy intervals are clipped to [0, 1].
  const TaskRun hi1 = fake_run(TaskKind::retrieval, 1.0, 0, {}, 1, 1);
  const TaskRun hi2 = fake_run(TaskKind::retrieval, 0.9, 0, {}, 1, 1);
  const VariantSummary clipped = summarize({&hi1, &hi2});
  EXPECT_NEAR(clipped.mean, 0.95, 1e-15);
  EXPECT_DOUBLE_EQ(clipped.hi, 1.0);
  EXPECT_NEAR(clipped.lo, std::max(0.0, 0.95 - 12.706 * std::sqrt(0.005) / std::sqrt(2.0)), 1e-12);
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { summarize({}); }), "no runs");
}

TEST(TradeoffSummary, KjvIsJudgedInBitsPerCharLowerIsBetter) {
  const TaskRun a = fake_run(TaskKind::kjv, 0.3, 2.0 * std::log(2.0), {}, 1, 1);
  const TaskRun b = fake_run(TaskKind::kjv, 0.3, 3.0 * std::log(2.0), {}, 1, 1);
  EXPECT_NEAR(run_quality(a), 2.0, 1e-12);
  EXPECT_NEAR(run_quality(fake_run(TaskKind::mqar, 0.25, 9, {}, 1, 1)), 0.25, 0);
  const VariantSummary s = summarize({&a, &b});
  EXPECT_FALSE(s.higher_is_better);
  EXPECT_NEAR(s.mean, 2.5, 1e-12);
  // sd = √0.5, half = 12.706 · √0.5 / √2 = 6.353; bits are not clipped.
  EXPECT_NEAR(s.lo, 2.5 - 6.353, 1e-9);
  EXPECT_NEAR(s.hi, 2.5 + 6.353, 1e-9);
  EXPECT_EQ(s.to_json().at("metric"), "bits_per_char");
}

TEST(TradeoffSummary, StudentQuantilesFollowTheTable) {
  EXPECT_TRUE(std::isnan(t_quantile_975(1)));
  EXPECT_DOUBLE_EQ(t_quantile_975(2), 12.706);
  EXPECT_DOUBLE_EQ(t_quantile_975(3), 4.303);
  EXPECT_DOUBLE_EQ(t_quantile_975(4), 3.182);
  EXPECT_DOUBLE_EQ(t_quantile_975(6), 2.571);
  EXPECT_DOUBLE_EQ(t_quantile_975(11), 2.228);
  EXPECT_DOUBLE_EQ(t_quantile_975(21), 2.086);
  EXPECT_DOUBLE_EQ(t_quantile_975(31), 2.042);
  EXPECT_DOUBLE_EQ(t_quantile_975(32), 1.96);
  EXPECT_DOUBLE_EQ(t_quantile_975(1000), 1.96);
  // Decreasing in n.
  for (Index n = 3; n <= 40; ++n) EXPECT_LE(t_quantile_975(n), t_quantile_975(n - 1)) << n;
}

VariantSummary fake_summary(const std::string& name, double flops, double mean,
                            bool higher_is_better = true) {
  VariantSummary s;
  s.variant = name;
  s.costs.forward_flops = flops;
  s.mean = mean;
  s.higher_is_better = higher_is_better;
  return s;
}

TEST(TradeoffSummary, FrontierDropsOnlyDominatedVariants) {
  std::vector<VariantSummary> v = {
      fake_summary("full", 10, 0.9),    // best quality
      fake_summary("window", 5, 0.5),   // cheapest
      fake_summary("sinks", 8, 0.4),    // dominated by window (cheaper and better)
      fake_summary("copy", 10, 0.9),    // ties full: neither is strictly better
      fake_summary("decay", 10, 0.85),  // as costly as full, worse
      fake_summary("middle", 7, 0.6)};  // between window and full
  std::vector<VariantSummary*> group;
  for (auto& s : v) group.push_back(&s);
  mark_frontier(group);
  EXPECT_TRUE(v[0].on_frontier);
  EXPECT_TRUE(v[1].on_frontier);
  EXPECT_FALSE(v[2].on_frontier);
  EXPECT_TRUE(v[3].on_frontier);
  EXPECT_FALSE(v[4].on_frontier);
  EXPECT_TRUE(v[5].on_frontier);
  // Lower is better (bits/char): the cheaper model with fewer bits dominates.
  std::vector<VariantSummary> k = {fake_summary("a", 5, 2.0, false),
                                   fake_summary("b", 6, 2.5, false),
                                   fake_summary("c", 9, 1.5, false)};
  std::vector<VariantSummary*> kg = {&k[0], &k[1], &k[2]};
  mark_frontier(kg);
  EXPECT_TRUE(k[0].on_frontier);
  EXPECT_FALSE(k[1].on_frontier);
  EXPECT_TRUE(k[2].on_frontier);
}

TEST(TradeoffSummary, TaskRunJsonRoundTripKeepsEveryField) {
  TaskRun r = fake_run(TaskKind::mqar, 0.625, 1.25, {0.5, kNaN, 1.0}, 1234.5, 3.25);
  r.seed = 17;
  r.scored = 96;
  r.bucket_count = {10, 0, 86};
  r.loss_curve = {4.0, 3.5, 2.25};
  r.costs.tokens = 64;
  r.costs.attention_flops = 11;
  r.costs.dense_flops = 12;
  r.costs.training_flops = 13;
  r.costs.kv_bytes = 14;
  r.costs.prunable_pairs = 15;
  r.costs.pruned_kv_bytes = 16;
  r.learned_decay = {{0.03, 0.01}, {0.5, 0.25}};
  r.parameters = 4321;
  const nlohmann::json j = r.to_json();
  EXPECT_TRUE(j.at("bucket_quality")[1].is_null());  // NaN is written as null
  const TaskRun u = TaskRun::from_json(j);
  EXPECT_EQ(u.task.kind, TaskKind::mqar);
  EXPECT_EQ(u.task.pairs, r.task.pairs);
  EXPECT_EQ(u.variant, r.variant);
  EXPECT_EQ(u.family, r.family);
  EXPECT_EQ(u.seed, 17u);
  EXPECT_DOUBLE_EQ(u.accuracy, 0.625);
  EXPECT_DOUBLE_EQ(u.eval_nll, 1.25);
  EXPECT_EQ(u.scored, 96);
  EXPECT_EQ(u.bucket_width, 8);
  ASSERT_EQ(u.bucket_quality.size(), 3u);
  EXPECT_DOUBLE_EQ(u.bucket_quality[0], 0.5);
  EXPECT_TRUE(std::isnan(u.bucket_quality[1]));
  EXPECT_DOUBLE_EQ(u.bucket_quality[2], 1.0);
  EXPECT_EQ(u.bucket_count, r.bucket_count);
  EXPECT_EQ(u.loss_curve, r.loss_curve);
  EXPECT_DOUBLE_EQ(u.train_seconds, 3.25);
  EXPECT_DOUBLE_EQ(u.eval_seconds_per_sequence, 0.0325);
  EXPECT_EQ(u.costs.tokens, 64);
  EXPECT_DOUBLE_EQ(u.costs.forward_flops, 1234.5);
  EXPECT_DOUBLE_EQ(u.costs.attention_pairs, 123.45);
  EXPECT_DOUBLE_EQ(u.costs.pruned_kv_bytes, 16);
  EXPECT_EQ(u.learned_decay, r.learned_decay);
  EXPECT_EQ(u.parameters, 4321u);
  EXPECT_EQ(u.to_json(), j);
  // A NaN accuracy survives as null too.
  r.accuracy = kNaN;
  EXPECT_TRUE(std::isnan(TaskRun::from_json(r.to_json()).accuracy));
  nlohmann::json broken = j;
  broken.at("costs").erase("kv_bytes");
  EXPECT_PRED2(contains, thrown_message<FormatError>([&] { TaskRun::from_json(broken); }),
               "tradeoff run JSON");
}

// ---------------------------------------------------------------------------------------------
// The budgeted heuristic search.

TaskTrainOptions search_options_for_test() {
  TaskTrainOptions o = tiny_options(40);
  o.batch = 8;
  o.eval_rows = 32;
  return o;
}

TEST(TradeoffSearch, GridFractionsAreRelativeToFullAttention) {
  const TaskConfig task = task_preset(TaskKind::retrieval, 32);
  const auto space = search_space(task, search_options_for_test());
  // Windows {off, 2, 4, 8, 16}; sinks {0, 1, 4} only with a window; 4 decays; 3 top-k.
  EXPECT_EQ(space.size(), (1u + 4u * 3u) * 4u * 3u);
  ASSERT_FALSE(space.empty());
  EXPECT_EQ(space.front().spec, "full");
  EXPECT_DOUBLE_EQ(space.front().flop_fraction, 1.0);
  Index windowed = 0;
  for (const auto& c : space) {
    const Variant v = parse_variant("searched:" + c.spec, 2);  // every spec is a valid variant
    const auto& s = v.attention.spec;
    EXPECT_GT(c.flop_fraction, 0.0) << c.spec;
    if (s.window > 0) {
      ++windowed;
      EXPECT_LT(c.flop_fraction, 1.0) << c.spec;
    }
    if (s.window == 0 && s.topk == 0) {
      EXPECT_DOUBLE_EQ(c.flop_fraction, 1.0) << c.spec;  // decay alone visits every pair
    }
    if (s.topk > 0 && s.window == 0) {
      EXPECT_LT(c.flop_fraction, 1.0) << c.spec;  // top-k mixes fewer values
    }
  }
  EXPECT_EQ(windowed, 4 * 3 * 4 * 3);
}

TEST(TradeoffSearch, IsDeterministicAndStaysUnderTheBudget) {
  const TaskConfig task = task_preset(TaskKind::retrieval, 32);
  const TaskTrainOptions train = search_options_for_test();
  SearchOptions so;
  so.flop_budget = 0.5;
  so.candidates = 3;
  so.seed = 7;
  std::vector<std::pair<std::string, std::int64_t>> trained;
  const SearchOutcome a = search_heuristic(
      task, train, so, [&](const std::string& s, std::int64_t n) { trained.emplace_back(s, n); });
  const SearchOutcome b = search_heuristic(task, train, so);
  EXPECT_EQ(a.to_json(), b.to_json());
  // n₀ = 3: R = ⌈log2 3⌉ + 1 = 3 rounds of 3, 2, 1 candidates at 10, 20, 40 steps.
  ASSERT_EQ(a.rounds.size(), 3u);
  EXPECT_EQ(a.rounds[0].steps, 10);
  EXPECT_EQ(a.rounds[1].steps, 20);
  EXPECT_EQ(a.rounds[2].steps, 40);
  EXPECT_EQ(a.rounds[0].candidates.size(), 3u);
  EXPECT_EQ(a.rounds[1].candidates.size(), 2u);
  EXPECT_EQ(a.rounds[2].candidates.size(), 1u);
  EXPECT_EQ(a.total_steps, 3 * 10 + 2 * 20 + 40);
  ASSERT_EQ(trained.size(), 6u);
  EXPECT_EQ(trained[0].second, 10);
  EXPECT_EQ(trained[5].second, 40);
  Index feasible = 0;
  for (const auto& c : search_space(task, train)) feasible += c.flop_fraction <= 0.5 ? 1 : 0;
  EXPECT_EQ(a.feasible, feasible);
  for (const auto& r : a.rounds)
    for (const auto& c : r.candidates) {
      EXPECT_LE(c.flop_fraction, so.flop_budget) << c.spec;
      EXPECT_GE(c.validation, 0.0);
      EXPECT_LE(c.validation, 1.0);
    }
  // Survivors come from the previous round, the winner is the last round's candidate.
  for (std::size_t r = 1; r < a.rounds.size(); ++r)
    for (const auto& c : a.rounds[r].candidates) {
      bool seen = false;
      for (const auto& p : a.rounds[r - 1].candidates) seen = seen || p.spec == c.spec;
      EXPECT_TRUE(seen) << c.spec;
    }
  EXPECT_EQ(a.best_spec, a.rounds[2].candidates[0].spec);
  EXPECT_DOUBLE_EQ(a.best_validation, a.rounds[2].candidates[0].validation);
  EXPECT_LE(a.best_flop_fraction, so.flop_budget);
  // Round 1 keeps the better half of round 0 by validation accuracy.
  double worst_kept = 1, best_dropped = -1;
  for (const auto& c : a.rounds[0].candidates) {
    bool kept = false;
    for (const auto& k : a.rounds[1].candidates) kept = kept || k.spec == c.spec;
    if (kept) {
      worst_kept = std::min(worst_kept, c.validation);
    } else {
      best_dropped = std::max(best_dropped, c.validation);
    }
  }
  EXPECT_GE(worst_kept, best_dropped);
}

TEST(TradeoffSearch, RejectsWhatItCannotSearch) {
  const TaskTrainOptions train = search_options_for_test();
  SearchOptions so;
  so.flop_budget = 0.01;  // the cheapest spec of the grid needs ~10% of full attention
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] {
                 search_heuristic(task_preset(TaskKind::retrieval, 32), train, so);
               }),
               "no spec of the grid fits --budget 0.01");
  so.flop_budget = 0.5;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] {
                 search_heuristic(task_preset(TaskKind::kjv, 32), train, so);
               }),
               "kjv has none");
  for (double bad : {0.0, 1.5, -0.2}) {
    so.flop_budget = bad;
    EXPECT_PRED2(contains, thrown_message<UsageError>([&] { so.validate(); }), "--budget");
  }
  so.flop_budget = 0.5;
  so.candidates = 0;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { so.validate(); }),
               "--search-candidates 0 outside [1, 256]");
}

// ---------------------------------------------------------------------------------------------
// Plans: task lists, variant lists, seed ranges, validation.

TEST(TradeoffPlan, ParseTaskListReadsNamesContextsAndUntyped) {
  const auto ts = parse_task_list("recency, retrieval:256,mqar,kjv", 64);
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_EQ(ts[0].kind, TaskKind::recency);
  EXPECT_EQ(ts[0].context, 64);
  EXPECT_EQ(ts[1].kind, TaskKind::retrieval);
  EXPECT_EQ(ts[1].context, 256);
  EXPECT_EQ(ts[2].kind, TaskKind::mqar);
  EXPECT_EQ(ts[2].pairs, 4);  // the preset at 64
  EXPECT_EQ(ts[3].kind, TaskKind::kjv);
  for (const auto& t : ts) EXPECT_TRUE(t.typed || t.kind == TaskKind::kjv);
  const auto u = parse_task_list("retrieval:32:untyped,mqar:128:untyped", 64);
  EXPECT_FALSE(u[0].typed);
  EXPECT_EQ(u[0].context, 32);
  EXPECT_FALSE(u[1].typed);
  EXPECT_EQ(u[1].pairs, 8);
}

TEST(TradeoffPlan, ParseTaskListNamesTheBadItem) {
  auto message = [](const std::string& list) {
    return thrown_message<UsageError>([&] { parse_task_list(list, 64); });
  };
  EXPECT_PRED2(contains, message("haystack"), "unknown task 'haystack'");
  EXPECT_PRED2(contains, message("retrieval:abc"),
               "--tasks: context 'abc' of 'retrieval:abc' is not an integer");
  EXPECT_PRED2(contains, message("retrieval:"), "context '' of 'retrieval:'");
  EXPECT_PRED2(contains, message("kjv:64:untyped"), "the third part can only be 'untyped'");
  EXPECT_PRED2(contains, message("retrieval:64:typed"), "the third part can only be 'untyped'");
  EXPECT_PRED2(contains, message("retrieval:64:untyped:x"), "is not NAME[:T][:untyped]");
  EXPECT_PRED2(contains, message(""), "--tasks: empty item in ''");
  EXPECT_PRED2(contains, message("recency,,mqar"), "--tasks: empty item");
  EXPECT_PRED2(contains, message("retrieval:4"), "context 4 outside [8, 65536]");
  EXPECT_PRED2(contains, message("retrieval:12"), "fewer than 8");
}

TEST(TradeoffPlan, VariantNamesAndSeedRanges) {
  EXPECT_EQ(split_variant_names(" full , window-16,alibi "),
            (std::vector<std::string>{"full", "window-16", "alibi"}));
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { split_variant_names("full,,alibi"); }),
               "--variants: empty item");
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { split_variant_names(""); }),
               "--variants: empty item");
  EXPECT_EQ(seed_range(5, 3), (std::vector<std::uint64_t>{5, 6, 7}));
  EXPECT_EQ(seed_range(0, 1), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(seed_range(1, 64).size(), 64u);
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { seed_range(1, 0); }),
               "--seeds 0 outside [1, 64]");
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { seed_range(1, 65); }),
               "--seeds 65 outside [1, 64]");
  EXPECT_PRED2(contains, thrown_message<UsageError>([] { seed_range(UINT64_MAX - 1, 3); }),
               "overflows");
}

TEST(TradeoffPlan, OptionsValidateNamesTheField) {
  TradeoffOptions o;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }), "no task to run");
  o.tasks = {task_preset(TaskKind::retrieval, 32)};
  o.variants = {"full"};
  o.seeds = {1, 2, 1};
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }), "seed 1 twice");
  o.seeds = {};
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }),
               "0 seeds outside [1, 64]");
  o.seeds = {1};
  o.variants = {"full", "window-0"};
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }), "variant 'window-0'");
  o.variants = {"full"};
  o.extra_variants = {{"window-4"}, {"full"}};
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }),
               "more per-task variant lists than tasks");
  o.extra_variants = {};
  o.train.heads = 5;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { o.validate(); }), "heads 5");
  o.train.heads = 4;
  EXPECT_NO_THROW(o.validate());
  // The shipped plans validate.
  EXPECT_NO_THROW(quick_plan().validate());
  EXPECT_NO_THROW(report_plan().validate());
  TradeoffPlan p = quick_plan();
  p.search = true;
  p.search_options.flop_budget = 2;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { p.validate(); }),
               "--budget 2 outside (0, 1]");
}

TEST(TradeoffPlan, StudyRunsEveryTaskVariantAndSeedAndMarksTheFrontier) {
  TradeoffOptions o;
  o.tasks = {task_preset(TaskKind::recency, 32), task_preset(TaskKind::retrieval, 32)};
  o.variants = {"full", "window-4"};
  o.extra_variants = {{}, {"searched:window=8"}};
  o.seeds = {1, 2};
  o.train = tiny_options(8);
  o.train.batch = 8;
  o.train.eval_rows = 16;
  std::vector<Index> seen;
  const TradeoffResult r = run_tradeoff(o, nullptr, [&](Index k, Index total, const TaskRun&) {
    seen.push_back(k);
    EXPECT_EQ(total, 10);
  });
  ASSERT_EQ(r.runs.size(), 10u);  // (2 + 3 variants) × 2 seeds
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen.back(), 10);
  ASSERT_EQ(r.summaries.size(), 5u);
  EXPECT_EQ(r.summaries[0].variant, "full");
  EXPECT_EQ(r.summaries[1].variant, "window-4");
  EXPECT_EQ(r.summaries[2].task.kind, TaskKind::retrieval);
  EXPECT_EQ(r.summaries[4].variant, "searched:window=8");
  EXPECT_EQ(r.runs[0].seed, 1u);
  EXPECT_EQ(r.runs[1].seed, 2u);
  for (const auto& run : r.runs) EXPECT_TRUE(run.weights.params.empty());  // numbers, not models
  for (const auto& s : r.summaries) {
    EXPECT_EQ(s.per_seed.size(), 2u);
    EXPECT_LE(s.lo, s.mean);
    EXPECT_GE(s.hi, s.mean);
  }
  // The frontier of each task: the cheapest variant is always on it (nothing is cheaper).
  EXPECT_TRUE(r.summaries[1].on_frontier);  // window-4 of recency
  EXPECT_TRUE(r.summaries[3].on_frontier);  // window-4 of retrieval
  const nlohmann::json j = r.to_json();
  EXPECT_EQ(j.at("summaries").size(), 5u);
  EXPECT_EQ(j.at("runs").size(), 10u);
  EXPECT_EQ(j.at("seeds"), (std::vector<std::uint64_t>{1, 2}));

  // The output files of this result.
  TradeoffReport rep;
  rep.study = r;
  testing::TempDir dir;
  const auto out = dir.path() / "out";
  check_output_directory(out, "test");
  OutputSet outs;
  add_tradeoff_files(rep, out, outs);
  outs.commit();
  const std::string sums = read_file(out / "summaries.csv");
  EXPECT_EQ(sums.substr(0, sums.find('\n')),
            "task,context,variant,family,metric,mean,ci_lo,ci_hi,seeds,forward_flops,"
            "training_flops,attention_pairs,kv_bytes,prunable_pairs,train_seconds,on_frontier");
  EXPECT_EQ(std::count(sums.begin(), sums.end(), '\n'), 6);
  const std::string runs = read_file(out / "runs.csv");
  EXPECT_EQ(std::count(runs.begin(), runs.end(), '\n'), 11);
  for (const char* f : {"recency_32_by_distance.npy", "retrieval_32_by_distance.npy"}) {
    const io::NpyArray a = io::load_npy(out / f);
    const std::size_t rows = std::string(f).rfind("recency", 0) == 0 ? 2u : 3u;
    ASSERT_EQ(a.shape.size(), 2u) << f;
    EXPECT_EQ(a.shape[0], static_cast<Index>(rows)) << f;
    EXPECT_EQ(a.shape[1], 8) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(out / "streaming.csv"));
}

TEST(TradeoffOutputs, CheckOutputDirectoryRejectsWhatCannotHoldFiles) {
  testing::TempDir dir;
  std::ofstream(dir / "file") << "x";
  EXPECT_PRED2(contains, thrown_message<InputError>([&] {
                 check_output_directory(dir / "file", "--out-dir");
               }),
               "exists and is not a directory");
  EXPECT_PRED2(contains, thrown_message<InputError>([&] {
                 check_output_directory(dir / "file" / "sub", "--out-dir");
               }),
               "cannot be created");
  EXPECT_NO_THROW(check_output_directory(dir.path(), "--out-dir"));
  EXPECT_NO_THROW(check_output_directory(dir / "new" / "deeper", "--out-dir"));
  EXPECT_FALSE(std::filesystem::exists(dir / "new"));  // checking creates nothing
}

}  // namespace
}  // namespace attnlab
