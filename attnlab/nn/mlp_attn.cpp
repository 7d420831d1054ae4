#include "attnlab/nn/mlp_attn.hpp"

#include <utility>

#include "attnlab/core/error.hpp"
#include "attnlab/nn/row_normalize.hpp"

namespace attnlab::nn {
namespace {

struct AttnCache final : ModelCache {
  LinearAttentionFeatures::Cache features;
  std::unique_ptr<ModelCache> mlp;
};

struct NormalizedCache final : ModelCache {
  MatrixD unit;   // [B, D]
  VectorD norms;  // [B]
  std::unique_ptr<ModelCache> inner;
};

}  // namespace

MlpAttn::MlpAttn(const MatrixD& context, TwoLayerRelu mlp)
    : MlpAttn(LinearAttentionFeatures(context), std::move(mlp)) {}

MlpAttn::MlpAttn(LinearAttentionFeatures attention, TwoLayerRelu mlp)
    : attention_(std::move(attention)), mlp_(std::move(mlp)) {
  if (attention_.dim() != mlp_.input_dim()) {
    throw UsageError(str_cat("MlpAttn: attention dim D=", attention_.dim(),
                             " differs from the MLP input dim ", mlp_.input_dim()));
  }
}

void MlpAttn::set_context(const MatrixD& context) {
  LinearAttentionFeatures a(context);
  if (a.dim() != mlp_.input_dim()) {
    throw UsageError(str_cat("MlpAttn::set_context: context has D=", a.dim(),
                             " columns, the MLP expects ", mlp_.input_dim()));
  }
  attention_ = std::move(a);
}

MatrixD MlpAttn::forward(const MatrixD& x) const {
  check_model_input(*this, x, "MlpAttn::forward");
  return mlp_.forward(attention_.features(x));
}

MatrixD MlpAttn::forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const {
  check_model_input(*this, x, "MlpAttn::forward");
  auto c = std::make_unique<AttnCache>();
  const MatrixD f = attention_.features(x, c->features);
  MatrixD out = mlp_.forward(f, c->mlp);
  cache = std::move(c);
  return out;
}

void MlpAttn::backward(const ModelCache& cache_base, const MatrixD& d_out, VectorD* d_params,
                       MatrixD* d_x) const {
  const auto* cache = dynamic_cast<const AttnCache*>(&cache_base);
  if (cache == nullptr) throw Error("MlpAttn::backward: cache from a different model");
  if (d_x == nullptr) {
    mlp_.backward(*cache->mlp, d_out, d_params, nullptr);
    return;
  }
  MatrixD d_feat;
  mlp_.backward(*cache->mlp, d_out, d_params, &d_feat);
  attention_.backward(cache->features, d_feat, d_x, nullptr);
}

MatrixD MlpAttn::context_backward(const ModelCache& cache_base, const MatrixD& d_out,
                                  const MatrixD& context) const {
  const auto* cache = dynamic_cast<const AttnCache*>(&cache_base);
  if (cache == nullptr) throw Error("MlpAttn::context_backward: cache from a different model");
  if (context.cols() != input_dim()) {
    throw UsageError(str_cat("MlpAttn::context_backward: context needs D=", input_dim(),
                             " columns, got [", context.rows(), ", ", context.cols(), "]"));
  }
  MatrixD d_feat, d_c;
  mlp_.backward(*cache->mlp, d_out, nullptr, &d_feat);
  attention_.backward(cache->features, d_feat, nullptr, &d_c);
  return LinearAttentionFeatures::context_gradient(context, d_c);
}

NormalizedInput::NormalizedInput(std::unique_ptr<Model> inner) : inner_(std::move(inner)) {
  if (!inner_) throw UsageError("NormalizedInput: inner model is null");
}

MatrixD NormalizedInput::forward(const MatrixD& x) const {
  check_model_input(*this, x, "NormalizedInput::forward");
  VectorD norms;
  return inner_->forward(normalize_rows_forward(x, norms, "NormalizedInput"));
}

MatrixD NormalizedInput::forward(const MatrixD& x, std::unique_ptr<ModelCache>& cache) const {
  check_model_input(*this, x, "NormalizedInput::forward");
  auto c = std::make_unique<NormalizedCache>();
  c->unit = normalize_rows_forward(x, c->norms, "NormalizedInput");
  MatrixD out = inner_->forward(c->unit, c->inner);
  cache = std::move(c);
  return out;
}

void NormalizedInput::backward(const ModelCache& cache_base, const MatrixD& d_out,
                               VectorD* d_params, MatrixD* d_x) const {
  const auto* cache = dynamic_cast<const NormalizedCache*>(&cache_base);
  if (cache == nullptr) throw Error("NormalizedInput::backward: cache from a different model");
  if (d_x == nullptr) {
    inner_->backward(*cache->inner, d_out, d_params, nullptr);
    return;
  }
  MatrixD d_unit;
  inner_->backward(*cache->inner, d_out, d_params, &d_unit);
  *d_x = normalize_rows_backward(cache->unit, cache->norms, d_unit);
}

}  // namespace attnlab::nn
