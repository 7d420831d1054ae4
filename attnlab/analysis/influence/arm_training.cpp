#include "attnlab/analysis/influence/arm_training.hpp"

#include "attnlab/analysis/ntk/empirical_ntk.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/linalg.hpp"
#include "attnlab/nn/relu_span_gd.hpp"
#include "attnlab/nn/train.hpp"

namespace attnlab::analysis::influence {

nn::Targets study_targets(const std::vector<int>& labels, Index classes) {
  return nn::encode_targets(
      labels, classes,
      classes > 2 ? nn::TargetEncoding::centered_one_hot : nn::TargetEncoding::plus_minus_one);
}

nn::TwoLayerRelu retrain_arm_b(const nn::TwoLayerRelu& init, const ArmConfig& c, const MatrixD& x,
                               const nn::Targets& targets, double lr) {
  nn::TwoLayerRelu net = init;
  nn::SpanGdConfig cfg;
  cfg.lr = lr;
  cfg.max_steps = c.steps_b;
  cfg.loss_tolerance = c.tol_b;
  cfg.precision = nn::GemmPrecision::fp64;
  cfg.history_every = 0;
  nn::train_gd_span(net, x, targets, cfg);
  return net;
}

TrainedArm train_arm(const ArmConfig& c, const MatrixD& x, const nn::Targets& targets,
                     std::uint64_t net_seed, Index checkpoint_every, const CheckpointHook& hook) {
  if (c.arm != 'a' && c.arm != 'b')
    throw UsageError(str_cat("train_arm: unknown arm '", c.arm, "'"));
  const Index outputs = targets.outputs(), n = x.rows(), d = x.cols();
  if (c.arm == 'a') {
    TrainedArm t{
        nn::TwoLayerRelu::random(d, c.width, outputs,
                                 {.w_std = c.init_std_a, .antisymmetric = false}, net_seed),
        nn::TwoLayerRelu::random(d, c.width, outputs,
                                 {.w_std = c.init_std_a, .antisymmetric = false}, net_seed)};
    t.loss = targets.classes > 2 ? nn::LossKind::cross_entropy : nn::LossKind::mse;
    nn::TrainConfig cfg = nn::paper_recipe(t.loss, c.epochs_a, net_seed);
    cfg.lr = c.lr_a;
    cfg.batch_size = c.batch_a;
    cfg.weight_decay = c.weight_decay_a;
    cfg.history_every = 0;
    const nn::TrainResult r = nn::train(t.net, x, targets, cfg);
    t.lr = c.lr_a;
    t.steps = r.steps;
    return t;
  }
  const nn::TwoLayerRelu init = nn::TwoLayerRelu::random(
      d, c.width, outputs, {.w_std = 1.0, .antisymmetric = c.width % 2 == 0}, net_seed);
  double lambda_max = 0.0;
  if (outputs == 1) {
    const VectorD ev = symmetric_eigenvalues(ntk::empirical_ntk(init, x), "arm B: Θ_0");
    lambda_max = ev(ev.size() - 1);
  } else {
    lambda_max = ntk::full_ntk_lambda_max(init, x, 50, 1e-3);
  }
  TrainedArm t{init, init};
  t.loss = nn::LossKind::mse;
  t.lr = c.lr_fraction_b * nn::gd_stable_lr(lambda_max, n);
  nn::SpanGdConfig cfg;
  cfg.lr = t.lr;
  cfg.loss_tolerance = c.tol_b;
  cfg.precision = nn::GemmPrecision::fp64;
  cfg.history_every = 0;
  const Index every = checkpoint_every > 0 ? checkpoint_every : c.steps_b;
  while (t.steps < c.steps_b) {
    const Index seg = std::min(every, c.steps_b - t.steps);
    if (hook) hook(t.net, seg, t.lr);
    cfg.max_steps = seg;
    const nn::TrainResult r = nn::train_gd_span(t.net, x, targets, cfg);
    t.steps += r.steps;
    if (r.reached_tolerance || r.steps < seg) break;
  }
  return t;
}

}  // namespace attnlab::analysis::influence
