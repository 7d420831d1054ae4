// attnlab/analysis/tradeoff/tasks.hpp — the synthetic tasks of the long-context trade-off study
// (SCIENCE.md §6, seed 004): every sequence generated from (seed, index), with exact answers and
// the key–query distance of every scored token.
//
// All three are associative recall over one vocabulary: a key token is followed by its value
// token, keys are distinct within a sequence, and a scored position is a key seen earlier whose
// next token (its value) the model must predict. Vocabulary (ids):
//   0                        noise (MQAR's zeros)
//   [1, 1 + F)               filler ("haystack" words)                       F = filler
//   [1 + F, 1 + F + K)       keys                                            K = keys
//   [1 + F + K, … + Vv)      values                                          Vv = values
// The value of a key is drawn per sequence (uniform over the Vv values, repeats allowed), so
// nothing can be memorized across sequences: the answer must be read from the context.
//
// Layouts (T = context, P = pairs, Q = queries; the query block is the last 2Q tokens):
//   retrieval  ("document", RULER multi-key/multi-query NIAH): the first T − 2Q tokens are filler
//              with P key–value pairs at uniformly random non-overlapping even offsets; the query
//              block repeats Q distinct keys of those pairs (uniformly chosen, random order),
//              each followed by its value. Key–query distances spread over the whole context.
//   recency    ("conversation"): the same, except that the Q queried pairs lie in the last
//              `span` tokens before the query block (the other P − Q pairs are distractors
//              anywhere before): the answer depends only on the last span + 2Q tokens.
//   mqar       (Zoology's multi-query associative recall): P pairs contiguous at the start
//              (tokens 0 .. 2P − 1), then noise (0) with every key queried once: query slots
//              s ∈ [0, S), S = (T − 2P) / 2, drawn without replacement with p(s) ∝ (s + 1)^(a − 1)
//              (power law, a = 0.01: short gaps), a query in slot s occupying positions
//              2P + 2s (the key, scored) and 2P + 2s + 1 (its value). F = 0.
// Typed values (typed = true): key k's value is drawn from its own group of G = Vv / K ids,
// value_base + k·G + [0, G), instead of all Vv. The answer is still unknowable without reading
// the context (G equally likely values), but one attention layer can find it by content: the
// query key matches its group's value token anywhere in the context and copies it. Untyped
// values are shared by all keys, so the model must bind each value to the key before it — an
// induction circuit (a previous-token head feeding a matching head) that 2-layer models trained
// for a few hundred steps on 2 cores do not form (measured: they plateau at picking among the
// values in context). Every preset is typed; NAME:T:untyped (tradeoff_run.hpp) selects
// Zoology's original untyped layout.
// Scored positions: the target of the key token in the query block/slot is its value; every
// other target is −1. distance[t] = t − (position of the same key's first occurrence), −1 where
// not scored.
//
// Determinism: sequence i of a task with seed s is drawn from Rng::stream(s, i) alone, so a batch
// is reproducible from (seed, first index) for any thread count. Training streams use indices
// [0, 2^40), evaluation sets start at kEvalStream: never the same sequence.
//
// Usage:
//   TaskConfig t = task_preset(TaskKind::retrieval, /*context=*/128);
//   t.validate();                                           // UsageError naming the field
//   models::tinylm::Batch b = make_task_batch(t, 32, seed, 32 * step);
//   TaskBatch e = make_task_eval(t, 256, seed);             // with distances
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"
#include "attnlab/models/tinylm/lm_dataset.hpp"

namespace attnlab::analysis::tradeoff {

enum class TaskKind { recency, retrieval, mqar, kjv };

std::string_view to_string(TaskKind k);
// "recency" | "retrieval" | "mqar" | "kjv"; UsageError otherwise.
TaskKind parse_task_kind(std::string_view name);

inline constexpr std::uint64_t kEvalStream = std::uint64_t{1} << 40;

struct TaskConfig {
  TaskKind kind = TaskKind::retrieval;
  Index context = 128;    // T
  Index pairs = 8;        // P
  Index queries = 4;      // Q (mqar: = P)
  Index keys = 16;        // K
  Index values = 64;      // Vv (typed: 4 per key)
  Index filler = 16;      // F (mqar: 0)
  Index span = 8;         // recency: the queried pairs lie in the last `span` tokens before queries
  double power_a = 0.01;  // mqar gap exponent
  bool typed = true;      // each key's values come from its own group of values / keys ids

  Index vocab_size() const { return 1 + filler + keys + values; }
  Index key_base() const { return 1 + filler; }
  Index value_base() const { return 1 + filler + keys; }
  // Largest key–query distance the layout can produce (retrieval: T − 2, recency: span + 2Q − 2).
  Index max_distance() const;
  // UsageError naming the field and value when the layout cannot be drawn (kjv has no layout).
  void validate() const;
  std::string describe() const;  // "retrieval T=64 P=8 Q=4 K=16 V=64 F=16 typed(4/key)"
  nlohmann::json to_json() const;
  static TaskConfig from_json(const nlohmann::json& j);
};

// Defaults per kind at a context (recency: Q = 2, span = max(4, T/8); mqar: Zoology's (T, #KV) ladder 64→4, 128→8, 256→16, 512→64).
TaskConfig task_preset(TaskKind kind, Index context);

// One generated sequence: tokens [T], targets [T] (−1 unscored), distance [T] (−1 unscored).
struct TaskSequence {
  std::vector<std::int32_t> tokens, targets, distance;
};

// Sequence `index` of the task with `seed`.
TaskSequence make_task_sequence(const TaskConfig& task, std::uint64_t seed, std::uint64_t index);

// Rows first_index .. first_index + rows − 1, packed as a training batch [rows · T].
models::tinylm::Batch make_task_batch(const TaskConfig& task, Index rows, std::uint64_t seed,
                                      std::uint64_t first_index);

// A held-out evaluation set: `rows` sequences from kEvalStream + offset on, with distances
// [rows · T].
struct TaskBatch {
  models::tinylm::Batch batch;
  std::vector<std::int32_t> distance;
};
TaskBatch make_task_eval(const TaskConfig& task, Index rows, std::uint64_t seed,
                         std::uint64_t offset = 0);

}  // namespace attnlab::analysis::tradeoff
