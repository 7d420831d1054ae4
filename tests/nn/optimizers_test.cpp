// Adam and SGD: exact first steps, coupled weight decay, momentum, argument checks.
#include "attnlab/nn/optimizers.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {
namespace {

TEST(Adam, FirstStepIsLrTimesSignAndDecayIsCoupled) {
  VectorD p(3);
  p << 1.0, -2.0, 0.5;
  VectorD g(3);
  g << 0.3, -4.0, 1e-3;
  Adam opt(3, {.lr = 0.01});
  const VectorD before = p;
  opt.step(ParamMap(p.data(), 3), g);
  for (Index i = 0; i < 3; ++i) {
    // m̂ = g, v̂ = g²: step = lr g / (|g| + eps)
    EXPECT_NEAR(before(i) - p(i), 0.01 * g(i) / (std::abs(g(i)) + 1e-8), 1e-15);
  }
  // Weight decay adds λθ to the gradient: with g = 0 the first step is lr·sign(θ).
  VectorD q(2);
  q << 3.0, -1.0;
  Adam wd(2, {.lr = 0.1, .weight_decay = 0.5});
  wd.step(ParamMap(q.data(), 2), VectorD::Zero(2));
  EXPECT_NEAR(q(0), 3.0 - 0.1, 1e-8);
  EXPECT_NEAR(q(1), -1.0 + 0.1, 1e-8);
  EXPECT_EQ(wd.steps(), 1);
  EXPECT_THROW(Adam(2, {.lr = 0.0}), UsageError);
  EXPECT_THROW(Adam(2, {.beta1 = 1.0}), UsageError);
  EXPECT_THROW(opt.step(ParamMap(q.data(), 2), g), UsageError);
}

TEST(Adam, SecondStepMatchesTheRecursion) {
  VectorD p = VectorD::Constant(1, 1.0);
  Adam opt(1, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-300});
  opt.step(ParamMap(p.data(), 1), VectorD::Constant(1, 2.0));
  opt.step(ParamMap(p.data(), 1), VectorD::Constant(1, -1.0));
  const double m = 0.9 * 0.1 * 2.0 + 0.1 * -1.0, v = 0.99 * 0.01 * 4.0 + 0.01 * 1.0;
  const double mhat = m / (1 - 0.81), vhat = v / (1 - 0.9801);
  EXPECT_NEAR(p(0), 1.0 - 0.1 - 0.1 * mhat / std::sqrt(vhat), 1e-14);
}

TEST(Sgd, PlainMomentumAndDecay) {
  VectorD p = VectorD::Constant(2, 1.0);
  Sgd gd(2, {.lr = 0.5});
  VectorD g(2);
  g << 1.0, -2.0;
  gd.step(ParamMap(p.data(), 2), g);
  EXPECT_EQ(p(0), 0.5);
  EXPECT_EQ(p(1), 2.0);
  VectorD q = VectorD::Constant(1, 0.0);
  Sgd mom(1, {.lr = 1.0, .momentum = 0.5});
  mom.step(ParamMap(q.data(), 1), VectorD::Constant(1, 1.0));  // v = 1
  mom.step(ParamMap(q.data(), 1), VectorD::Constant(1, 1.0));  // v = 1.5
  EXPECT_EQ(q(0), -2.5);
  VectorD r = VectorD::Constant(1, 2.0);
  Sgd decay(1, {.lr = 0.1, .weight_decay = 1.0});
  decay.step(ParamMap(r.data(), 1), VectorD::Zero(1));
  EXPECT_NEAR(r(0), 1.8, 1e-15);
  EXPECT_THROW(Sgd(1, {.lr = -1.0}), UsageError);
  EXPECT_THROW(Sgd(1, {.lr = 1.0, .momentum = 1.0}), UsageError);
}

}  // namespace
}  // namespace attnlab::nn
