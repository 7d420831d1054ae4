// attnlab/analysis/tradeoff/heuristic_search.hpp — a budgeted black-box search over attention
// specs (seed 004's "searched heuristics"): successive halving under an attention-FLOP budget.
//
// Space at context T: window W ∈ {off, T/16, T/8, T/4, T/2} × sinks S ∈ {0, 1, 4} (with a window)
// × fixed decay ∈ {off, RetNet per-head, 0.05, 0.25} × top-k K ∈ {off, 4, 8}. A spec is feasible
// when its counted forward attention FLOPs (cost_model.hpp) at T are at most flop_budget × those
// of full softmax.
// Successive halving (Jamieson & Talwalkar 2016), η = 2: sample n₀ = candidates feasible specs
// (seeded shuffle of the grid), train each for steps / 2^(R−1) steps, keep the better half by
// validation accuracy (ties: fewer attention FLOPs, then the spec text), double the steps, and so
// on for R = ⌈log2 n₀⌉ + 1 rounds; the last round trains the survivor(s) for the full steps.
// Every training is train_on_task with seed `seed` from scratch; validation uses the disjoint
// stream kValidationOffset (task_trainer.hpp), never the test set the study reports. The result
// is deterministic for a fixed seed and thread count (tested).
//
// Usage:
//   SearchOptions s;  s.flop_budget = 0.5;  s.candidates = 8;
//   SearchOutcome r = search_heuristic(task, train_options, s);
//   Variant v = parse_variant("searched:" + r.best_spec, heads);
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/task_trainer.hpp"

namespace attnlab::analysis::tradeoff {

struct SearchOptions {
  double flop_budget = 0.5;  // attention FLOPs ≤ flop_budget × full attention's
  Index candidates = 8;      // n₀
  std::uint64_t seed = 1;
  void validate() const;  // UsageError naming the field
};

struct SearchCandidate {
  std::string spec;          // parse_model_attention text ("window=16,sinks=4")
  double flop_fraction = 0;  // attention FLOPs / full attention's
  double validation = 0;     // accuracy on the validation stream after this round
};

struct SearchRound {
  std::int64_t steps = 0;
  std::vector<SearchCandidate> candidates;  // in evaluation order
};

struct SearchOutcome {
  TaskConfig task;
  SearchOptions options;
  Index feasible = 0;  // size of the feasible grid
  std::vector<SearchRound> rounds;
  std::string best_spec;
  double best_validation = 0, best_flop_fraction = 0;
  std::int64_t total_steps = 0;  // training steps spent, all rounds
  nlohmann::json to_json() const;
};

// Every spec of the grid at context T with its attention-FLOP fraction (before the budget).
std::vector<SearchCandidate> search_space(const TaskConfig& task, const TaskTrainOptions& train);

// UsageError for a kjv task (the search scores accuracy), options out of range, or no feasible
// spec under the budget. on_train(spec, steps) is called before each training.
SearchOutcome search_heuristic(
    const TaskConfig& task, const TaskTrainOptions& train, const SearchOptions& options,
    const std::function<void(const std::string&, std::int64_t)>& on_train = {});

}  // namespace attnlab::analysis::tradeoff
