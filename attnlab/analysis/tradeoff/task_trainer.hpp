// attnlab/analysis/tradeoff/task_trainer.hpp — trains one tiny GPT on one task with one attention
// variant and measures what it learned and what it cost.
//
// Training is the tiny-LM trainer's recipe (models/tinylm/trainer.hpp) on task batches: AdamW
// (β 0.9/0.95, weight decay on matrices only: models/tinylm/param_groups.hpp), linear warmup then
// cosine to min_lr, global-norm clip, the data-parallel graph (one replica per thread), loss = mean
// NLL over the scored targets only (the values of queried keys; every target for kjv). Batch `s`
// of seed σ is rows [s·B, (s+1)·B) of the task's training stream (tasks.hpp), so every variant of
// a seed sees the same sequences in the same order: "the same budget and seed set".
//
// Evaluation (after the last step, on data never trained on):
//   recall tasks  accuracy = share of scored queries whose value has the largest logit, on
//                 eval_rows held-out sequences (tasks.hpp's evaluation stream), overall and per
//                 key–query distance bucket [k·w, (k+1)·w), w = ⌈T / buckets⌉; NLL of the values
//   kjv           NLL (nats/char) of every target of eval_rows validation windows of T tokens
//                 (LmDataset::eval_windows), overall and per position in the window (the context a
//                 token had) in the same buckets; accuracy = next-char top-1
// Costs: count_costs (cost_model.hpp) at the task's length with the trained rates; measured wall
// time of training (median step × steps) and of the evaluation forward per sequence.
//
// Usage:
//   TaskTrainOptions o;  o.steps = 300;  o.seed = 2;
//   TaskRun r = train_on_task(task_preset(TaskKind::retrieval, 128), parse_variant("full", 4), o);
//   double acc = r.accuracy;  std::vector<double> by_distance = r.bucket_quality;
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "attnlab/analysis/tradeoff/cost_model.hpp"
#include "attnlab/analysis/tradeoff/tasks.hpp"
#include "attnlab/analysis/tradeoff/variants.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/models/tinylm/lm_dataset.hpp"

namespace attnlab::analysis::tradeoff {

inline constexpr std::uint64_t kValidationOffset = std::uint64_t{1} << 39;

struct TaskTrainOptions {
  Index layers = 2, width = 64, heads = 4, mlp_ratio = 4;
  Index batch = 32;
  std::int64_t steps = 300;
  double lr = 3e-3, min_lr = 3e-4;
  std::int64_t warmup = -1;  // −1 = min(100, steps / 10)
  double weight_decay = 0.1, clip = 1.0;
  std::uint64_t seed = 1;
  Index eval_rows = 256;
  Index buckets = 8;
  // Recall tasks: evaluate on the stream kEvalStream + eval_offset (0 = the test set; the search
  // selects on kValidationOffset, a disjoint validation set).
  std::uint64_t eval_offset = 0;
  // UsageError naming the field.
  void validate() const;
  nlohmann::json to_json() const;
};

struct TaskRun {
  TaskConfig task;
  std::string variant, family;
  std::uint64_t seed = 0;
  double accuracy = 0;  // top-1 on the scored targets
  double eval_nll = 0;  // nats per scored target
  Index scored = 0;
  Index bucket_width = 0;
  std::vector<double> bucket_quality;  // [buckets] accuracy (recall) or NLL (kjv); NaN if empty
  std::vector<Index> bucket_count;     // [buckets]
  std::vector<double> loss_curve;      // training loss per step
  double train_seconds = 0, eval_seconds_per_sequence = 0;
  CostCounts costs;
  std::vector<std::vector<double>> learned_decay;  // [L][H] when learned
  std::uint64_t parameters = 0;
  models::gpt2::Gpt2Weights weights;  // the trained model (not in to_json)
  nlohmann::json to_json() const;
  static TaskRun from_json(const nlohmann::json& j);  // without weights
};

// `kjv` must be given for TaskKind::kjv (its vocabulary is the dataset's); ignored otherwise.
// on_step (optional) is called after every step with (step, loss).
TaskRun train_on_task(const TaskConfig& task, const Variant& variant, const TaskTrainOptions& o,
                      const models::tinylm::LmDataset* kjv = nullptr,
                      const std::function<void(std::int64_t, double)>& on_step = {});

// The GPT-2 config a run builds (vocabulary from the task or the dataset).
models::gpt2::Gpt2Config task_model_config(const TaskConfig& task, const Variant& variant,
                                           const TaskTrainOptions& o, Index vocab_size);

}  // namespace attnlab::analysis::tradeoff
