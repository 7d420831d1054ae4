// attnlab/nn/relu_span_gd.hpp — full-batch GD on MSE for TwoLayerRelu, run in the span of the
// training inputs (the fast path of arm B).
//
// Full-batch GD without weight decay only ever adds combinations of training rows to each w_r:
// ∂L/∂W = dHᵀ X. So W_t = W_0 + P_tᵀ X with P [n, m], and the pre-activations are
//   H_t = X W_tᵀ = H_0 + G P_t,   G = X Xᵀ [n, n],   P_{t+1} = P_t − η dH_t.
// One step then costs 2n²m flops instead of the 4nmD of a forward + backward through W, and the
// update itself is elementwise. In exact arithmetic the iterates equal
// train(net, x, targets, gd_control(lr, max_steps, tolerance)) step for step; in fp64 they agree
// to rounding (tests/nn/relu_span_gd_test.cpp). W_T is formed once at the end.
//
// precision = fp32 runs the G P product in fp32 (P and H stay fp64): about twice as fast, with
// relative rounding ~1e-7 in H — fine for training; kernels are always recomputed in fp64.
//
// Usage:
//   SpanGdConfig c{.lr = eta, .max_steps = 1000, .loss_tolerance = 1e-3};
//   TrainResult r = train_gd_span(net, x_train, targets, c);   // net.w() updated in place
#pragma once

#include "attnlab/nn/losses.hpp"
#include "attnlab/nn/train.hpp"
#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab::nn {

struct SpanGdConfig {
  double lr = 0.1;
  Index max_steps = 1000;
  double loss_tolerance = 0.0;  // stop when the MSE drops below this (0 = never)
  GemmPrecision precision = GemmPrecision::fp64;
  Index history_every = 1;  // record the loss every k steps (0 = never)
};

// MSE targets with net.output_dim() outputs; x [n, D]. Returns the same TrainResult as train()
// (epochs = steps for full-batch GD).
TrainResult train_gd_span(TwoLayerRelu& net, const MatrixD& x, const Targets& targets,
                          const SpanGdConfig& config, const EpochCallback& on_step = {});

}  // namespace attnlab::nn
