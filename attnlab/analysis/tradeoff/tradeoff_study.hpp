// attnlab/analysis/tradeoff/tradeoff_study.hpp — the trade-off study (SCIENCE.md §6): every
// variant trained on every task with the same budget and seeds, its quality with seed intervals,
// what it cost, and the quality–compute frontier per task.
//
// For each task t, variant v and seed s: TaskRun = train_on_task(t, v, options with seed s).
// Summaries per (t, v) over the seeds:
//   quality      accuracy (recall tasks, higher is better) or bits per char (kjv, lower is
//                better); mean and a 95% Student-t interval mean ± t_{0.975, n−1}·sd/√n (n ≥ 2;
//                accuracy intervals clipped to [0, 1])
//   by distance  per-bucket mean over seeds (accuracy vs key–query distance, or NLL vs position)
//   costs        count_costs of the first seed (identical across seeds except a learned-decay
//                model's prunable counts), mean measured training seconds
//   frontier     v is on the frontier of t when no other variant of t has both lower-or-equal
//                forward FLOPs and better-or-equal mean quality, one of them strictly
// Variant names containing W/S/K are given as names (variants.hpp); `default` names expand per
// task to default_variants(task.context) so windows scale with the context.
//
// Usage:
//   TradeoffOptions o;  o.tasks = {task_preset(TaskKind::recency, 128)};  o.seeds = {1, 2, 3};
//   TradeoffResult r = run_tradeoff(o, nullptr, on_progress);
//   nlohmann::json j = r.to_json();
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/task_trainer.hpp"

namespace attnlab::analysis::tradeoff {

struct TradeoffOptions {
  std::vector<TaskConfig> tasks;
  std::vector<std::string> variants;                     // names; empty = default_variants per task
  std::vector<std::vector<std::string>> task_variants;   // [task] non-empty: replaces `variants`
  std::vector<std::vector<std::string>> extra_variants;  // [task] more names (searched specs)
  std::vector<std::uint64_t> seeds = {1, 2, 3};
  TaskTrainOptions train;
  void validate() const;  // UsageError naming the field
};

struct VariantSummary {
  TaskConfig task;
  std::string variant, family;
  bool higher_is_better = true;
  std::vector<double> per_seed;  // quality of each seed
  double mean = 0, lo = 0, hi = 0;
  std::vector<double> bucket_mean;  // [buckets] over seeds (NaN where no seed had data)
  Index bucket_width = 0;
  CostCounts costs;
  double train_seconds = 0;  // mean over seeds
  double eval_seconds_per_sequence = 0;
  std::vector<std::vector<std::vector<double>>> learned_decay;  // [seed][L][H] when learned
  bool on_frontier = false;
  nlohmann::json to_json() const;
};

struct TradeoffResult {
  TradeoffOptions options;
  std::vector<TaskRun> runs;
  std::vector<VariantSummary> summaries;  // task-major, variants in the requested order
  double seconds = 0;
  nlohmann::json to_json() const;
};

// The variants task `task` of the options trains, in order (task_variants, variants or
// default_variants, then extra_variants).
std::vector<Variant> variants_for(const TradeoffOptions& options, std::size_t task);

// The quality a run is judged by: accuracy, or bits/char for kjv.
double run_quality(const TaskRun& r);

// Summaries of the runs of one (task, variant), and the frontier marks over a task's summaries.
VariantSummary summarize(const std::vector<const TaskRun*>& runs);
void mark_frontier(std::vector<VariantSummary*>& task_summaries);

// 95% two-sided Student-t quantile for n − 1 degrees of freedom (n ≥ 2; table to 30, then 1.96).
double t_quantile_975(Index n);

// `kjv` is required when a task is kjv. on_run(k, total, run) is called after each training.
TradeoffResult run_tradeoff(const TradeoffOptions& options, const models::tinylm::LmDataset* kjv,
                            const std::function<void(Index, Index, const TaskRun&)>& on_run = {});

}  // namespace attnlab::analysis::tradeoff
