// attnlab/nn/mlp_attn.hpp — "MLP-Attn": parameter-free linearized attention, then 2L-ReLU.
//
//   f(x) = mlp(normalize(C x)),   C = XᵀX of the training set X [n, D] (unit rows)
//
// (SCIENCE.md §2.) The attention has no trainable parameters, so MLP-Attn is a TwoLayerRelu on
// fixed, data-dependent features: its parameters are the MLP's W, its empirical NTK is the ReLU
// NTK evaluated on the features, and training it is exactly training mlp() on features(X)
// (studies do that, computing the features once). Test points map with the same C.
//
// Gradients with respect to inputs come in two kinds:
//   * backward(..., d_x): ∂/∂x with C fixed — the model as a function of its input;
//   * context_backward(...): ∂/∂X_train through C = XᵀX — the transductive path where a change in
//     one training point changes C and therefore every point's features.
//
// Usage:
//   MlpAttn net(x_train, TwoLayerRelu::random(D, 1024, C, {.w_std = 1.0}, seed));
//   MatrixD f_train = net.features(x_train);        // [n, D] = normalize(x_train C)
//   MatrixD out = net.forward(x_test);              // [n_test, C]
#pragma once

#include <utility>

#include "attnlab/nn/attention_features.hpp"
#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab::nn {

class MlpAttn final : public Model {
 public:
  // Builds C from the context rows [n, D]; the MLP's input dim must equal D.
  MlpAttn(const MatrixD& context, TwoLayerRelu mlp);
  MlpAttn(LinearAttentionFeatures attention, TwoLayerRelu mlp);

  std::string name() const override { return "attn"; }
  Index input_dim() const override { return attention_.dim(); }
  Index output_dim() const override { return mlp_.output_dim(); }
  Index num_params() const override { return mlp_.num_params(); }
  Index width() const { return mlp_.width(); }

  ParamMap params() override { return mlp_.params(); }
  ConstParamMap params() const override { return mlp_.params(); }

  const LinearAttentionFeatures& attention() const { return attention_; }
  // Replaces the context (e.g. after perturbing the training set); the MLP is kept.
  void set_context(const MatrixD& context);
  const TwoLayerRelu& mlp() const { return mlp_; }
  TwoLayerRelu& mlp() { return mlp_; }

  // normalize(x C): [B, D] -> [B, D].
  MatrixD features(const MatrixD& x) const { return attention_.features(x); }

  MatrixD forward(const MatrixD& x) const override;
  MatrixD forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const override;
  void backward(const ModelCache& cache, const MatrixD& d_out, VectorD* d_params,
                MatrixD* d_x) const override;
  // ∂s/∂context [n, D] for s = Σ d_out ⊙ f(x) through C = contextᵀcontext (x held fixed).
  // `context` must be the rows C was built from.
  MatrixD context_backward(const ModelCache& cache, const MatrixD& d_out,
                           const MatrixD& context) const;
  std::unique_ptr<Model> clone() const override { return std::make_unique<MlpAttn>(*this); }

 private:
  LinearAttentionFeatures attention_;
  TwoLayerRelu mlp_;
};

// A model on raw (e.g. [0, 1] pixel) rows: x -> inner(x / ‖x‖). Attacks act in pixel space
// before normalization (SCIENCE.md §0), so their input gradients go through this wrapper.
class NormalizedInput final : public Model {
 public:
  explicit NormalizedInput(std::unique_ptr<Model> inner);
  NormalizedInput(const NormalizedInput& other) : inner_(other.inner_->clone()) {}

  std::string name() const override { return inner_->name(); }
  Index input_dim() const override { return inner_->input_dim(); }
  Index output_dim() const override { return inner_->output_dim(); }
  Index num_params() const override { return inner_->num_params(); }
  ParamMap params() override { return inner_->params(); }
  ConstParamMap params() const override { return std::as_const(*inner_).params(); }
  const Model& inner() const { return *inner_; }
  Model& inner() { return *inner_; }

  MatrixD forward(const MatrixD& x) const override;
  MatrixD forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const override;
  void backward(const ModelCache& cache, const MatrixD& d_out, VectorD* d_params,
                MatrixD* d_x) const override;
  std::unique_ptr<Model> clone() const override { return std::make_unique<NormalizedInput>(*this); }

 private:
  std::unique_ptr<Model> inner_;
};

}  // namespace attnlab::nn
