// Tests of attnlab/nn/layers and nn/adamw: every backward against central finite differences in
// fp64, the float path against the double path, and AdamW against its formula.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/nn/adamw.hpp"
#include "attnlab/nn/layers/embedding.hpp"
#include "attnlab/nn/layers/gelu.hpp"
#include "attnlab/nn/layers/layernorm.hpp"
#include "attnlab/nn/layers/linear.hpp"
#include "attnlab/nn/layers/rope.hpp"
#include "attnlab/nn/layers/tied_softmax_xent.hpp"

namespace attnlab::nn {
namespace {

std::vector<double> randn(std::size_t n, std::uint64_t seed, double sd = 1.0) {
  std::vector<double> v(n);
  Rng rng(seed);
  rng.fill_normal(v.data(), static_cast<Index>(n), 0.0, sd);
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// max_i |analytic_i − (f(x + ε e_i) − f(x − ε e_i)) / 2ε| / max(1, max |FD|).
double fd_error(std::vector<double>& x, const std::function<double()>& f,
                const std::vector<double>& analytic, double eps = 1e-6) {
  double err = 0, scale = 1;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = f();
    x[i] = keep - eps;
    const double down = f();
    x[i] = keep;
    const double fd = (up - down) / (2 * eps);
    err = std::max(err, std::abs(fd - analytic[i]));
    scale = std::max(scale, std::abs(fd));
  }
  return err / scale;
}

TEST(NnLinear, BackwardMatchesFiniteDifferences) {
  const Index n = 5, in = 7, out = 4;
  auto x = randn(n * in, 1), W = randn(in * out, 2), b = randn(out, 3), dy = randn(n * out, 4);
  auto loss = [&]() {
    std::vector<double> y(n * out);
    linear_forward(x.data(), n, in, W.data(), b.data(), out, y.data());
    return dot(y, dy);
  };
  std::vector<double> dx(n * in), dW(in * out, 0.0), db(out, 0.0);
  linear_backward(x.data(), n, in, W.data(), out, dy.data(), dx.data(), dW.data(), db.data());
  EXPECT_LT(fd_error(x, loss, dx), 1e-8);
  EXPECT_LT(fd_error(W, loss, dW), 1e-8);
  EXPECT_LT(fd_error(b, loss, db), 1e-8);
  // Parameter gradients accumulate; dx accumulates only when asked.
  std::vector<double> dx2 = dx, dW2 = dW;
  linear_backward(x.data(), n, in, W.data(), out, dy.data(), dx2.data(), dW2.data(),
                  static_cast<double*>(nullptr), true);
  for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx2[i], 2 * dx[i], 1e-12);
  for (std::size_t i = 0; i < dW.size(); ++i) EXPECT_NEAR(dW2[i], 2 * dW[i], 1e-12);
}

TEST(NnLinear, AccumulateAddsResidual) {
  const Index n = 3, in = 4, out = 5;
  auto x = randn(n * in, 5), W = randn(in * out, 6), b = randn(out, 7);
  std::vector<double> y(n * out), base = randn(n * out, 8), acc = base;
  linear_forward(x.data(), n, in, W.data(), b.data(), out, y.data());
  linear_forward(x.data(), n, in, W.data(), b.data(), out, acc.data(), true);
  for (Index r = 0; r < n; ++r)
    for (Index c = 0; c < out; ++c) {
      double want = b[c];
      for (Index k = 0; k < in; ++k) want += x[r * in + k] * W[k * out + c];
      EXPECT_NEAR(y[r * out + c], want, 1e-12);
      EXPECT_NEAR(acc[r * out + c], base[r * out + c] + want, 1e-12);
    }
}

TEST(NnLayerNorm, ForwardDefinitionAndBackward) {
  const Index n = 4, C = 9;
  auto x = randn(n * C, 11, 2.0), w = randn(C, 12), b = randn(C, 13), dy = randn(n * C, 14);
  for (auto& v : x) v += 3.0;  // a mean to remove
  std::vector<double> y(n * C), mean(n), rstd(n);
  layernorm_forward(x.data(), n, C, w.data(), b.data(), 1e-5, y.data(), mean.data(), rstd.data());
  for (Index r = 0; r < n; ++r) {
    double mu = 0, var = 0;
    for (Index c = 0; c < C; ++c) mu += x[r * C + c] / C;
    for (Index c = 0; c < C; ++c) var += (x[r * C + c] - mu) * (x[r * C + c] - mu) / C;
    for (Index c = 0; c < C; ++c)
      EXPECT_NEAR(y[r * C + c], (x[r * C + c] - mu) / std::sqrt(var + 1e-5) * w[c] + b[c], 1e-12);
  }
  auto loss = [&]() {
    std::vector<double> yy(n * C);
    layernorm_forward(x.data(), n, C, w.data(), b.data(), 1e-5, yy.data(), (double*)nullptr,
                      (double*)nullptr);
    return dot(yy, dy);
  };
  std::vector<double> dx(n * C), dw(C, 0.0), db(C, 0.0);
  layernorm_backward(x.data(), n, C, w.data(), mean.data(), rstd.data(), dy.data(), dx.data(),
                     dw.data(), db.data());
  EXPECT_LT(fd_error(x, loss, dx), 1e-7);
  EXPECT_LT(fd_error(w, loss, dw), 1e-8);
  EXPECT_LT(fd_error(b, loss, db), 1e-8);
}

TEST(NnLayerNorm, ManyRowsUsePartialSumsDeterministically) {
  // Large enough to run the parallel partial-sum path; repeated calls agree bit for bit, and
  // float agrees with double.
  const Index n = 2048, C = 32;
  auto xd = randn(n * C, 21), wd = randn(C, 22), dyd = randn(n * C, 23);
  std::vector<float> x(xd.begin(), xd.end()), w(wd.begin(), wd.end()), dy(dyd.begin(), dyd.end());
  std::vector<float> b(C, 0.1f), y(n * C), mean(n), rstd(n), dx(n * C);
  layernorm_forward(x.data(), n, C, w.data(), b.data(), 1e-5, y.data(), mean.data(), rstd.data());
  std::vector<float> dw1(C, 0), db1(C, 0), dw2(C, 0), db2(C, 0);
  layernorm_backward(x.data(), n, C, w.data(), mean.data(), rstd.data(), dy.data(), dx.data(),
                     dw1.data(), db1.data());
  layernorm_backward(x.data(), n, C, w.data(), mean.data(), rstd.data(), dy.data(), dx.data(),
                     dw2.data(), db2.data());
  EXPECT_EQ(dw1, dw2);
  EXPECT_EQ(db1, db2);
  std::vector<double> yd(n * C), md(n), rd(n), dxd(n * C), dwd(C, 0), dbd(C, 0), bd(C, 0.1);
  layernorm_forward(xd.data(), n, C, wd.data(), bd.data(), 1e-5, yd.data(), md.data(), rd.data());
  layernorm_backward(xd.data(), n, C, wd.data(), md.data(), rd.data(), dyd.data(), dxd.data(),
                     dwd.data(), dbd.data());
  for (Index c = 0; c < C; ++c) EXPECT_NEAR(dw1[c], dwd[c], 1e-3 * std::max(1.0, std::abs(dwd[c])));
}

TEST(NnGelu, BothKindsMatchDefinitionAndDerivative) {
  const Index n = 64;
  auto x = randn(n, 31, 2.0), dy = randn(n, 32);
  for (GeluKind k : {GeluKind::tanh, GeluKind::erf}) {
    std::vector<double> y(n);
    gelu_forward(k, x.data(), n, y.data());
    for (Index i = 0; i < n; ++i) {
      const double v = x[i];
      const double want =
          k == GeluKind::tanh
              ? 0.5 * v *
                    (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v)))
              : 0.5 * v * (1 + std::erf(v / std::numbers::sqrt2));
      EXPECT_NEAR(y[i], want, 1e-12);
    }
    auto loss = [&]() {
      std::vector<double> yy(n);
      gelu_forward(k, x.data(), n, yy.data());
      return dot(yy, dy);
    };
    std::vector<double> dx(n);
    gelu_backward(k, x.data(), dy.data(), n, dx.data());
    EXPECT_LT(fd_error(x, loss, dx), 1e-8);
  }
}

TEST(NnEmbedding, ScatterAddsRepeatedTokens) {
  const Index n = 6, C = 3, V = 4, P = 6;
  const std::int32_t tok[n] = {1, 3, 1, 0, 1, 2};
  const Index pos[n] = {0, 1, 2, 3, 4, 5};
  auto E = randn(V * C, 41), Pm = randn(P * C, 42), dxv = randn(n * C, 43);
  std::vector<double> x(n * C);
  embedding_forward(tok, pos, n, C, E.data(), Pm.data(), x.data());
  for (Index t = 0; t < n; ++t)
    for (Index c = 0; c < C; ++c) EXPECT_DOUBLE_EQ(x[t * C + c], E[tok[t] * C + c] + Pm[t * C + c]);
  auto loss = [&]() {
    std::vector<double> xx(n * C);
    embedding_forward(tok, pos, n, C, E.data(), Pm.data(), xx.data());
    return dot(xx, dxv);
  };
  std::vector<double> dE(V * C, 0.0), dP(P * C, 0.0);
  embedding_backward(tok, pos, n, C, dxv.data(), dE.data(), dP.data());
  EXPECT_LT(fd_error(E, loss, dE), 1e-9);
  EXPECT_LT(fd_error(Pm, loss, dP), 1e-9);
}

TEST(NnRope, RotationIsOrthogonalAndMatchesDefinition) {
  const Index n = 5, d = 8;
  RopeTable rope(16, d);
  auto x = randn(n * d, 51);
  std::vector<double> y = x;
  rope.rotate(y.data(), n, 3);
  for (Index t = 0; t < n; ++t)
    for (Index i = 0; i < d / 2; ++i) {
      const double th = (3 + t) * std::pow(10000.0, -2.0 * i / d);
      const double a = x[t * d + i], b = x[t * d + i + d / 2];
      EXPECT_NEAR(y[t * d + i], a * std::cos(th) - b * std::sin(th), 1e-12);
      EXPECT_NEAR(y[t * d + i + d / 2], a * std::sin(th) + b * std::cos(th), 1e-12);
    }
  rope.rotate_back(y.data(), n, 3);
  for (Index i = 0; i < n * d; ++i) EXPECT_NEAR(y[i], x[i], 1e-12);
  // rotate_back is the transpose: <R x, g> = <x, Rᵀ g>.
  auto g = randn(n * d, 52);
  std::vector<double> rx = x, rtg = g;
  rope.rotate(rx.data(), n, 0);
  rope.rotate_back(rtg.data(), n, 0);
  EXPECT_NEAR(dot(rx, g), dot(x, rtg), 1e-10);
  EXPECT_THROW(rope.rotate(y.data(), n, 12), UsageError);
  EXPECT_THROW(RopeTable(4, 7), UsageError);
}

TEST(NnTiedXent, LossAndGradientsMatchFiniteDifferences) {
  const Index n = 7, C = 5, V = 9;
  auto h = randn(n * C, 61), E = randn(V * C, 62);
  const std::int32_t targets[n] = {3, -1, 0, 8, 8, 2, -1};
  auto loss = [&]() { return tied_softmax_xent(h.data(), n, C, E.data(), V, targets) / 5.0; };
  // Direct definition.
  double want = 0;
  for (Index t = 0; t < n; ++t) {
    if (targets[t] < 0) continue;
    std::vector<double> z(V);
    double mx = -1e300;
    for (Index v = 0; v < V; ++v) {
      z[v] = 0;
      for (Index c = 0; c < C; ++c) z[v] += h[t * C + c] * E[v * C + c];
      mx = std::max(mx, z[v]);
    }
    double s = 0;
    for (double zv : z) s += std::exp(zv - mx);
    want += mx + std::log(s) - z[targets[t]];
  }
  std::vector<double> rows;
  EXPECT_NEAR(tied_softmax_xent(h.data(), n, C, E.data(), V, targets, 0.0, (double*)nullptr,
                                (double*)nullptr, &rows),
              want, 1e-10);
  EXPECT_TRUE(std::isnan(rows[1]));
  std::vector<double> dh(n * C), dE(V * C, 0.0);
  tied_softmax_xent(h.data(), n, C, E.data(), V, targets, 1.0 / 5.0, dh.data(), dE.data());
  EXPECT_LT(fd_error(h, loss, dh), 1e-8);
  EXPECT_LT(fd_error(E, loss, dE), 1e-8);
  for (Index c = 0; c < C; ++c) EXPECT_EQ(dh[1 * C + c], 0.0);  // unscored row
}

TEST(NnTiedXent, ChunkedLargeVocabularyEqualsOneChunk) {
  // V large enough that rows are processed in several chunks.
  const Index n = 40, C = 4, V = 70000;
  auto hd = randn(n * C, 71), Ed = randn(V * C, 72, 0.1);
  std::vector<std::int32_t> targets(n);
  for (Index t = 0; t < n; ++t) targets[t] = static_cast<std::int32_t>((t * 7919) % V);
  std::vector<double> rows;
  const double total = tied_softmax_xent(hd.data(), n, C, Ed.data(), V, targets.data(), 0.0,
                                         (double*)nullptr, (double*)nullptr, &rows);
  double sum = 0;
  for (Index t = 0; t < n; ++t) {
    const double one = tied_softmax_xent(hd.data() + t * C, 1, C, Ed.data(), V, &targets[t]);
    EXPECT_NEAR(rows[t], one, 1e-9);
    sum += one;
  }
  EXPECT_NEAR(total, sum, 1e-8);
}

TEST(NnAdamW, StepMatchesFormulaWithGroups) {
  const std::size_t P = 6;
  std::vector<double> p = {0.5, -1.0, 2.0, 0.1, -0.3, 0.7}, g = {0.2, -0.1, 0.4, 1.0, -0.5, 0.3};
  AdamWOptions o;
  o.lr = 0.01;
  o.beta1 = 0.9;
  o.beta2 = 0.95;
  o.eps = 1e-8;
  o.weight_decay = 0.1;
  AdamW<double> opt(P, o);
  opt.add_group({0, 2, true, false, false, "matrix"});
  opt.add_group({2, 2, false, false, false, "bias"});
  opt.add_group({4, 1, false, true, false, "frozen"});
  opt.add_group({5, 1, false, false, true, "rate"});
  EXPECT_THROW(opt.add_group({1, 2, false, false, false, "overlap"}), UsageError);
  EXPECT_THROW(opt.add_group({5, 2, false, false, false, "past end"}), UsageError);
  std::vector<double> want = p, m(P, 0), v(P, 0);
  for (int t = 1; t <= 3; ++t) {
    const double lr = 0.01 * t;
    opt.step(p.data(), g.data(), lr);
    for (std::size_t i = 0; i < P; ++i) {
      if (i == 4) continue;
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
      const double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.95, t));
      want[i] = want[i] * (1 - lr * (i < 2 ? 0.1 : 0.0)) - lr * mh / (std::sqrt(vh) + 1e-8);
      if (i == 5) want[i] = std::max(want[i], 0.0);
    }
  }
  for (std::size_t i = 0; i < P; ++i) EXPECT_NEAR(p[i], want[i], 1e-12) << i;
  EXPECT_EQ(p[4], -0.3);
  EXPECT_EQ(opt.steps(), 3);
}

TEST(NnAdamW, ScheduleAndClipping) {
  CosineSchedule s{1e-3, 1e-4, 10, 110};
  EXPECT_DOUBLE_EQ(cosine_lr(s, 1), 1e-4);
  EXPECT_DOUBLE_EQ(cosine_lr(s, 10), 1e-3);
  EXPECT_NEAR(cosine_lr(s, 60), 0.5 * (1e-3 + 1e-4), 1e-15);
  EXPECT_DOUBLE_EQ(cosine_lr(s, 110), 1e-4);
  EXPECT_DOUBLE_EQ(cosine_lr(s, 500), 1e-4);
  for (std::int64_t t = 11; t < 110; ++t) EXPECT_LE(cosine_lr(s, t + 1), cosine_lr(s, t));
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 1.0), 5.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-7);
  EXPECT_NEAR(g[1], 0.8f, 1e-7);
  EXPECT_NEAR(clip_grad_norm(g.data(), 2, 10.0), 1.0, 1e-6);
  EXPECT_THROW(AdamW<float>(3, AdamWOptions{.lr = 1e-3, .beta1 = 1.0}), UsageError);
}

}  // namespace
}  // namespace attnlab::nn
