// attnlab/analysis/tradeoff/sink_streaming_study.hpp — the StreamingLLM test on attnlab's own KJV
// models (SCIENCE.md §6; reference/tinylm_longcontext_anchors.md §1–2): does a sink form at this
// scale, and what does evicting it cost when decoding far past the training length?
//
// Models: char-level GPTs trained on KJV (train_on_task with the kjv task: same recipe, steps and
// seed for all) with positions rope, alibi and none, one rope model with a learnable sink slot,
// and one with learned absolute positions (GPT-2's layout: its cache cannot be re-slotted, so it
// gets only the re-computation row). Each is measured by
//   Sink₁^ε    Gu et al.'s sink rate (models/tinylm/sink_metrics.hpp: ε = 0.3, T = 64, 100
//              validation windows) — and the slot's rate for the learnable-sink model
//   streaming  stream_perplexity (streaming.hpp) over `tokens` validation characters (≥ 8× the
//              training context by default) with a cache of T rows: S + (T − S) for S ∈ sinks
//              (StreamingLLM's 0+1024 / 1+1023 / 2+1022 / 4+1020 columns), and "recompute T" (the
//              sliding window with re-computation, StreamingLLM's 5.43 row)
// Levers (Gu et al.'s Table 6 analogue, optional): the rope recipe retrained with 4× the steps,
// with weight decay 0.5, with a 3× learning rate or with twice the context, each with its Sink₁
// and validation bits/char beside the base rope model — which training lever makes a sink form.
//
// Usage:
//   SinkStreamingOptions o;  o.train.steps = 300;
//   SinkStreamingOutcome r = run_sink_streaming(o, kjv_dataset, on_line);
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/tradeoff/task_trainer.hpp"
#include "attnlab/models/tinylm/lm_dataset.hpp"

namespace attnlab::analysis::tradeoff {

struct SinkStreamingOptions {
  TaskTrainOptions train;  // recipe of every model (steps, batch, width, seed, ...)
  Index context = 64;      // training context T = streaming cache rows
  Index tokens = 1024;     // streamed validation tokens
  std::vector<Index> sinks = {0, 1, 2, 4};
  // Levers to retrain the rope recipe with: "steps x4", "weight decay 0.5", "lr x3",
  // "context x2" (all_levers()); empty = none. The "base" row reuses the rope model.
  std::vector<std::string> levers;
  static std::vector<std::string> all_levers();
  void validate() const;  // UsageError naming the field
};

struct StreamingRow {
  std::string model;   // "rope", "alibi", "none", "rope+learnable-sink", "learned"
  std::string policy;  // StreamPolicy::label()
  Index sinks = 0, window = 0;
  bool recompute = false;
  double perplexity = 0, mean_nll = 0;
  std::vector<double> bucket_nll;  // per 64 stream steps
  double kv_bytes = 0, seconds = 0;
};

struct SinkModelRow {
  std::string model;
  double val_bits = 0;    // validation bits/char (eval windows of T)
  double sink1 = 0;       // Sink₁^0.3 of token 0
  double slot_sink = -1;  // learnable-sink model: share of heads with > ε on the slot (else −1)
  std::vector<double> layer_mass;  // [L] mean attention on token 0
};

struct LeverRow {
  std::string lever;  // "base", "steps x4", "weight decay 0.5", "lr x3", "context x2"
  double val_bits = 0, sink1 = 0;
  std::vector<double> layer_mass;
};

struct SinkStreamingOutcome {
  SinkStreamingOptions options;
  std::vector<SinkModelRow> models;
  std::vector<StreamingRow> streams;
  std::vector<LeverRow> levers;
  double seconds = 0;
  nlohmann::json to_json() const;
};

SinkStreamingOutcome run_sink_streaming(
    const SinkStreamingOptions& options, const models::tinylm::LmDataset& kjv,
    const std::function<void(const std::string&)>& on_line = {});

}  // namespace attnlab::analysis::tradeoff
