#include "attnlab/nn/train.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/nn/optimizers.hpp"

namespace attnlab::nn {
namespace {

void validate(const Model& model, const MatrixD& x, const Targets& t, const TrainConfig& c) {
  check_model_input(model, x, "train");
  if (x.rows() < 1) throw UsageError("train: no training rows");
  if (t.rows() != x.rows() || static_cast<Index>(t.labels.size()) != x.rows()) {
    throw UsageError(str_cat("train: x has ", x.rows(), " rows but targets have ", t.rows(),
                             " rows and ", t.labels.size(), " labels"));
  }
  if (c.loss == LossKind::mse && t.outputs() != model.output_dim()) {
    throw UsageError(str_cat("train: MSE targets have ", t.outputs(), " outputs, the ",
                             model.name(), " model has ", model.output_dim()));
  }
  if (c.loss == LossKind::cross_entropy && model.output_dim() != t.classes) {
    throw UsageError(str_cat("train: cross-entropy needs one output per class (", t.classes,
                             "), the model has ", model.output_dim()));
  }
  if (c.epochs < 0 || c.batch_size < 0 || c.history_every < 0) {
    throw UsageError(str_cat("train: epochs, batch_size and history_every must be >= 0, got ",
                             c.epochs, ", ", c.batch_size, ", ", c.history_every));
  }
  if (!(c.loss_tolerance >= 0.0)) {
    throw UsageError(str_cat("train: loss_tolerance must be >= 0, got ", c.loss_tolerance));
  }
}

double full_loss(const Model& model, const MatrixD& x, const Targets& t, LossKind kind) {
  return loss_value(kind, predict(model, x), t, nullptr);
}

void check_loss(double loss, Index epoch, const TrainConfig& c, const Model& model) {
  if (!std::isfinite(loss)) {
    throw NumericError(str_cat("train: loss became ", loss, " at epoch ", epoch, " (", model.name(),
                               " model, ", to_string(c.optimizer), " lr=", c.lr,
                               "); lower the learning rate"));
  }
}

}  // namespace

std::string_view to_string(OptimizerKind k) {
  return k == OptimizerKind::adam ? "adam" : "sgd";
}

TrainResult train(Model& model, const MatrixD& x, const Targets& targets, const TrainConfig& c,
                  const EpochCallback& on_epoch) {
  validate(model, x, targets, c);
  Timer timer;
  const Index n = x.rows(), P = model.num_params();
  const bool full_batch = c.batch_size == 0 || c.batch_size >= n;
  const Index batch = full_batch ? n : c.batch_size;
  std::variant<Adam, Sgd> opt =
      c.optimizer == OptimizerKind::adam
          ? std::variant<Adam, Sgd>(Adam(P, {.lr = c.lr, .weight_decay = c.weight_decay}))
          : std::variant<Adam, Sgd>(
                Sgd(P, {.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay}));
  auto step = [&opt, &model](const VectorD& g) {
    std::visit([&](auto& o) { o.step(model.params(), g); }, opt);
  };

  TrainResult r;
  Rng shuffle = Rng::stream(c.seed, kShuffleStream);
  VectorD grad(P);
  MatrixD d_out;
  std::unique_ptr<ModelCache> cache;
  r.initial_loss = full_loss(model, x, targets, c.loss);
  check_loss(r.initial_loss, 0, c, model);

  for (Index epoch = 0; epoch < c.epochs; ++epoch) {
    double epoch_loss = 0.0;
    if (full_batch) {
      const MatrixD out = model.forward(x, cache);
      epoch_loss = loss_value(c.loss, out, targets, &d_out);
      check_loss(epoch_loss, epoch, c, model);
      if (c.loss_tolerance > 0.0 && epoch_loss < c.loss_tolerance) {
        r.reached_tolerance = true;
        break;
      }
      model.backward(*cache, d_out, &grad, nullptr);
      step(grad);
      ++r.steps;
    } else {
      const std::vector<Index> perm = shuffle.permutation(n);
      double weighted = 0.0;
      for (Index b0 = 0; b0 < n; b0 += batch) {
        const Index rows = std::min(batch, n - b0);
        std::vector<Index> idx(perm.begin() + b0, perm.begin() + b0 + rows);
        MatrixD xb(rows, x.cols());
        for (Index i = 0; i < rows; ++i) xb.row(i) = x.row(idx[static_cast<std::size_t>(i)]);
        const Targets tb = targets.subset(idx);
        const MatrixD out = model.forward(xb, cache);
        const double l = loss_value(c.loss, out, tb, &d_out);
        check_loss(l, epoch, c, model);
        weighted += l * static_cast<double>(rows);
        model.backward(*cache, d_out, &grad, nullptr);
        step(grad);
        ++r.steps;
      }
      epoch_loss = weighted / static_cast<double>(n);
    }
    r.epochs = epoch + 1;
    if (c.history_every > 0 && epoch % c.history_every == 0) {
      r.history_epoch.push_back(epoch);
      r.history_loss.push_back(epoch_loss);
    }
    if (on_epoch) on_epoch(r.epochs, epoch_loss);
    if (!full_batch && c.loss_tolerance > 0.0 && epoch_loss < c.loss_tolerance) {
      r.reached_tolerance = true;
      break;
    }
  }
  r.final_loss = full_loss(model, x, targets, c.loss);
  check_loss(r.final_loss, r.epochs, c, model);
  if (full_batch && c.loss_tolerance > 0.0 && r.final_loss < c.loss_tolerance) {
    r.reached_tolerance = true;
  }
  r.seconds = timer.seconds();
  return r;
}

TrainConfig paper_recipe(LossKind loss, Index epochs, std::uint64_t seed) {
  TrainConfig c;
  c.loss = loss;
  c.optimizer = OptimizerKind::adam;
  c.lr = 1e-3;
  c.batch_size = 128;
  c.weight_decay = 1e-3;
  c.epochs = epochs;
  c.seed = seed;
  return c;
}

TrainConfig gd_control(double lr, Index max_steps, double tolerance) {
  TrainConfig c;
  c.loss = LossKind::mse;
  c.optimizer = OptimizerKind::sgd;
  c.lr = lr;
  c.batch_size = 0;
  c.weight_decay = 0.0;
  c.epochs = max_steps;
  c.loss_tolerance = tolerance;
  return c;
}

double gd_stable_lr(double lambda_max, Index n) {
  if (!(lambda_max > 0.0) || !std::isfinite(lambda_max) || n < 1) {
    throw NumericError(str_cat(
        "gd_stable_lr: need lambda_max > 0 and n >= 1, got lambda_max=", lambda_max, " n=", n));
  }
  return 2.0 * static_cast<double>(n) / lambda_max;
}

}  // namespace attnlab::nn
