// attnlab/nn/model.hpp — the interface every small attnlab network implements.
//
// A Model is a differentiable map f: R^D -> R^C applied row-wise to a batch X [B, D], with a flat
// vector of P trainable parameters. The interface is deliberately small so that studies can
//   * train any model (nn/train.hpp) through forward + backward on flat parameter gradients,
//   * build its empirical NTK from per-example parameter gradients (nn/jacobian.hpp), the oracle
//     for every structured kernel formula in analysis/ntk,
//   * differentiate a loss with respect to the INPUTS (adversarial attacks, data sensitivity:
//     backward() returns dL/dX when asked),
//   * clone it (retraining from the same initialization, leave-one-out, perturbed copies).
//
// Contract:
//   * forward(x) is a pure function of (parameters, x); forward(x, cache) returns the same values
//     and stores what backward needs. Rows are independent: output row b depends on x row b only
//     (models whose features depend on a training SET, like MlpAttn, hold that set as state).
//   * backward(cache, d_out, d_params, d_x) computes, for the scalar s = Σ_{b,c}
//   d_out[b,c]·f_c(x_b),
//     d_params = ∂s/∂θ [P] (overwritten, not accumulated) and d_x = ∂s/∂X [B, D]; either pointer
//     may be null. The parameter vector and its gradient use the same flat layout as params().
//   * All values are fp64 unless a model documents a faster GEMM precision option.
//
// Usage:
//   std::unique_ptr<ModelCache> cache;
//   MatrixD out = model.forward(x, cache);            // [B, C]
//   MatrixD d_out = out - targets;                    // dL/dout for L = ½‖out − y‖²
//   VectorD g(model.num_params());  MatrixD dx;
//   model.backward(*cache, d_out, &g, &dx);           // g [P], dx [B, D]
//   model.params() -= 0.1 * g;                        // a gradient step on the flat view
#pragma once

#include <memory>
#include <string>

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

using ParamMap = Eigen::Map<VectorD>;
using ConstParamMap = Eigen::Map<const VectorD>;

// Whatever a model's forward pass keeps for its backward pass.
class ModelCache {
 public:
  virtual ~ModelCache() = default;
};

class Model {
 public:
  virtual ~Model() = default;

  virtual std::string name() const = 0;  // e.g. "relu" or "attn"
  virtual Index input_dim() const = 0;   // D
  virtual Index output_dim() const = 0;  // C
  virtual Index num_params() const = 0;  // P (trainable parameters only)

  // Flat views of the trainable parameters [P] (valid until the model is destroyed).
  virtual ParamMap params() = 0;
  virtual ConstParamMap params() const = 0;

  // x [B, D] -> [B, C].
  virtual MatrixD forward(const MatrixD& x) const = 0;
  virtual MatrixD forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const = 0;
  // d_out [B, C]; d_params [P] (resized), d_x [B, D] (resized); either may be null.
  virtual void backward(const ModelCache& cache, const MatrixD& d_out, VectorD* d_params,
                        MatrixD* d_x) const = 0;

  virtual std::unique_ptr<Model> clone() const = 0;
};

// Throws UsageError naming `fn` when x does not have model.input_dim() columns or is empty.
void check_model_input(const Model& model, const MatrixD& x, const char* fn);

// forward() in row blocks of `block` rows (bounded memory for large evaluation sets) -> [B, C].
MatrixD predict(const Model& model, const MatrixD& x, Index block = 4096);

// Row-wise argmax of outputs [B, C] (C ≥ 2), or the sign class (output > 0 -> 1) when C == 1.
std::vector<int> predicted_classes(const MatrixD& outputs);
// Share of rows whose predicted class equals labels[b].
double accuracy(const MatrixD& outputs, const std::vector<int>& labels);

}  // namespace attnlab::nn
