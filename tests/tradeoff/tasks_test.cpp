// The synthetic recall tasks of the trade-off study (analysis/tradeoff/tasks.hpp):
//   - every generated sequence is checked against the layout contract by an independent scan
//     (scored target = the value after the same key's first occurrence, distance = t − that
//     position, keys distinct, Q scored tokens, vocabulary bounds, typed value groups);
//   - determinism from (seed, index) alone, and batches / eval sets built from the same streams;
//   - distance statistics: recency stays within span + 2Q − 2, retrieval spreads over the context
//     with the mean uniform placement implies, MQAR's query slots follow the power law;
//   - validate() messages for every impossible layout, JSON round trip, parse_task_kind errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/tasks.hpp"
#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using analysis::tradeoff::kEvalStream;
using analysis::tradeoff::make_task_batch;
using analysis::tradeoff::make_task_eval;
using analysis::tradeoff::make_task_sequence;
using analysis::tradeoff::parse_task_kind;
using analysis::tradeoff::task_preset;
using analysis::tradeoff::TaskConfig;
using analysis::tradeoff::TaskKind;
using analysis::tradeoff::TaskSequence;
using testing::contains;
using testing::thrown_message;

// Every recall layout the tests sweep: each kind, typed and untyped, at two contexts.
std::vector<TaskConfig> recall_configs() {
  std::vector<TaskConfig> out;
  for (TaskKind k : {TaskKind::recency, TaskKind::retrieval, TaskKind::mqar})
    for (Index T : {Index{32}, Index{128}})
      for (bool typed : {true, false}) {
        TaskConfig t = task_preset(k, T);
        t.typed = typed;
        out.push_back(t);
      }
  return out;
}

// Checks one sequence against the layout contract of tasks.hpp by scanning it from scratch;
// returns "" or the first violation.
std::string check_layout(const TaskConfig& t, const TaskSequence& s) {
  const Index T = t.context;
  if (static_cast<Index>(s.tokens.size()) != T || static_cast<Index>(s.targets.size()) != T ||
      static_cast<Index>(s.distance.size()) != T)
    return "wrong sizes";
  const Index key_lo = t.key_base(), key_hi = t.value_base(), val_lo = t.value_base(),
              val_hi = t.vocab_size();
  auto is_key = [&](std::int32_t x) { return x >= key_lo && x < key_hi; };
  auto is_value = [&](std::int32_t x) { return x >= val_lo && x < val_hi; };
  std::map<std::int32_t, Index> first_seen, occurrences;
  Index scored = 0;
  for (Index p = 0; p < T; ++p) {
    const std::int32_t tok = s.tokens[static_cast<std::size_t>(p)];
    const std::int32_t tgt = s.targets[static_cast<std::size_t>(p)];
    const std::int32_t dist = s.distance[static_cast<std::size_t>(p)];
    const std::string at = " at position " + std::to_string(p);
    if (tok < 0 || tok >= t.vocab_size()) return "token out of the vocabulary" + at;
    if (t.kind != TaskKind::mqar && tok == 0) return "noise token in a filler layout" + at;
    if (t.kind == TaskKind::mqar && tok >= 1 && tok < key_lo) return "filler token in mqar" + at;
    if ((tgt < 0) != (dist < 0)) return "target and distance disagree on being scored" + at;
    if (is_key(tok)) {
      occurrences[tok] += 1;
      if (occurrences[tok] > 2) return "a key occurs more than twice" + at;
      if (p + 1 >= T || !is_value(s.tokens[static_cast<std::size_t>(p + 1)]))
        return "a key not followed by a value" + at;
      if (!first_seen.count(tok)) {
        first_seen[tok] = p;
        if (tgt >= 0) return "the first occurrence of a key is scored" + at;
        continue;
      }
    }
    if (tgt < 0) continue;
    ++scored;
    if (!is_key(tok)) return "a scored position is not a key" + at;
    if (!is_value(tgt)) return "a scored target is not a value" + at;
    const Index j = first_seen.at(tok);
    if (tgt != s.tokens[static_cast<std::size_t>(j + 1)])
      return "target differs from the value after the key's first occurrence" + at;
    if (tgt != s.tokens[static_cast<std::size_t>(p + 1)])
      return "target differs from the value that follows the query" + at;
    if (dist != p - j) return "distance is not t - first position" + at;
    if (dist < 1 || dist > t.max_distance()) return "distance outside [1, max_distance]" + at;
    if (t.typed) {
      const Index group = t.values / t.keys;
      if ((tgt - val_lo) / group != tok - key_lo) return "typed value outside its key's group" + at;
    }
    if (t.kind == TaskKind::mqar) {
      if (p < 2 * t.pairs || (p - 2 * t.pairs) % 2 != 0) return "mqar query off its slot" + at;
    } else {
      const Index D = T - 2 * t.queries;
      if (p < D || (p - D) % 2 != 0) return "query outside the query block" + at;
    }
  }
  if (scored != t.queries) return "scored " + std::to_string(scored) + " != queries";
  if (static_cast<Index>(first_seen.size()) != t.pairs) return "distinct keys != pairs";
  if (t.kind == TaskKind::mqar) {
    // The pairs fill tokens 0 .. 2P − 1, every key is queried once, everything else is noise.
    for (Index p = 0; p < 2 * t.pairs; p += 2)
      if (!is_key(s.tokens[static_cast<std::size_t>(p)])) return "mqar pair block broken";
    for (const auto& [key, n] : occurrences)
      if (n != 2) return "an mqar key not queried exactly once";
    for (Index p = 2 * t.pairs; p < T; ++p) {
      const bool query_key = s.targets[static_cast<std::size_t>(p)] >= 0;
      const bool query_value = p > 0 && s.targets[static_cast<std::size_t>(p - 1)] >= 0;
      if (!query_key && !query_value && s.tokens[static_cast<std::size_t>(p)] != 0)
        return "mqar gap token is not noise at " + std::to_string(p);
    }
  }
  return "";
}

std::vector<Index> scored_distances(const TaskSequence& s) {
  std::vector<Index> d;
  for (std::int32_t x : s.distance)
    if (x >= 0) d.push_back(x);
  return d;
}

TEST(TradeoffTasks, EverySequenceKeepsTheLayoutContract) {
  for (const TaskConfig& t : recall_configs()) {
    SCOPED_TRACE(t.describe());
    ASSERT_NO_THROW(t.validate());
    for (std::uint64_t i = 0; i < 60; ++i) {
      const TaskSequence s = make_task_sequence(t, 17, i);
      ASSERT_EQ(check_layout(t, s), "") << "sequence " << i;
    }
  }
}

TEST(TradeoffTasks, CheckerRejectsABrokenSequence) {
  // The contract checker itself must catch a wrong answer, a wrong distance and a wrong group.
  const TaskConfig t = task_preset(TaskKind::retrieval, 32);
  TaskSequence s = make_task_sequence(t, 3, 0);
  ASSERT_EQ(check_layout(t, s), "");
  const auto q = static_cast<std::size_t>(
      std::find_if(s.targets.begin(), s.targets.end(), [](int x) { return x >= 0; }) -
      s.targets.begin());
  TaskSequence wrong_distance = s;
  wrong_distance.distance[q] += 2;
  EXPECT_PRED2(contains, check_layout(t, wrong_distance), "distance is not t - first position");
  TaskSequence wrong_answer = s;
  wrong_answer.targets[q] =
      wrong_answer.targets[q] == t.value_base() ? t.value_base() + 1 : t.value_base();
  EXPECT_PRED2(contains, check_layout(t, wrong_answer), "target differs");
}

TEST(TradeoffTasks, SequencesDependOnSeedAndIndexOnly) {
  for (const TaskConfig& t : recall_configs()) {
    SCOPED_TRACE(t.describe());
    const TaskSequence a = make_task_sequence(t, 5, 7), b = make_task_sequence(t, 5, 7);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.targets, b.targets);
    EXPECT_EQ(a.distance, b.distance);
    EXPECT_NE(a.tokens, make_task_sequence(t, 5, 8).tokens);
    EXPECT_NE(a.tokens, make_task_sequence(t, 6, 7).tokens);
  }
}

TEST(TradeoffTasks, BatchesAndEvalSetsAreThePackedStreams) {
  const TaskConfig t = task_preset(TaskKind::recency, 32);
  const auto batch = make_task_batch(t, 3, 9, 40);
  ASSERT_EQ(batch.rows, 3);
  ASSERT_EQ(batch.seq, 32);
  ASSERT_EQ(batch.tokens.size(), 3u * 32u);
  const auto eval = make_task_eval(t, 2, 9, 5);
  ASSERT_EQ(eval.distance.size(), 2u * 32u);
  for (Index r = 0; r < 3; ++r) {
    const TaskSequence s = make_task_sequence(t, 9, 40 + static_cast<std::uint64_t>(r));
    EXPECT_TRUE(std::equal(s.tokens.begin(), s.tokens.end(), batch.tokens.begin() + r * 32));
    EXPECT_TRUE(std::equal(s.targets.begin(), s.targets.end(), batch.targets.begin() + r * 32));
  }
  for (Index r = 0; r < 2; ++r) {
    const TaskSequence s =
        make_task_sequence(t, 9, kEvalStream + 5 + static_cast<std::uint64_t>(r));
    EXPECT_TRUE(std::equal(s.tokens.begin(), s.tokens.end(), eval.batch.tokens.begin() + r * 32));
    EXPECT_TRUE(std::equal(s.distance.begin(), s.distance.end(), eval.distance.begin() + r * 32));
  }
  // The evaluation stream never repeats the training stream's first sequences.
  EXPECT_NE(make_task_eval(t, 1, 9).batch.tokens, make_task_batch(t, 1, 9, 0).tokens);
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { make_task_batch(t, 0, 9, 0); }),
               "rows 0 must be >= 1");
}

TEST(TradeoffTasks, RecencyAnswersLieInTheLastSpanTokens) {
  for (Index T : {Index{32}, Index{64}, Index{128}}) {
    const TaskConfig t = task_preset(TaskKind::recency, T);
    SCOPED_TRACE(t.describe());
    // The preset: two queries whose pairs lie in the last max(4, T/8) tokens before them.
    ASSERT_EQ(t.queries, 2);
    ASSERT_EQ(t.span, std::max<Index>(4, T / 8));
    const Index bound = t.span + 2 * t.queries - 2;
    EXPECT_EQ(t.max_distance(), bound);
    Index largest = 0;
    for (std::uint64_t i = 0; i < 400; ++i) {
      for (Index d : scored_distances(make_task_sequence(t, 2, i))) {
        EXPECT_GE(d, 2);
        EXPECT_LE(d, bound);
        largest = std::max(largest, d);
      }
    }
    // The bound is reached (D − span is even here: a key at T − 2Q − span queried last).
    EXPECT_EQ(largest, bound);
  }
}

TEST(TradeoffTasks, RetrievalDistancesSpreadOverTheContext) {
  const TaskConfig t = task_preset(TaskKind::retrieval, 128);
  const Index D = t.context - 2 * t.queries;  // 120 haystack tokens
  double sum = 0;
  Index n = 0, largest = 0, beyond_half = 0;
  for (std::uint64_t i = 0; i < 300; ++i)
    for (Index d : scored_distances(make_task_sequence(t, 4, i))) {
      sum += static_cast<double>(d);
      ++n;
      largest = std::max(largest, d);
      beyond_half += d > t.context / 2 ? 1 : 0;
    }
  ASSERT_EQ(n, 300 * t.queries);
  EXPECT_GT(largest, t.context / 2);
  // A queried key's slot is uniform over the D/2 slots and its query uniform over the Q query
  // positions: E[distance] = D + (Q − 1) − 2·(D/2 − 1)/2 = D/2 + Q = 64. Sd of one distance is
  // about 2·60/√12 ≈ 35, so the mean of 1200 has sd ≈ 1; ±5 is loose yet rejects a skewed draw
  // (measured 64.25).
  const double expected = static_cast<double>(D) / 2 + static_cast<double>(t.queries);
  EXPECT_NEAR(sum / static_cast<double>(n), expected, 5.0);
  // Nearly half of the distances exceed T/2: slot s < 28 + q, share ≈ 29.5/60 (measured 0.49).
  EXPECT_GT(static_cast<double>(beyond_half) / static_cast<double>(n), 0.35);
}

// Share of MQAR queries in the first quarter of the S query slots.
double first_quarter_share(const TaskConfig& t, Index sequences) {
  const Index S = (t.context - 2 * t.pairs) / 2;
  Index early = 0, total = 0;
  for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(sequences); ++i) {
    const TaskSequence s = make_task_sequence(t, 8, i);
    for (Index p = 0; p < t.context; ++p) {
      if (s.targets[static_cast<std::size_t>(p)] < 0) continue;
      const Index slot = (p - 2 * t.pairs) / 2;
      EXPECT_LT(slot, S);
      early += slot < S / 4 ? 1 : 0;
      ++total;
    }
  }
  return static_cast<double>(early) / static_cast<double>(total);
}

TEST(TradeoffTasks, MqarSlotsFollowThePowerLaw) {
  TaskConfig t = task_preset(TaskKind::mqar, 128);  // P = 8, S = 56 slots
  ASSERT_EQ(t.pairs, 8);
  ASSERT_DOUBLE_EQ(t.power_a, 0.01);
  const double power = first_quarter_share(t, 400);
  t.power_a = 1.0;  // p(s) ∝ (s + 1)^0: uniform slots
  const double uniform = first_quarter_share(t, 400);
  // Uniform: 14/56 = 0.25 (3200 draws, sd ≈ 0.008; measured 0.251). The power law with a = 0.01 puts most of
  // the queries (measured 0.63) in the first quarter even when drawing 8 without replacement.
  EXPECT_NEAR(uniform, 0.25, 0.04);
  EXPECT_GT(power, 0.40);
  EXPECT_GT(power, uniform + 0.15);
}

TEST(TradeoffTasks, TypedValuesStayInTheKeysGroupUntypedDoNot) {
  for (TaskKind k : {TaskKind::recency, TaskKind::retrieval, TaskKind::mqar}) {
    TaskConfig t = task_preset(k, 64);
    SCOPED_TRACE(t.describe());
    const Index group = t.values / t.keys;
    ASSERT_GE(group, 2);
    for (bool typed : {true, false}) {
      t.typed = typed;
      Index outside = 0, total = 0;
      for (std::uint64_t i = 0; i < 100; ++i) {
        const TaskSequence s = make_task_sequence(t, 12, i);
        for (Index p = 0; p < t.context; ++p) {
          const std::int32_t v = s.targets[static_cast<std::size_t>(p)];
          if (v < 0) continue;
          const Index key = s.tokens[static_cast<std::size_t>(p)] - t.key_base();
          outside += (v - t.value_base()) / group != key ? 1 : 0;
          ++total;
        }
      }
      if (typed) {
        EXPECT_EQ(outside, 0);
      } else {
        // Uniform over all values: a share 1 − 1/K of answers falls outside the key's group.
        EXPECT_GT(static_cast<double>(outside) / static_cast<double>(total), 0.8);
      }
    }
  }
}

TEST(TradeoffTasks, PresetsFollowTheDocumentedLadder) {
  const std::pair<Index, Index> ladder[] = {{64, 4}, {128, 8}, {256, 16}, {512, 64}};
  for (const auto& [T, P] : ladder) {
    const TaskConfig t = task_preset(TaskKind::mqar, T);
    EXPECT_EQ(t.pairs, P);
    EXPECT_EQ(t.queries, P);
    EXPECT_EQ(t.filler, 0);
    EXPECT_EQ(t.keys, std::max<Index>(16, 2 * P));
    EXPECT_EQ(t.values, 4 * t.keys);
    EXPECT_NO_THROW(t.validate());
  }
  const TaskConfig r = task_preset(TaskKind::retrieval, 128);
  EXPECT_EQ(r.vocab_size(), 1 + 16 + 16 + 64);
  EXPECT_EQ(r.key_base(), 17);
  EXPECT_EQ(r.value_base(), 33);
  EXPECT_EQ(r.max_distance(), 126);
  EXPECT_EQ(task_preset(TaskKind::kjv, 64).max_distance(), 63);
  EXPECT_PRED2(contains, r.describe(), "retrieval T=128 P=8 Q=4 K=16 V=64 F=16");
}

TEST(TradeoffTasks, ValidateNamesTheImpossibleField) {
  auto message = [](const TaskConfig& t) {
    return thrown_message<UsageError>([&] { t.validate(); });
  };
  TaskConfig t = task_preset(TaskKind::retrieval, 32);  // D = 24: room for 12 pairs
  t.pairs = 13;
  EXPECT_PRED2(contains, message(t), "leaves room for 12 pairs, fewer than 13");
  t = task_preset(TaskKind::retrieval, 32);
  t.queries = 9;
  EXPECT_PRED2(contains, message(t), "pairs 8 and queries 9 need 1 <= queries <= pairs");
  t = task_preset(TaskKind::retrieval, 64);
  t.keys = 4;
  EXPECT_PRED2(contains, message(t), "keys 4 outside [pairs = 8");
  t = task_preset(TaskKind::mqar, 64);
  t.queries = 2;
  EXPECT_PRED2(contains, message(t), "queries 2 must equal pairs 4");
  t = task_preset(TaskKind::mqar, 64);
  t.pairs = t.queries = 20;
  t.keys = 32;
  EXPECT_PRED2(contains, message(t), "leaves 12 query slots for 20 pairs");
  t = task_preset(TaskKind::retrieval, 64);
  t.values = 60;  // not a multiple of 16 keys
  EXPECT_PRED2(contains, message(t), "typed values need values (60) divisible by keys (16)");
  t.typed = false;  // untyped values need no groups
  EXPECT_NO_THROW(t.validate());
  t = task_preset(TaskKind::recency, 64);
  t.span = 1;
  EXPECT_PRED2(contains, message(t), "span 1 must hold");
  t = task_preset(TaskKind::retrieval, 4);
  EXPECT_PRED2(contains, message(t), "context 4 outside [8, 65536]");
  t = task_preset(TaskKind::retrieval, 64);
  t.filler = 0;
  EXPECT_PRED2(contains, message(t), "filler 0 outside");
  t = task_preset(TaskKind::mqar, 64);
  t.power_a = 0;
  EXPECT_PRED2(contains, message(t), "power_a 0 outside (0, 1]");
  // kjv has no layout: only its context is checked, and it cannot be generated.
  EXPECT_NO_THROW(task_preset(TaskKind::kjv, 64).validate());
  EXPECT_PRED2(contains, thrown_message<UsageError>([] {
                 make_task_sequence(task_preset(TaskKind::kjv, 64), 1, 0);
               }),
               "kjv task is a corpus");
  // Generation validates first.
  t = task_preset(TaskKind::retrieval, 32);
  t.pairs = 13;
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { make_task_sequence(t, 1, 0); }),
               "fewer than 13");
}

TEST(TradeoffTasks, JsonRoundTripKeepsEveryField) {
  TaskConfig t = task_preset(TaskKind::recency, 96);
  t.pairs = 6;
  t.queries = 3;
  t.keys = 12;
  t.values = 36;
  t.filler = 9;
  t.span = 10;
  t.power_a = 0.3;
  t.typed = false;
  const nlohmann::json j = t.to_json();
  EXPECT_EQ(j.at("kind"), "recency");
  EXPECT_EQ(j.at("vocab_size"), t.vocab_size());
  EXPECT_EQ(j.at("max_distance"), t.max_distance());
  const TaskConfig u = TaskConfig::from_json(j);
  EXPECT_EQ(u.kind, t.kind);
  EXPECT_EQ(u.context, t.context);
  EXPECT_EQ(u.pairs, t.pairs);
  EXPECT_EQ(u.queries, t.queries);
  EXPECT_EQ(u.keys, t.keys);
  EXPECT_EQ(u.values, t.values);
  EXPECT_EQ(u.filler, t.filler);
  EXPECT_EQ(u.span, t.span);
  EXPECT_DOUBLE_EQ(u.power_a, t.power_a);
  EXPECT_EQ(u.typed, t.typed);
  EXPECT_EQ(u.to_json(), j);
  for (TaskKind k : {TaskKind::retrieval, TaskKind::mqar, TaskKind::kjv})
    EXPECT_EQ(TaskConfig::from_json(task_preset(k, 64).to_json()).kind, k);
  nlohmann::json broken = j;
  broken.erase("span");
  EXPECT_PRED2(contains, thrown_message<FormatError>([&] { TaskConfig::from_json(broken); }),
               "task config JSON");
  broken = j;
  broken["kind"] = "haystack";
  EXPECT_PRED2(contains, thrown_message<UsageError>([&] { TaskConfig::from_json(broken); }),
               "unknown task 'haystack'");
}

TEST(TradeoffTasks, ParseTaskKindAcceptsTheFourNamesOnly) {
  EXPECT_EQ(parse_task_kind("recency"), TaskKind::recency);
  EXPECT_EQ(parse_task_kind("retrieval"), TaskKind::retrieval);
  EXPECT_EQ(parse_task_kind("mqar"), TaskKind::mqar);
  EXPECT_EQ(parse_task_kind("kjv"), TaskKind::kjv);
  for (const char* bad : {"", "Retrieval", "niah", "mqar "}) {
    const std::string m = thrown_message<UsageError>([&] { parse_task_kind(bad); });
    EXPECT_PRED2(contains, m, std::string("unknown task '") + bad + "'");
    EXPECT_PRED2(contains, m, "expected recency, retrieval, mqar or kjv");
  }
}

}  // namespace
}  // namespace attnlab
