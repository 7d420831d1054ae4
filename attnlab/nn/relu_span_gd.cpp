#include "attnlab/nn/relu_span_gd.hpp"

#include <cmath>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"

namespace attnlab::nn {
TrainResult train_gd_span(TwoLayerRelu& net, const MatrixD& x, const Targets& targets,
                          const SpanGdConfig& c, const EpochCallback& on_step) {
  check_model_input(net, x, "train_gd_span");
  const Index n = x.rows(), D = x.cols(), m = net.width(), C = net.output_dim();
  if (n < 1) throw UsageError("train_gd_span: no training rows");
  if (targets.rows() != n || targets.outputs() != C) {
    throw UsageError(str_cat("train_gd_span: targets are [", targets.rows(), ", ",
                             targets.outputs(), "], need [", n, ", ", C, "]"));
  }
  if (!(c.lr > 0.0) || !std::isfinite(c.lr) || c.max_steps < 0 || !(c.loss_tolerance >= 0.0) ||
      c.history_every < 0) {
    throw UsageError(str_cat("train_gd_span: need lr > 0, max_steps >= 0, tolerance >= 0, got lr=",
                             c.lr, " max_steps=", c.max_steps, " tolerance=", c.loss_tolerance));
  }
  Timer timer;
  const MatrixD& a = net.a();
  // H0 [n, m] = X W0ᵀ ; G [n, n] = X Xᵀ
  MatrixD h0(n, m), g(n, n);
  gemm(Trans::no, Trans::yes, n, m, D, 1.0, x.data(), D, net.w().data(), D, 0.0, h0.data(), m);
  gemm(Trans::no, Trans::yes, n, n, D, 1.0, x.data(), D, x.data(), D, 0.0, g.data(), n);
  const bool fp32 = c.precision == GemmPrecision::fp32;
  const MatrixF gf = fp32 ? MatrixF(g.cast<float>()) : MatrixF();
  MatrixD p = MatrixD::Zero(n, m);  // [n, m] span coefficients (Pᵀ of W = W0 + Pᵀ X)
  MatrixF pf = fp32 ? MatrixF(MatrixF::Zero(n, m)) : MatrixF();  // fp32 copy of p
  MatrixD gp(fp32 ? 0 : n, fp32 ? 0 : m);                        // [n, m] G P (fp64)
  MatrixF gpf(fp32 ? n : 0, fp32 ? m : 0);                       // [n, m] G P (fp32)
  MatrixD act(n, m), d_out, dh(n, m);
  const Index total = n * m;
  const double scale = 1.0 / std::sqrt(static_cast<double>(m));

  TrainResult r;
  double loss = 0.0;
  for (Index step = 0;; ++step) {
    // act = relu(H0 + G P)  (one fused pass over [n, m])
    if (fp32) {
      gemm(Trans::no, Trans::no, n, m, n, 1.0f, gf.data(), n, pf.data(), m, 0.0f, gpf.data(), m);
      const double* h0p = h0.data();
      const float* gpp = gpf.data();
      double* ap = act.data();
      for (Index i = 0; i < total; ++i) {
        const double h = h0p[i] + static_cast<double>(gpp[i]);
        ap[i] = h > 0.0 ? h : 0.0;
      }
    } else {
      gemm(Trans::no, Trans::no, n, m, n, 1.0, g.data(), n, p.data(), m, 0.0, gp.data(), m);
      const double* h0p = h0.data();
      const double* gpp = gp.data();
      double* ap = act.data();
      for (Index i = 0; i < total; ++i) {
        const double h = h0p[i] + gpp[i];
        ap[i] = h > 0.0 ? h : 0.0;
      }
    }
    MatrixD out(n, C);
    gemm(Trans::no, Trans::no, n, C, m, scale, act.data(), m, a.data(), C, 0.0, out.data(), C);
    loss = mse_loss(out, targets.values, &d_out);
    if (!std::isfinite(loss)) {
      throw NumericError(str_cat("train_gd_span: loss became ", loss, " at step ", step,
                                 " (lr=", c.lr, "); lower the learning rate"));
    }
    if (step == 0) r.initial_loss = loss;
    if (step == c.max_steps) break;
    if (c.loss_tolerance > 0.0 && loss < c.loss_tolerance) {
      r.reached_tolerance = true;
      break;
    }
    if (c.history_every > 0 && step % c.history_every == 0) {
      r.history_epoch.push_back(step);
      r.history_loss.push_back(loss);
    }
    // dA [n, m] = m^{-1/2} d_out aᵀ;  P ← P − η dA ⊙ 1[H > 0]  (H > 0 exactly where act > 0)
    gemm(Trans::no, Trans::yes, n, m, C, scale, d_out.data(), C, a.data(), C, 0.0, dh.data(), m);
    const double* ap = act.data();
    const double* dp = dh.data();
    double* pp = p.data();
    float* pfp = fp32 ? pf.data() : nullptr;
    const double lr = c.lr;
    for (Index i = 0; i < total; ++i) {
      if (ap[i] > 0.0) {
        pp[i] -= lr * dp[i];
        if (pfp) pfp[i] = static_cast<float>(pp[i]);
      }
    }
    r.steps = step + 1;
    r.epochs = r.steps;
    if (on_step) on_step(r.steps, loss);
  }
  r.final_loss = loss;
  // W_T [m, D] = W0 + Pᵀ X
  gemm(Trans::yes, Trans::no, m, D, n, 1.0, p.data(), m, x.data(), D, 1.0, net.w().data(), D);
  r.seconds = timer.seconds();
  return r;
}

}  // namespace attnlab::nn
