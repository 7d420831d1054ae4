// attnlab/nn/train.hpp — seeded, deterministic training of any nn::Model.
//
// One loop serves both training arms of the NTK study (SCIENCE.md §2):
//   arm A, the paper's recipe (paper_recipe):  Adam lr 1e-3, minibatch 128, coupled L2 1e-3,
//     cross-entropy (multi-class) or MSE (binary), init N(0, 0.01²) (the init is the caller's);
//   arm B, the kernel-regime control (gd_control): full-batch GD on MSE, no weight decay, with a
//     step size η below gd_stable_lr(λ_max(Θ_0), n) = 2n/λ_max — the bound for the loss
//     L = (1/(2n)) Σ‖f − y‖², whose linearized GD step is f ← f − (η/n) Θ (f − y); it runs until
//     the training loss is below `loss_tolerance` or `epochs` steps were taken.
//
// Semantics:
//   * An epoch is one pass over the n rows in batches of batch_size (0 or ≥ n: one full batch,
//     so an epoch is one GD step). Minibatch order is a permutation per epoch drawn from
//     Rng::stream(seed, kShuffleStream); the last batch may be smaller (nothing is dropped).
//   * The gradient of each batch is that of the mean batch loss, plus weight_decay·θ.
//   * initial_loss / final_loss are full-batch data losses (no L2 term) before / after training.
//     loss_tolerance is checked against the full-batch loss for full-batch training (computed
//     anyway) and against the epoch's mean minibatch loss otherwise.
//   * Same model, data, config and thread count -> bit-identical parameters.
//   * A non-finite loss is a NumericError naming the epoch and the learning rate.
//
// Usage:
//   TrainConfig a = paper_recipe(LossKind::cross_entropy, /*epochs=*/500, /*seed=*/3);
//   TrainResult r = train(net, x_train, targets, a);
//   TrainConfig b = gd_control(0.5 * gd_stable_lr(lambda_max, n), /*max_steps=*/2000, 1e-4);
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "attnlab/nn/losses.hpp"
#include "attnlab/nn/model.hpp"

namespace attnlab::nn {

enum class OptimizerKind { adam, sgd };
std::string_view to_string(OptimizerKind k);

inline constexpr std::uint64_t kShuffleStream = 0x5A0FF1Eull;

struct TrainConfig {
  LossKind loss = LossKind::mse;
  OptimizerKind optimizer = OptimizerKind::adam;
  double lr = 1e-3;
  double momentum = 0.0;        // SGD only
  double weight_decay = 0.0;    // coupled L2 (see optimizers.hpp)
  Index batch_size = 128;       // 0 or >= n: full batch
  Index epochs = 100;           // passes over the data (full batch: GD steps)
  double loss_tolerance = 0.0;  // stop when the loss drops below this (0 = never)
  std::uint64_t seed = 0;       // minibatch order
  Index history_every = 1;      // record the loss every k epochs (0 = never)
};

struct TrainResult {
  Index epochs = 0;  // epochs run
  Index steps = 0;   // optimizer steps taken
  double initial_loss = 0.0;
  double final_loss = 0.0;
  bool reached_tolerance = false;
  std::vector<Index> history_epoch;  // epochs at which history_loss was recorded
  std::vector<double> history_loss;  // full-batch loss (full batch) / mean batch loss (minibatch)
  double seconds = 0.0;
};

// Called after every epoch with (epochs done, that epoch's loss).
using EpochCallback = std::function<void(Index, double)>;

// Trains model in place on x [n, D] and targets (n rows). UsageError on bad shapes/config.
TrainResult train(Model& model, const MatrixD& x, const Targets& targets, const TrainConfig& config,
                  const EpochCallback& on_epoch = {});

// Arm A: Adam(1e-3), batch 128, weight decay 1e-3, the given loss and epochs.
TrainConfig paper_recipe(LossKind loss, Index epochs, std::uint64_t seed);
// Arm B: full-batch GD on MSE with step lr, at most max_steps steps, stop below tolerance.
TrainConfig gd_control(double lr, Index max_steps, double tolerance);
// 2n/λ_max: GD on L = (1/(2n))Σ‖f − y‖² with NTK λ_max is stable (linearized) below this.
double gd_stable_lr(double lambda_max, Index n);

}  // namespace attnlab::nn
