#include "attnlab/analysis/tradeoff/tasks.hpp"

#include <algorithm>
#include <cmath>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

constexpr Index kMaxContext = 65536;

// Draws `k` distinct slots of [0, S) with p(s) ∝ (s + 1)^(a − 1), one after another among the
// slots not yet drawn (sampling without replacement, as numpy's choice(replace=False, p=...)).
std::vector<Index> power_law_slots(Rng& rng, Index S, Index k, double a) {
  std::vector<double> w(static_cast<std::size_t>(S));
  for (Index s = 0; s < S; ++s) w[static_cast<std::size_t>(s)] = std::pow(double(s + 1), a - 1.0);
  std::vector<Index> out;
  for (Index draw = 0; draw < k; ++draw) {
    double total = 0;
    for (double x : w) total += x;
    double u = rng.uniform() * total;
    Index pick = S - 1;
    for (Index s = 0; s < S; ++s) {
      const double x = w[static_cast<std::size_t>(s)];
      if (x > 0 && u < x) {
        pick = s;
        break;
      }
      u -= x;
    }
    while (w[static_cast<std::size_t>(pick)] == 0) --pick;  // rounding at the tail
    w[static_cast<std::size_t>(pick)] = 0;
    out.push_back(pick);
  }
  return out;
}

// The value of each drawn key: uniform over all values, or over the key's own group when typed.
std::vector<std::int32_t> draw_values(const TaskConfig& t, Rng& rng,
                                      const std::vector<Index>& keys) {
  std::vector<std::int32_t> values;
  const Index group = t.typed ? t.values / t.keys : t.values;
  for (Index k : keys) {
    const Index first = t.typed ? k * group : 0;
    values.push_back(static_cast<std::int32_t>(
        t.value_base() + first +
        static_cast<Index>(rng.uniform_int(static_cast<std::uint64_t>(group)))));
  }
  return values;
}

// Filler everywhere, P pairs at the given slots (positions 2·slot, 2·slot + 1), then the query
// block over `queried` (indices into the pairs) at the end.
TaskSequence haystack(const TaskConfig& t, Rng& rng, const std::vector<Index>& slots,
                      const std::vector<Index>& queried) {
  const Index T = t.context, D = T - 2 * t.queries;
  TaskSequence s;
  s.tokens.resize(static_cast<std::size_t>(T));
  s.targets.assign(static_cast<std::size_t>(T), -1);
  s.distance.assign(static_cast<std::size_t>(T), -1);
  for (Index p = 0; p < D; ++p)
    s.tokens[static_cast<std::size_t>(p)] =
        static_cast<std::int32_t>(1 + rng.uniform_int(static_cast<std::uint64_t>(t.filler)));
  const std::vector<Index> keys = rng.sample_without_replacement(t.keys, t.pairs);
  const std::vector<std::int32_t> values = draw_values(t, rng, keys);
  for (Index p = 0; p < t.pairs; ++p) {
    const auto at = static_cast<std::size_t>(2 * slots[static_cast<std::size_t>(p)]);
    s.tokens[at] = static_cast<std::int32_t>(t.key_base() + keys[static_cast<std::size_t>(p)]);
    s.tokens[at + 1] = values[static_cast<std::size_t>(p)];
  }
  for (Index q = 0; q < t.queries; ++q) {
    const Index p = queried[static_cast<std::size_t>(q)];
    const auto at = static_cast<std::size_t>(D + 2 * q);
    s.tokens[at] = static_cast<std::int32_t>(t.key_base() + keys[static_cast<std::size_t>(p)]);
    s.tokens[at + 1] = values[static_cast<std::size_t>(p)];
    s.targets[at] = values[static_cast<std::size_t>(p)];
    s.distance[at] = static_cast<std::int32_t>(D + 2 * q - 2 * slots[static_cast<std::size_t>(p)]);
  }
  return s;
}

TaskSequence retrieval_sequence(const TaskConfig& t, Rng& rng) {
  const Index slots_total = (t.context - 2 * t.queries) / 2;
  const std::vector<Index> slots = rng.sample_without_replacement(slots_total, t.pairs);
  const std::vector<Index> queried = rng.sample_without_replacement(t.pairs, t.queries);
  return haystack(t, rng, slots, queried);
}

TaskSequence recency_sequence(const TaskConfig& t, Rng& rng) {
  const Index D = t.context - 2 * t.queries;
  const Index first_recent = (D - t.span + 1) / 2;  // slots whose key sits at ≥ D − span
  const Index recent = D / 2 - first_recent;
  std::vector<Index> slots;
  for (Index s : rng.sample_without_replacement(recent, t.queries))
    slots.push_back(first_recent + s);
  for (Index s : rng.sample_without_replacement(first_recent, t.pairs - t.queries))
    slots.push_back(s);
  // The queried pairs are the first Q (the recent ones), asked in random order.
  std::vector<Index> queried = rng.permutation(t.queries);
  return haystack(t, rng, slots, queried);
}

TaskSequence mqar_sequence(const TaskConfig& t, Rng& rng) {
  const Index T = t.context, P = t.pairs, S = (T - 2 * P) / 2;
  TaskSequence s;
  s.tokens.assign(static_cast<std::size_t>(T), 0);
  s.targets.assign(static_cast<std::size_t>(T), -1);
  s.distance.assign(static_cast<std::size_t>(T), -1);
  const std::vector<Index> keys = rng.sample_without_replacement(t.keys, P);
  const std::vector<std::int32_t> values = draw_values(t, rng, keys);
  for (Index p = 0; p < P; ++p) {
    s.tokens[static_cast<std::size_t>(2 * p)] =
        static_cast<std::int32_t>(t.key_base() + keys[static_cast<std::size_t>(p)]);
    s.tokens[static_cast<std::size_t>(2 * p + 1)] = values[static_cast<std::size_t>(p)];
  }
  const std::vector<Index> slot = power_law_slots(rng, S, P, t.power_a);
  const std::vector<Index> order = rng.permutation(P);
  for (Index q = 0; q < P; ++q) {
    const Index p = order[static_cast<std::size_t>(q)];
    const auto at = static_cast<std::size_t>(2 * P + 2 * slot[static_cast<std::size_t>(q)]);
    s.tokens[at] = s.tokens[static_cast<std::size_t>(2 * p)];
    s.tokens[at + 1] = values[static_cast<std::size_t>(p)];
    s.targets[at] = values[static_cast<std::size_t>(p)];
    s.distance[at] = static_cast<std::int32_t>(static_cast<Index>(at) - 2 * p);
  }
  return s;
}

}  // namespace

std::string_view to_string(TaskKind k) {
  switch (k) {
    case TaskKind::recency:
      return "recency";
    case TaskKind::retrieval:
      return "retrieval";
    case TaskKind::mqar:
      return "mqar";
    case TaskKind::kjv:
      return "kjv";
  }
  return "?";
}

TaskKind parse_task_kind(std::string_view name) {
  for (TaskKind k : {TaskKind::recency, TaskKind::retrieval, TaskKind::mqar, TaskKind::kjv})
    if (name == to_string(k)) return k;
  throw UsageError(str_cat("unknown task '", name, "' (expected recency, retrieval, mqar or kjv)"));
}

Index TaskConfig::max_distance() const {
  switch (kind) {
    case TaskKind::recency:
      return span + 2 * queries - 2;
    case TaskKind::retrieval:
    case TaskKind::mqar:
      return context - 2;
    case TaskKind::kjv:
      return context - 1;
  }
  return context;
}

void TaskConfig::validate() const {
  const std::string where = str_cat("task ", to_string(kind));
  if (context < 8 || context > kMaxContext)
    throw UsageError(str_cat(where, ": context ", context, " outside [8, ", kMaxContext, "]"));
  if (kind == TaskKind::kjv) return;
  if (pairs < 1 || queries < 1 || queries > pairs)
    throw UsageError(
        str_cat(where, ": pairs ", pairs, " and queries ", queries, " need 1 <= queries <= pairs"));
  if (keys < pairs || keys > 1 << 20)
    throw UsageError(str_cat(where, ": keys ", keys, " outside [pairs = ", pairs, ", 2^20]"));
  if (values < 2 || values > 1 << 20)
    throw UsageError(str_cat(where, ": values ", values, " outside [2, 2^20]"));
  if (kind == TaskKind::mqar) {
    if (queries != pairs)
      throw UsageError(str_cat(where, ": queries ", queries, " must equal pairs ", pairs));
    if ((context - 2 * pairs) / 2 < pairs)
      throw UsageError(str_cat(where, ": context ", context, " leaves ", (context - 2 * pairs) / 2,
                               " query slots for ", pairs, " pairs (needs context >= 4·pairs)"));
    if (!(power_a > 0 && power_a <= 1))
      throw UsageError(str_cat(where, ": power_a ", power_a, " outside (0, 1]"));
    return;
  }
  if (filler < 1 || filler > 1 << 20)
    throw UsageError(str_cat(where, ": filler ", filler, " outside [1, 2^20]"));
  if (typed && values % keys != 0)
    throw UsageError(
        str_cat(where, ": typed values need values (", values, ") divisible by keys (", keys, ")"));
  const Index D = context - 2 * queries;
  if (D / 2 < pairs)
    throw UsageError(str_cat(where, ": context ", context, " with ", queries,
                             " queries leaves room for ", D / 2 < 0 ? 0 : D / 2,
                             " pairs, fewer than ", pairs));
  if (kind == TaskKind::recency) {
    const Index first_recent = (D - span + 1) / 2;
    if (span < 2 || span > D || D / 2 - first_recent < queries || first_recent < pairs - queries)
      throw UsageError(str_cat(where, ": span ", span, " must hold the ", queries,
                               " queried pairs in the last span tokens and leave room for ",
                               pairs - queries, " distractors (span in [2·queries, ", D,
                               "], context ", context, ")"));
  }
}

std::string TaskConfig::describe() const {
  if (kind == TaskKind::kjv) return str_cat("kjv T=", context);
  std::string s = str_cat(to_string(kind), " T=", context, " P=", pairs, " Q=", queries,
                          " K=", keys, " V=", values);
  if (kind != TaskKind::mqar) s += str_cat(" F=", filler);
  if (kind == TaskKind::recency) s += str_cat(" span=", span);
  if (kind == TaskKind::mqar) s += str_cat(" a=", power_a);
  if (typed) s += str_cat(" typed(", values / keys, "/key)");
  return s;
}

nlohmann::json TaskConfig::to_json() const {
  return {{"kind", std::string(to_string(kind))},
          {"context", context},
          {"pairs", pairs},
          {"queries", queries},
          {"keys", keys},
          {"values", values},
          {"filler", filler},
          {"span", span},
          {"power_a", power_a},
          {"typed", typed},
          {"vocab_size", vocab_size()},
          {"max_distance", max_distance()}};
}

TaskConfig TaskConfig::from_json(const nlohmann::json& j) {
  TaskConfig t;
  try {
    t.kind = parse_task_kind(j.at("kind").get<std::string>());
    t.context = j.at("context").get<Index>();
    t.pairs = j.at("pairs").get<Index>();
    t.queries = j.at("queries").get<Index>();
    t.keys = j.at("keys").get<Index>();
    t.values = j.at("values").get<Index>();
    t.filler = j.at("filler").get<Index>();
    t.span = j.at("span").get<Index>();
    t.power_a = j.at("power_a").get<double>();
    t.typed = j.at("typed").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("task config JSON: ", e.what()));
  }
  return t;
}

TaskConfig task_preset(TaskKind kind, Index context) {
  TaskConfig t;
  t.kind = kind;
  t.context = context;
  if (kind == TaskKind::recency) {
    // Two queries within the last T/8 tokens: every answer lies within T/8 + 2 tokens, inside a
    // T/4 window.
    t.queries = 2;
    t.span = std::max<Index>(4, context / 8);
  }
  if (kind == TaskKind::mqar) {
    t.pairs = context <= 64 ? 4 : context <= 128 ? 8 : context <= 256 ? 16 : 64;
    t.queries = t.pairs;
    t.filler = 0;
    t.keys = std::max<Index>(16, 2 * t.pairs);
    t.values = 4 * t.keys;
  }
  return t;
}

TaskSequence make_task_sequence(const TaskConfig& task, std::uint64_t seed, std::uint64_t index) {
  task.validate();
  Rng rng = Rng::stream(seed, index);
  switch (task.kind) {
    case TaskKind::recency:
      return recency_sequence(task, rng);
    case TaskKind::retrieval:
      return retrieval_sequence(task, rng);
    case TaskKind::mqar:
      return mqar_sequence(task, rng);
    case TaskKind::kjv:
      break;
  }
  throw UsageError("make_task_sequence: the kjv task is a corpus, not a generated layout");
}

namespace {

TaskBatch pack(const TaskConfig& task, Index rows, std::uint64_t seed, std::uint64_t first) {
  if (rows < 1) throw UsageError(str_cat("task batch: rows ", rows, " must be >= 1"));
  TaskBatch b;
  b.batch.rows = rows;
  b.batch.seq = task.context;
  const auto n = static_cast<std::size_t>(rows * task.context);
  b.batch.tokens.reserve(n);
  b.batch.targets.reserve(n);
  b.distance.reserve(n);
  for (Index r = 0; r < rows; ++r) {
    TaskSequence s = make_task_sequence(task, seed, first + static_cast<std::uint64_t>(r));
    b.batch.tokens.insert(b.batch.tokens.end(), s.tokens.begin(), s.tokens.end());
    b.batch.targets.insert(b.batch.targets.end(), s.targets.begin(), s.targets.end());
    b.distance.insert(b.distance.end(), s.distance.begin(), s.distance.end());
  }
  return b;
}

}  // namespace

models::tinylm::Batch make_task_batch(const TaskConfig& task, Index rows, std::uint64_t seed,
                                      std::uint64_t first_index) {
  return pack(task, rows, seed, first_index).batch;
}

TaskBatch make_task_eval(const TaskConfig& task, Index rows, std::uint64_t seed,
                         std::uint64_t offset) {
  return pack(task, rows, seed, kEvalStream + offset);
}

}  // namespace attnlab::analysis::tradeoff
