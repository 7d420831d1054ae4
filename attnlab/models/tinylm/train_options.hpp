// attnlab/models/tinylm/train_options.hpp — everything that defines a tiny-LM training run.
//
// A run is fully determined by TrainOptions plus the dataset (its sha256 and tokenizer) and the
// thread count: the same options give bit-identical weights. The defaults are the report's tiny
// LM (SCIENCE.md §7: 4 layers, width 128, 4 heads, context 256, learned positions, full
// softmax), trained with AdamW (β = 0.9/0.95, weight decay 0.1 on matrices only), linear warmup
// then cosine decay to min_lr, global-norm clipping at 1.0.
//
// Model flags map onto Gpt2Config (the GPT-2 layout every attnlab tool reads): layers → n_layer,
// width → n_embd, heads → n_head, context → n_positions, mlp_ratio · width → n_inner, positions →
// attnlab_position_mode, attention → attnlab_attention. The vocabulary comes from the tokenizer.
//
// Usage:
//   TrainOptions o;  o.steps = 3000;  o.attention.spec.window = 64;
//   o.validate();                                   // UsageError naming the field
//   Gpt2Config c = o.model_config(/*vocab=*/256);
//   nlohmann::json j = o.to_json();  TrainOptions back = TrainOptions::from_json(j, "ckpt");
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "attnlab/models/gpt2/config.hpp"

namespace attnlab::models::tinylm {

struct TrainOptions {
  // Model.
  Index layers = 4, width = 128, heads = 4, context = 256, mlp_ratio = 4;
  gpt2::PositionMode positions = gpt2::PositionMode::learned;
  gpt2::ModelAttention attention;
  // Optimization.
  Index batch = 16;
  std::int64_t steps = 2000;
  double lr = 3e-3, min_lr = 3e-4;
  std::int64_t warmup = -1;  // −1 = min(100, steps / 10)
  double weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, clip = 1.0;
  std::uint64_t seed = 1;
  // Evaluation (does not change the weights).
  std::int64_t eval_every = 250;  // steps; the last step always evaluates
  Index eval_windows = 32;        // validation windows per periodic evaluation
  Index sink_seq = 64, sink_sequences = 100;
  double sink_eps = 0.3;

  std::int64_t warmup_steps() const {
    return warmup >= 0 ? warmup : std::min<std::int64_t>(100, steps / 10);
  }
  // UsageError naming the field and value.
  void validate() const;
  gpt2::Gpt2Config model_config(Index vocab_size) const;
  nlohmann::json to_json() const;
  // FormatError naming `source` and the field.
  static TrainOptions from_json(const nlohmann::json& j, std::string_view source);
  // The options that determine the weights (model, optimization, seed), for resume checks.
  nlohmann::json identity_json() const;
};

}  // namespace attnlab::models::tinylm
