// attnlab/analysis/influence/arm_training.hpp — the two training arms of SCIENCE.md §2 for the
// influence studies: one call that builds the network of (arm, width, seed), trains it on given
// model-space features and returns it together with its initialization.
//
//   arm A  W ~ N(0, init_std_a²), Adam(lr_a), minibatch batch_a, coupled L2, loss_a
//          (cross-entropy when C > 2, MSE otherwise), epochs_a epochs (nn/train.hpp)
//   arm B  W ~ N(0, I) antisymmetric (f_0 ≡ 0), full-batch GD on MSE (nn/relu_span_gd.hpp) at
//          η = lr_fraction_b · 2n/λ_max(full Θ_0), until MSE < tol_b or steps_b steps. When a
//          checkpoint hook is given, training runs in segments of `every` steps and the hook sees
//          the network before each segment with the segment's length (TracIn).
// Targets (same as analysis/ntk): centered one-hot (C > 2) or ±1 (C = 2).
//
// Usage:
//   ArmConfig c;  c.arm = 'b';  c.width = 512;
//   TrainedArm t = train_arm(c, features_train, targets, net_seed);
//   t.net (trained), t.init (its initialization), t.lr, t.steps
#pragma once

#include <cstdint>
#include <functional>

#include "attnlab/nn/losses.hpp"
#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab::analysis::influence {

struct ArmConfig {
  char arm = 'b';
  Index width = 1024;
  Index epochs_a = 100;
  double lr_a = 1e-3;
  Index batch_a = 128;
  double weight_decay_a = 1e-3;
  double init_std_a = 0.01;
  Index steps_b = 500;
  double lr_fraction_b = 0.5;
  double tol_b = 1e-3;
};

struct TrainedArm {
  nn::TwoLayerRelu net;
  nn::TwoLayerRelu init;
  double lr = 0.0;
  Index steps = 0;
  nn::LossKind loss = nn::LossKind::mse;
};

// Centered one-hot (classes > 2) or ±1 targets for labels.
nn::Targets study_targets(const std::vector<int>& labels, Index classes);

// Called before each arm-B segment with (network, segment length in steps, η).
using CheckpointHook = std::function<void(const nn::TwoLayerRelu&, Index, double)>;

TrainedArm train_arm(const ArmConfig& c, const MatrixD& x, const nn::Targets& targets,
                     std::uint64_t net_seed, Index checkpoint_every = 0,
                     const CheckpointHook& hook = {});

// Retrains a copy of `init` with arm B at the fixed step size lr (≤ steps_b steps, tol_b).
nn::TwoLayerRelu retrain_arm_b(const nn::TwoLayerRelu& init, const ArmConfig& c, const MatrixD& x,
                               const nn::Targets& targets, double lr);

}  // namespace attnlab::analysis::influence
