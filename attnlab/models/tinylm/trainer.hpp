// attnlab/models/tinylm/trainer.hpp — trains a tiny GPT-layout language model in fp32 on 2 cores.
//
// Loop (step s = 1 .. steps, all of it deterministic for a fixed thread count):
//   batch_s = dataset.train_batch(B, T, seed, s)                     (lm_dataset.hpp)
//   loss, g = DataParallelTrainGraph<float>::forward_backward(θ, batch_s)
//             (models/gpt2/data_parallel_graph.hpp: one replica per thread over the sequences)
//   g ← clip(g, clip);  θ ← AdamW(θ, g, cosine_lr(s))                (nn/adamw.hpp)
//   every eval_every steps and at the last: validation loss on eval_windows fixed windows,
//     Sink₁^ε and per-layer sink mass (sink_metrics.hpp), learned decay rates
//   every checkpoint_every steps and at the end: checkpoint (checkpoint.hpp), atomically
// Parameter groups: weight decay on the matrices (wte, wpe when learned, c_attn, c_proj, c_fc,
// mlp c_proj); none on LayerNorm, biases, sink slots and decay rates (the rates are kept ≥ 0);
// wpe is frozen for the sinusoidal table and unused (zero) for none / rope / alibi.
// Initialization: random_gpt2_weights(config, seed) (GPT-2's scheme; RetNet rates for learned
// decay). Resuming from a checkpoint at step k restores θ, AdamW's state and the history; the
// remaining steps draw the same batches an uninterrupted run would, so the result is
// bit-identical (tested).
//
// After the loop: the validation loss over the whole validation split (windows of T at stride
// T − 1: what `attnlab perplexity --context T --stride T-1` computes on the same tokens), the
// throughput (median tokens/s of the training steps, evaluation excluded), and the final model as
// Gpt2Weights.
//
// Usage:
//   TrainOptions o;  o.steps = 200;
//   TrainControl ctl;  ctl.checkpoint_path = "run/checkpoint.safetensors";
//   TrainResult r = train_lm(o, dataset, ctl);
//   save_trained_model(r, tokenizer, "run/");        // model.safetensors + config.json + vocab
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/models/tinylm/checkpoint.hpp"
#include "attnlab/models/tinylm/lm_dataset.hpp"
#include "attnlab/models/tinylm/sink_metrics.hpp"
#include "attnlab/models/tinylm/train_options.hpp"

namespace attnlab::models::tinylm {

struct StepRecord {
  std::int64_t step = 0;
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;  // seconds of this step
};

struct EvalRecord {
  std::int64_t step = 0;
  double val_loss = 0;  // nats/token on the periodic windows
  SinkMetrics sinks;
  std::vector<std::vector<double>> decay_rates;  // [L][H] when learned
};

struct TrainControl {
  std::filesystem::path checkpoint_path;  // empty: no checkpoints
  std::int64_t checkpoint_every = 0;      // 0: only at the end
  std::optional<TrainState> resume;       // continue this state
  std::int64_t stop_after = 0;            // > 0: stop after this step (a simulated interruption;
                                          // the checkpoint is written, nothing else)
  bool final_validation = true;           // evaluate the whole validation split at the end
  std::function<void(const StepRecord&)> on_step;
  std::function<void(const EvalRecord&)> on_eval;
};

struct TrainResult {
  TrainOptions options;
  gpt2::Gpt2Weights weights;
  std::int64_t steps_done = 0;
  bool stopped_early = false;
  std::vector<StepRecord> curve;
  std::vector<EvalRecord> evals;
  double final_val_loss = 0;  // nats/token over the whole validation split (NaN if skipped)
  Index final_val_scored = 0;
  double tokens_per_second = 0;  // median over this process's training steps
  double train_seconds = 0;      // wall time of the training steps in this process
  nlohmann::json dataset;
  nlohmann::json to_json() const;
};

// UsageError for options the dataset cannot serve (context longer than the train split) or a
// resume state whose model/optimization/seed/dataset differ from `options` (naming the fields).
TrainResult train_lm(const TrainOptions& options, const LmDataset& dataset,
                     const TrainControl& control = {});

// The trained decay rates [L][H] of a learned-decay model (empty for any other model).
std::vector<std::vector<double>> learned_decay_rates(const gpt2::Gpt2Weights& weights);

// Validation loss of a weight set on the whole validation split (the final evaluation).
double full_validation_loss(const gpt2::Gpt2Weights& weights, const LmDataset& dataset, Index seq,
                            Index* scored = nullptr);

// model.safetensors + config.json + vocab.json + merges.txt in `dir`, together (all or nothing).
void save_trained_model(const gpt2::Gpt2Weights& weights, const gpt2::BpeTokenizer& tokenizer,
                        const std::filesystem::path& dir);

}  // namespace attnlab::models::tinylm
