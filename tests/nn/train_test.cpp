// Training: bit-identical for a seed, arm B (full-batch GD, η below 2n/λ_max(Θ_0)) decreases the
// loss monotonically, the span-GD fast path equals plain GD, MLP-Attn trains exactly like its MLP
// on precomputed features, and bad configurations are UsageErrors.
#include "attnlab/nn/train.hpp"

#include <gtest/gtest.h>

#include "attnlab/core/error.hpp"
#include "attnlab/core/linalg.hpp"
#include "attnlab/nn/jacobian.hpp"
#include "attnlab/nn/mlp_attn.hpp"
#include "attnlab/nn/relu_span_gd.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::nn {
namespace {

using testing::random_unit_rows;

struct Toy {
  MatrixD x;  // [n, D]
  Targets t;
};

Toy make_toy(Index n, Index d, Index classes, TargetEncoding enc, std::uint64_t seed) {
  Toy toy;
  toy.x = random_unit_rows(n, d, seed, 0.3);
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i)
    y[i] = toy.x(i, 0) > toy.x(i, 1) ? 0 : static_cast<int>(1 + i % (classes - 1));
  toy.t = encode_targets(y, classes, enc);
  return toy;
}

TEST(Train, AdamMinibatchIsDeterministicForASeed) {
  const Toy toy = make_toy(50, 8, 3, TargetEncoding::centered_one_hot, 1);
  auto run = [&](std::uint64_t seed) {
    TwoLayerRelu net = TwoLayerRelu::random(8, 32, 3, {.w_std = 0.01}, 7);
    const TrainResult r = train(net, toy.x, toy.t, paper_recipe(LossKind::cross_entropy, 5, seed));
    EXPECT_EQ(r.steps, 5);  // 50 rows in batches of 128: one step per epoch
    return net.w();
  };
  const MatrixD a = run(3), b = run(3);
  EXPECT_EQ(a, b);  // bit-identical
  TwoLayerRelu net = TwoLayerRelu::random(8, 32, 3, {.w_std = 0.01}, 7);
  TrainConfig small_batches = paper_recipe(LossKind::cross_entropy, 3, 3);
  small_batches.batch_size = 16;
  const TrainResult r1 = train(net, toy.x, toy.t, small_batches);
  EXPECT_EQ(r1.steps, 3 * 4);
  TwoLayerRelu net2 = TwoLayerRelu::random(8, 32, 3, {.w_std = 0.01}, 7);
  small_batches.seed = 4;
  train(net2, toy.x, toy.t, small_batches);
  EXPECT_NE(net.w(), net2.w());  // a different shuffle
  EXPECT_LT(r1.final_loss, r1.initial_loss);
}

TEST(Train, ArmBLossDecreasesBelowTheStepBound) {
  const Toy toy = make_toy(40, 10, 2, TargetEncoding::plus_minus_one, 2);
  TwoLayerRelu net = TwoLayerRelu::random(10, 256, 1, {.antisymmetric = true}, 3);
  const MatrixD j = parameter_jacobian(net, toy.x);  // [n, P]
  const MatrixD theta0 = j * j.transpose();
  const VectorD ev = symmetric_eigenvalues(theta0);
  const double bound = gd_stable_lr(ev(ev.size() - 1), 40);
  EXPECT_NEAR(bound, 2.0 * 40 / ev(ev.size() - 1), 1e-12);
  TrainConfig cfg = gd_control(0.5 * bound, 200, 0.0);
  const TrainResult r = train(net, toy.x, toy.t, cfg);
  EXPECT_LT(cfg.lr, bound);
  EXPECT_EQ(r.steps, 200);
  ASSERT_EQ(r.history_loss.size(), 200u);
  EXPECT_NEAR(r.history_loss[0], r.initial_loss, 1e-15);
  for (std::size_t i = 1; i < r.history_loss.size(); ++i)
    EXPECT_LE(r.history_loss[i], r.history_loss[i - 1] * (1 + 1e-12)) << "step " << i;
  EXPECT_LT(r.final_loss, 0.5 * r.initial_loss);
  // Tolerance stops early and reports it.
  TwoLayerRelu again = TwoLayerRelu::random(10, 256, 1, {.antisymmetric = true}, 3);
  cfg.loss_tolerance = 0.5 * r.initial_loss;
  const TrainResult early = train(again, toy.x, toy.t, cfg);
  EXPECT_TRUE(early.reached_tolerance);
  EXPECT_LT(early.steps, 200);
}

TEST(Train, SpanGdEqualsPlainGd) {
  const Toy toy = make_toy(30, 12, 3, TargetEncoding::centered_one_hot, 5);
  TwoLayerRelu a = TwoLayerRelu::random(12, 64, 3, {}, 6);
  TwoLayerRelu b = a;
  const TrainResult ra = train(a, toy.x, toy.t, gd_control(0.7, 25, 0.0));
  const TrainResult rb = train_gd_span(b, toy.x, toy.t, {.lr = 0.7, .max_steps = 25});
  EXPECT_EQ(ra.steps, rb.steps);
  EXPECT_LT((a.w() - b.w()).cwiseAbs().maxCoeff(), 1e-11 * a.w().cwiseAbs().maxCoeff());
  EXPECT_NEAR(ra.final_loss, rb.final_loss, 1e-12);
  ASSERT_EQ(ra.history_loss.size(), rb.history_loss.size());
  for (std::size_t i = 0; i < ra.history_loss.size(); ++i)
    EXPECT_NEAR(ra.history_loss[i], rb.history_loss[i], 1e-12);
  TwoLayerRelu c = TwoLayerRelu::random(12, 64, 3, {}, 6);
  train_gd_span(c, toy.x, toy.t, {.lr = 0.7, .max_steps = 25, .precision = GemmPrecision::fp32});
  EXPECT_LT((a.w() - c.w()).cwiseAbs().maxCoeff(), 1e-4 * a.w().cwiseAbs().maxCoeff());
  EXPECT_THROW(train_gd_span(c, toy.x, toy.t, {.lr = -1.0}), UsageError);
}

TEST(Train, MlpAttnTrainsExactlyLikeItsMlpOnFeatures) {
  const Toy toy = make_toy(36, 7, 3, TargetEncoding::centered_one_hot, 8);
  MlpAttn net(toy.x, TwoLayerRelu::random(7, 24, 3, {.w_std = 0.01}, 9));
  TwoLayerRelu mlp = net.mlp();
  const MatrixD feats = net.features(toy.x);
  TrainConfig cfg = paper_recipe(LossKind::cross_entropy, 4, 1);
  cfg.batch_size = 10;
  train(net, toy.x, toy.t, cfg);
  train(mlp, feats, toy.t, cfg);
  EXPECT_LT((net.mlp().w() - mlp.w()).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(Train, BadConfigurationsAreUsageErrors) {
  const Toy toy = make_toy(10, 4, 3, TargetEncoding::centered_one_hot, 10);
  TwoLayerRelu net = TwoLayerRelu::random(4, 8, 3, {}, 1);
  TwoLayerRelu one = TwoLayerRelu::random(4, 8, 1, {}, 1);
  EXPECT_THROW(train(one, toy.x, toy.t, gd_control(0.1, 1, 0)), UsageError);  // outputs
  EXPECT_THROW(train(net, toy.x.topRows(5), toy.t, gd_control(0.1, 1, 0)), UsageError);
  TrainConfig bad = gd_control(0.1, -1, 0);
  EXPECT_THROW(train(net, toy.x, toy.t, bad), UsageError);
  EXPECT_THROW(train(net, toy.x, toy.t, gd_control(0.0, 1, 0)), UsageError);
  EXPECT_THROW(gd_stable_lr(0.0, 10), NumericError);
  // Divergence is a NumericError naming the learning rate.
  try {
    train(net, toy.x, toy.t, gd_control(1e200, 5, 0));
    ADD_FAILURE() << "no error";
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("lr="), std::string::npos);
  }
}

}  // namespace
}  // namespace attnlab::nn
