// attnlab/nn/two_layer_relu.hpp — the 2-layer ReLU network of the NTK studies ("2L-ReLU").
//
//   f(x) = m^{-1/2} · aᵀ relu(W x)        W [m, D] trained,  a [m, C] fixed (entries ±1)
//
// (SCIENCE.md §2; Du et al. 2019's network with C outputs.) Only the first layer is trained, so
// the parameter vector is W in row-major order (P = m·D), and the empirical NTK per output pair is
//   Θ_cc'(x, x') = (xᵀx') · (1/m) Σ_r a_rc a_rc' 1[w_rᵀx > 0] 1[w_rᵀx' > 0],
// which analysis/ntk computes with two GEMMs. relu'(0) is taken as 0 (the indicator 1[h > 0])
// everywhere: forward, backward and the structured kernel agree on it.
//
// Initialization (TwoLayerRelu::random, seeded, deterministic):
//   * w_r ~ N(0, w_std² I): w_std = 1 is the NTK parameterization (arm B), 0.01 the paper's
//     recipe (arm A). W is drawn from Rng::stream(seed, 1) row by row and a from
//     Rng::stream(seed, 2), so two inits with the same seed and different w_std have the same
//     directions (common random numbers) and the same a.
//   * antisymmetric = true (m even): rows r and r + m/2 share w_r and have opposite a, so
//     f_0 ≡ 0 (up to summation rounding, ~1e-16) while each w_r is still N(0, w_std² I) (the
//     "doubling trick"). Under GD on MSE the lazy limit is then exactly kernel regression from
//     zero, with no random f_0 term. Its Θ_0 averages m/2 independent neurons instead of m.
//
// Precision: fp64 by default. set_gemm_precision(GemmPrecision::fp32) runs the two large GEMMs
// (X Wᵀ and dHᵀ X) in fp32 with fp64 parameters and outputs — about twice as fast for training;
// finite-difference tests and kernels use fp64.
//
// Usage:
//   TwoLayerRelu net = TwoLayerRelu::random(/*D=*/784, /*m=*/1024, /*C=*/10, {.w_std = 1.0}, 7);
//   MatrixD out = net.forward(x);                  // x [B, 784] unit rows -> [B, 10]
//   MatrixD h = net.preactivations(x);             // [B, m] = X Wᵀ
#pragma once

#include <cstdint>

#include "attnlab/nn/model.hpp"

namespace attnlab::nn {

enum class GemmPrecision { fp64, fp32 };

struct TwoLayerReluInit {
  double w_std = 1.0;          // w_r ~ N(0, w_std² I)
  bool antisymmetric = false;  // rows r, r + m/2 tied with opposite a: f_0 ≡ 0 (m must be even)
};

class TwoLayerRelu final : public Model {
 public:
  // w [m, D], a [m, C]; m, D, C ≥ 1; finite entries (UsageError otherwise).
  TwoLayerRelu(MatrixD w, MatrixD a);
  static TwoLayerRelu random(Index input_dim, Index width, Index outputs,
                             const TwoLayerReluInit& init, std::uint64_t seed);

  std::string name() const override { return "relu"; }
  Index input_dim() const override { return w_.cols(); }
  Index output_dim() const override { return a_.cols(); }
  Index num_params() const override { return w_.size(); }
  Index width() const { return w_.rows(); }

  ParamMap params() override { return ParamMap(w_.data(), w_.size()); }
  ConstParamMap params() const override { return ConstParamMap(w_.data(), w_.size()); }

  const MatrixD& w() const { return w_; }  // [m, D]
  MatrixD& w() { return w_; }              // [m, D]
  const MatrixD& a() const { return a_; }  // [m, C]

  void set_gemm_precision(GemmPrecision p) { precision_ = p; }
  GemmPrecision gemm_precision() const { return precision_; }

  // H = X Wᵀ: [B, D] -> [B, m] (always fp64).
  MatrixD preactivations(const MatrixD& x) const;

  MatrixD forward(const MatrixD& x) const override;
  MatrixD forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const override;
  void backward(const ModelCache& cache, const MatrixD& d_out, VectorD* d_params,
                MatrixD* d_x) const override;
  std::unique_ptr<Model> clone() const override { return std::make_unique<TwoLayerRelu>(*this); }

 private:
  MatrixD w_;  // [m, D]
  MatrixD a_;  // [m, C]
  GemmPrecision precision_ = GemmPrecision::fp64;
};

}  // namespace attnlab::nn
