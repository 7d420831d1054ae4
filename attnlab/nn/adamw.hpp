// attnlab/nn/adamw.hpp — AdamW over a flat parameter block, with parameter groups, global-norm
// gradient clipping and the warmup + cosine learning-rate schedule.
//
// Update at step t = 1, 2, ... (Loshchilov & Hutter 2019; PyTorch's AdamW semantics), per element
// of a trainable group, with learning rate η_t from the schedule and decoupled weight decay λ:
//   m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
//   θ ← θ (1 − η_t λ_group) − η_t · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
// λ_group is λ for groups marked `decay` (matrices) and 0 otherwise (biases, LayerNorm, rates);
// `frozen` groups are never changed; `nonnegative` groups are projected onto θ ≥ 0 after the
// step (learned decay rates). Elements outside every group are frozen.
//
// Clipping: with c > 0, g ← g · min(1, c / ‖g‖₂) where ‖g‖₂ is summed in fp64 in element order.
// Schedule: η_t = η·t/W for t ≤ W (warmup), then η_min + ½(η − η_min)(1 + cos(π·(t − W)/(S − W)))
// until S, and η_min after. Every operation is elementwise or a sum in fixed order, so results
// are bit-identical for any thread count; the state (m, v, t) is exposed for checkpoints.
//
// Usage:
//   AdamW<float> opt(P, {.lr = 3e-3, .weight_decay = 0.1});
//   opt.add_group({.offset = 0, .size = V * C, .decay = true});
//   double norm = clip_grad_norm(g.data(), P, 1.0);
//   opt.step(params.data(), g.data(), cosine_lr(sched, opt.steps() + 1));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

struct AdamWOptions {
  double lr = 1e-3;  // peak learning rate η (the schedule's maximum)
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

struct ParamGroup {
  std::size_t offset = 0, size = 0;
  bool decay = false;        // apply weight decay (matrices)
  bool frozen = false;       // never updated (e.g. a fixed sinusoidal table)
  bool nonnegative = false;  // projected onto θ ≥ 0 after each step
  std::string name;          // for messages
};

template <class T>
class AdamW {
 public:
  AdamW(std::size_t num_params, const AdamWOptions& options);
  // UsageError when the group runs past num_params or overlaps an earlier group.
  void add_group(const ParamGroup& group);
  // One update with learning rate `lr` (from the schedule). Increments steps().
  void step(T* params, const T* grads, double lr);
  std::int64_t steps() const { return t_; }
  const AdamWOptions& options() const { return o_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Moment estimates [num_params], for checkpoints.
  const AlignedVector<T>& m() const { return m_; }
  const AlignedVector<T>& v() const { return v_; }
  // Restores a checkpointed state; UsageError when sizes disagree.
  void restore(std::int64_t steps, std::vector<T> m, std::vector<T> v);

 private:
  AdamWOptions o_;
  std::vector<ParamGroup> groups_;
  AlignedVector<T> m_, v_;
  std::int64_t t_ = 0;
};

struct CosineSchedule {
  double lr = 1e-3;      // peak
  double min_lr = 1e-4;  // floor after decay
  std::int64_t warmup = 100;
  std::int64_t total = 1000;  // step at which the cosine reaches min_lr
};
// Learning rate of step t (1-based).
double cosine_lr(const CosineSchedule& s, std::int64_t t);

// Global l2 norm of g [n] (fp64, element order); when max_norm > 0 and the norm exceeds it, g is
// scaled by max_norm / norm. Returns the norm before clipping.
template <class T>
double clip_grad_norm(T* g, std::size_t n, double max_norm);

}  // namespace attnlab::nn
