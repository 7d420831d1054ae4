#include "attnlab/nn/two_layer_relu.hpp"

#include <cmath>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::nn {
namespace {

struct ReluCache final : ModelCache {
  MatrixD x;   // [B, D]
  MatrixF xf;  // [B, D], fp32 mode only
  MatrixD h;   // [B, m] pre-activations
};

void check_finite(const MatrixD& m, const char* what) {
  for (Index i = 0; i < m.size(); ++i) {
    if (!std::isfinite(m.data()[i])) {
      throw UsageError(
          str_cat("TwoLayerRelu: ", what, " has a non-finite entry at flat index ", i));
    }
  }
}

// H [B, m] = X [B, D] · Wᵀ in the requested precision.
MatrixD compute_preactivations(const MatrixD& x, const MatrixF* xf, const MatrixD& w,
                               GemmPrecision p) {
  const Index B = x.rows(), D = x.cols(), m = w.rows();
  MatrixD h(B, m);
  if (p == GemmPrecision::fp64) {
    gemm(Trans::no, Trans::yes, B, m, D, 1.0, x.data(), D, w.data(), D, 0.0, h.data(), m);
  } else {
    const MatrixF wf = w.cast<float>();
    MatrixF hf(B, m);
    gemm(Trans::no, Trans::yes, B, m, D, 1.0f, xf->data(), D, wf.data(), D, 0.0f, hf.data(), m);
    h = hf.cast<double>();
  }
  return h;
}

// out [B, C] = m^{-1/2} relu(H) a.
MatrixD output_from_preactivations(const MatrixD& h, const MatrixD& a) {
  const Index B = h.rows(), m = h.cols(), C = a.cols();
  MatrixD act(B, m);
  const Index total = B * m;
  const double* hp = h.data();
  double* ap = act.data();
  for (Index i = 0; i < total; ++i) ap[i] = hp[i] > 0.0 ? hp[i] : 0.0;
  MatrixD out(B, C);
  gemm(Trans::no, Trans::no, B, C, m, 1.0 / std::sqrt(static_cast<double>(m)), act.data(), m,
       a.data(), C, 0.0, out.data(), C);
  return out;
}

}  // namespace

TwoLayerRelu::TwoLayerRelu(MatrixD w, MatrixD a) : w_(std::move(w)), a_(std::move(a)) {
  if (w_.rows() < 1 || w_.cols() < 1 || a_.cols() < 1) {
    throw UsageError(str_cat("TwoLayerRelu: need m, D, C >= 1, got W [", w_.rows(), ", ", w_.cols(),
                             "] and a [", a_.rows(), ", ", a_.cols(), "]"));
  }
  if (a_.rows() != w_.rows()) {
    throw UsageError(str_cat("TwoLayerRelu: W [", w_.rows(), ", ", w_.cols(), "] and a [",
                             a_.rows(), ", ", a_.cols(), "] disagree on the width m"));
  }
  check_finite(w_, "W");
  check_finite(a_, "a");
}

TwoLayerRelu TwoLayerRelu::random(Index input_dim, Index width, Index outputs,
                                  const TwoLayerReluInit& init, std::uint64_t seed) {
  if (input_dim < 1 || width < 1 || outputs < 1) {
    throw UsageError(str_cat("TwoLayerRelu::random: need D, m, C >= 1, got D=", input_dim,
                             " m=", width, " C=", outputs));
  }
  if (!(init.w_std > 0.0) || !std::isfinite(init.w_std)) {
    throw UsageError(str_cat("TwoLayerRelu::random: w_std must be > 0, got ", init.w_std));
  }
  if (init.antisymmetric && width % 2 != 0) {
    throw UsageError(
        str_cat("TwoLayerRelu::random: antisymmetric init needs an even width, got m=", width));
  }
  MatrixD w(width, input_dim);
  MatrixD a(width, outputs);
  Rng w_rng = Rng::stream(seed, 1);
  Rng a_rng = Rng::stream(seed, 2);
  const Index drawn = init.antisymmetric ? width / 2 : width;
  w_rng.fill_normal(w.data(), drawn * input_dim, 0.0, init.w_std);
  for (Index r = 0; r < drawn; ++r)
    for (Index c = 0; c < outputs; ++c) a(r, c) = (a_rng.next_u64() >> 63) ? 1.0 : -1.0;
  if (init.antisymmetric) {
    w.bottomRows(drawn) = w.topRows(drawn);
    a.bottomRows(drawn) = -a.topRows(drawn);
  }
  return TwoLayerRelu(std::move(w), std::move(a));
}

MatrixD TwoLayerRelu::preactivations(const MatrixD& x) const {
  check_model_input(*this, x, "TwoLayerRelu::preactivations");
  return compute_preactivations(x, nullptr, w_, GemmPrecision::fp64);
}

MatrixD TwoLayerRelu::forward(const MatrixD& x) const {
  check_model_input(*this, x, "TwoLayerRelu::forward");
  MatrixF xf;
  if (precision_ == GemmPrecision::fp32) xf = x.cast<float>();
  return output_from_preactivations(compute_preactivations(x, &xf, w_, precision_), a_);
}

MatrixD TwoLayerRelu::forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const {
  check_model_input(*this, x, "TwoLayerRelu::forward");
  auto c = std::make_unique<ReluCache>();
  c->x = x;
  if (precision_ == GemmPrecision::fp32) c->xf = x.cast<float>();
  c->h = compute_preactivations(x, &c->xf, w_, precision_);
  MatrixD out = output_from_preactivations(c->h, a_);
  cache = std::move(c);
  return out;
}

void TwoLayerRelu::backward(const ModelCache& cache_base, const MatrixD& d_out, VectorD* d_params,
                            MatrixD* d_x) const {
  const auto* cache = dynamic_cast<const ReluCache*>(&cache_base);
  if (cache == nullptr) throw Error("TwoLayerRelu::backward: cache from a different model");
  const Index B = cache->x.rows(), D = input_dim(), m = width(), C = output_dim();
  if (d_out.rows() != B || d_out.cols() != C) {
    throw UsageError(str_cat("TwoLayerRelu::backward: d_out must be [", B, ", ", C, "], got [",
                             d_out.rows(), ", ", d_out.cols(), "]"));
  }
  // dH [B, m] = (m^{-1/2} d_out aᵀ) ⊙ 1[H > 0]
  MatrixD dh(B, m);
  gemm(Trans::no, Trans::yes, B, m, C, 1.0 / std::sqrt(static_cast<double>(m)), d_out.data(), C,
       a_.data(), C, 0.0, dh.data(), m);
  const Index total = B * m;
  const double* hp = cache->h.data();
  double* dp = dh.data();
  for (Index i = 0; i < total; ++i)
    if (!(hp[i] > 0.0)) dp[i] = 0.0;

  const bool fp32 = precision_ == GemmPrecision::fp32 && cache->xf.size() == cache->x.size();
  MatrixF dhf;
  if (fp32) dhf = dh.cast<float>();
  if (d_params != nullptr) {
    // dW [m, D] = dHᵀ X
    d_params->resize(m * D);
    if (fp32) {
      MatrixF gwf(m, D);
      gemm(Trans::yes, Trans::no, m, D, B, 1.0f, dhf.data(), m, cache->xf.data(), D, 0.0f,
           gwf.data(), D);
      *d_params = Eigen::Map<const VectorF>(gwf.data(), m * D).cast<double>();
    } else {
      gemm(Trans::yes, Trans::no, m, D, B, 1.0, dh.data(), m, cache->x.data(), D, 0.0,
           d_params->data(), D);
    }
  }
  if (d_x != nullptr) {
    // dX [B, D] = dH W
    d_x->resize(B, D);
    gemm(Trans::no, Trans::no, B, D, m, 1.0, dh.data(), m, w_.data(), D, 0.0, d_x->data(), D);
  }
}

}  // namespace attnlab::nn
