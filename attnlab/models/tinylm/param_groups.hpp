// attnlab/models/tinylm/param_groups.hpp — the AdamW parameter groups of a GPT-layout model.
//
// Weight decay on the matrices (wte, wpe when learned, c_attn, c_proj, c_fc, mlp c_proj,
// an untied lm_head); none on LayerNorm gains/biases, linear biases, learnable-sink slots and
// learned decay rates (the rates are kept ≥ 0); wpe is frozen for sinusoidal/none/rope/alibi
// positions. Every trainer (models/tinylm/trainer, analysis/tradeoff/task_trainer) uses this one
// definition so that "the same budget" means the same optimizer.
//
// Usage:
//   nn::AdamW<float> opt(params.size(), hyper);
//   add_parameter_groups(opt, config);
#pragma once

#include "attnlab/models/gpt2/config.hpp"
#include "attnlab/nn/adamw.hpp"

namespace attnlab::models::tinylm {

void add_parameter_groups(nn::AdamW<float>& opt, const gpt2::Gpt2Config& config);

}  // namespace attnlab::models::tinylm
