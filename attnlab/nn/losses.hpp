// attnlab/nn/losses.hpp — training targets and the two losses of the NTK studies.
//
// Targets (SCIENCE.md §2; the same encoding is used for the network and for the kernel
// predictor f_NTK, so their outputs are on one scale):
//   one_hot           y_bc = 1[c = label_b]                       C outputs
//   centered_one_hot  y_bc = 1[c = label_b] − 1/C (rows sum to 0)  C outputs (default, C > 2)
//   plus_minus_one    y_b = +1 for class 1, −1 for class 0         1 output (binary only)
//
// Losses on a batch of B rows (means over rows, sums over outputs):
//   MSE            L = (1/(2B)) Σ_b ‖f_b − y_b‖²       dL/df = (f − y)/B
//     (the "1/n" convention of SCIENCE.md: GD with step η is stable for η < 2B/λ_max(Θ)).
//   cross-entropy  L = (1/B) Σ_b −log softmax(f_b)[label_b]   dL/df = (softmax(f) − onehot)/B
//     computed with the max-shifted log-sum-exp (stable for any logits); needs C ≥ 2 outputs.
//
// Usage:
//   Targets t = encode_targets(labels, /*classes=*/10, TargetEncoding::centered_one_hot);
//   MatrixD grad;  double l = loss_value(LossKind::mse, out, t, &grad);   // grad [B, C]
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

enum class TargetEncoding { one_hot, centered_one_hot, plus_minus_one };
enum class LossKind { mse, cross_entropy };

std::string_view to_string(TargetEncoding e);
std::string_view to_string(LossKind k);
// UsageError listing the valid names.
TargetEncoding parse_target_encoding(std::string_view name);
LossKind parse_loss(std::string_view name);

struct Targets {
  MatrixD values;           // [n, outputs] regression targets (MSE, kernel predictors)
  std::vector<int> labels;  // [n] class index 0..classes-1 (cross-entropy, accuracy)
  Index classes = 0;        // C
  TargetEncoding encoding = TargetEncoding::centered_one_hot;
  Index rows() const { return values.rows(); }
  Index outputs() const { return values.cols(); }
  // The rows listed in `idx` (minibatches, subsets).
  Targets subset(const std::vector<Index>& idx) const;
};

// Number of outputs a model needs for this encoding: C, or 1 for plus_minus_one.
Index output_count(Index classes, TargetEncoding encoding);
// UsageError for labels outside 0..classes-1 or plus_minus_one with classes != 2.
Targets encode_targets(const std::vector<int>& labels, Index classes, TargetEncoding encoding);

// Mean MSE over rows (½ per row, summed over outputs); grad [B, C] = (out − y)/B when non-null.
double mse_loss(const MatrixD& out, const MatrixD& y, MatrixD* grad);
// Mean cross-entropy of logits [B, C] (C ≥ 2); grad = (softmax − onehot)/B when non-null.
double cross_entropy_loss(const MatrixD& logits, const std::vector<int>& labels, MatrixD* grad);
// Dispatch; cross-entropy needs an encoding with `classes` outputs (not plus_minus_one).
double loss_value(LossKind kind, const MatrixD& out, const Targets& targets, MatrixD* grad);

}  // namespace attnlab::nn
