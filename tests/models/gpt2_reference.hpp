// tests/models/gpt2_reference.hpp — an fp64 GPT-2 forward written independently of
// attnlab/models/gpt2/model.cpp, the oracle of the model tests; and small test models.
//
// Everything is double: embeddings, LayerNorm (population variance), Conv1D linears as plain
// matrix products, heads split from [n, 3C], attention by attention_forward_reference (the fp64
// attention oracle, which materializes the maps), GELU tanh, final LayerNorm, tied logits.
//
// Usage:
//   Gpt2Weights w = make_test_weights(test_config(), 7);
//   ReferenceRun r = reference_forward(w, tokens, options);   // r.logits [n, V]
#pragma once

#include <cmath>
#include <cstdlib>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "attnlab/attention/positional.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace attnlab::testing {

using models::gpt2::ForwardOptions;
using models::gpt2::Gpt2Config;
using models::gpt2::Gpt2Weights;
using models::gpt2::PositionMode;

inline bool small_scale() {
  const char* s = std::getenv("ATTNLAB_TEST_SCALE");
  return s && std::string(s) == "small";
}

// A small GPT-2 (L=2, H=4, C=32, ctx 64, V=300): fast, yet every code path is exercised.
inline Gpt2Config test_config() {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.n_positions = 64;
  c.vocab_size = 300;
  return c;
}

// Random GPT-2 weights rescaled so that every part of the block matters at fp32 precision:
// Q/K scaled up so attention maps are peaked (random GPT-2 init alone gives near-uniform maps,
// which would hide masking errors), V/projection/MLP weights scaled so the MLP pre-activations
// are O(1) (GELU far from linear) and each sublayer moves the residual stream by O(1);
// LayerNorm and bias noise so every parameter is exercised.
inline Gpt2Weights make_test_weights(const Gpt2Config& c, std::uint64_t seed,
                                     float qk_gain = 8.0f) {
  Gpt2Weights w = models::gpt2::random_gpt2_weights(c, seed, 0.05);
  const Index C = c.n_embd, F = c.ffn_dim();
  auto scale = [](float* p, Index n, float s) {
    for (Index i = 0; i < n; ++i) p[i] *= s;
  };
  for (Index l = 0; l < c.n_layer; ++l) {
    const auto P = w.layer(l);
    for (Index i = 0; i < C; ++i) {
      scale(P.qkv_w + i * 3 * C, 2 * C, qk_gain);   // Q and K column blocks of row i
      scale(P.qkv_w + i * 3 * C + 2 * C, C, 8.0f);  // V
    }
    scale(P.proj_w, C * C, 20.0f);
    scale(P.fc_w, C * F, 15.0f);
    scale(P.fcproj_w, F * C, 20.0f);
  }
  scale(w.wpe(), c.n_positions * C, 5.0f);
  return w;
}

inline std::vector<std::int32_t> random_tokens(Index n, Index V, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<std::int32_t>(rng.uniform_int(static_cast<std::uint64_t>(V)));
  return t;
}

struct ReferenceRun {
  MatrixD logits;                    // [n, V]
  std::vector<MatrixD> hidden;       // [L] of [n, C] residual stream after each block
  MatrixD final_hidden;              // [n, C]
  std::vector<Tensor3d> weights;     // [L] of [H, n, n]
  std::vector<Tensor3d> logits_att;  // [L] of [H, n, n] attention logits (−∞ masked)
  std::vector<MatrixD> input;        // [L] of [n, C] residual stream entering each block
  std::vector<Tensor3d> q, k, v;     // [L] of [H, n, d] projections attention is given
};

inline MatrixD reference_layernorm(const MatrixD& x, const float* w, const float* b, double eps) {
  MatrixD y(x.rows(), x.cols());
  for (Index r = 0; r < x.rows(); ++r) {
    const double mean = x.row(r).mean();
    const double var = (x.row(r).array() - mean).square().mean();
    for (Index c = 0; c < x.cols(); ++c)
      y(r, c) = (x(r, c) - mean) / std::sqrt(var + eps) * w[c] + b[c];
  }
  return y;
}

// y = x · W + b with W [in, out] row-major fp32 data.
inline MatrixD reference_linear(const MatrixD& x, const float* W, const float* b, Index out) {
  const Index in = x.cols();
  MatrixD Wd = ConstMatrixMap<float>(W, in, out).cast<double>();
  MatrixD y = x * Wd;
  for (Index r = 0; r < y.rows(); ++r)
    for (Index c = 0; c < out; ++c) y(r, c) += b[c];
  return y;
}

inline ReferenceRun reference_forward(const Gpt2Weights& w, std::span<const std::int32_t> tokens,
                                      const ForwardOptions& o = {}) {
  const Gpt2Config& c = w.config;
  const Index n = static_cast<Index>(tokens.size()), C = c.n_embd, H = c.n_head;
  const Index d = C / H, F = c.ffn_dim(), V = c.vocab_size;
  const double eps = c.layer_norm_epsilon;
  const PositionMode positions = o.positions.value_or(PositionMode::learned);
  MatrixD x(n, C);
  double wpe_ss = 0;
  for (Index i = 0; i < c.n_positions * C; ++i) wpe_ss += double(w.wpe()[i]) * w.wpe()[i];
  const double wpe_rms = std::sqrt(wpe_ss / double(c.n_positions * C));
  const MatrixD sinus = attention::sinusoidal_table(n, C, 0) * (wpe_rms * std::numbers::sqrt2);
  for (Index t = 0; t < n; ++t)
    for (Index k = 0; k < C; ++k) {
      x(t, k) = w.wte()[tokens[t] * C + k];
      if (positions == PositionMode::learned) x(t, k) += w.wpe()[t * C + k];
      if (positions == PositionMode::sinusoidal) x(t, k) += sinus(t, k);
    }
  ReferenceRun run;
  for (Index l = 0; l < c.n_layer; ++l) {
    const auto P = w.layer(l);
    run.input.push_back(x);
    const MatrixD a = reference_layernorm(x, P.ln1_w, P.ln1_b, eps);
    const MatrixD qkv = reference_linear(a, P.qkv_w, P.qkv_b, 3 * C);
    Tensor3d q(H, n, d), k(H, n, d), v(H, n, d);
    for (Index h = 0; h < H; ++h)
      for (Index t = 0; t < n; ++t)
        for (Index e = 0; e < d; ++e) {
          q(h, t, e) = qkv(t, h * d + e);
          k(h, t, e) = qkv(t, C + h * d + e);
          v(h, t, e) = qkv(t, 2 * C + h * d + e);
        }
    if (positions == PositionMode::rope) {
      attention::apply_rope(q, 0);
      attention::apply_rope(k, 0);
    }
    run.q.push_back(q);
    run.k.push_back(k);
    run.v.push_back(v);
    attention::AttentionSpec spec = o.attention.value_or(attention::AttentionSpec{});
    spec.causal = !o.bidirectional;
    if (spec.temperature == 0) spec.temperature = std::sqrt(double(d));
    if (positions == PositionMode::alibi) spec.alibi = true;
    const auto f = attention::attention_forward_reference(q, k, v, spec);
    run.weights.push_back(f.weights);
    run.logits_att.push_back(f.logits);
    MatrixD att(n, C);
    for (Index h = 0; h < H; ++h)
      for (Index t = 0; t < n; ++t)
        for (Index e = 0; e < d; ++e) att(t, h * d + e) = f.out(h, t, e);
    x += reference_linear(att, P.proj_w, P.proj_b, C);
    const MatrixD a2 = reference_layernorm(x, P.ln2_w, P.ln2_b, eps);
    MatrixD m = reference_linear(a2, P.fc_w, P.fc_b, F);
    const double k0 = std::sqrt(2.0 / std::numbers::pi);
    for (Index i = 0; i < m.size(); ++i) {
      const double u = m.data()[i];
      m.data()[i] = 0.5 * u * (1.0 + std::tanh(k0 * (u + 0.044715 * u * u * u)));
    }
    x += reference_linear(m, P.fcproj_w, P.fcproj_b, C);
    run.hidden.push_back(x);
  }
  run.final_hidden = reference_layernorm(x, w.lnf_w(), w.lnf_b(), eps);
  const MatrixD E = ConstMatrixMap<float>(w.lm_head(), V, C).cast<double>();
  run.logits = run.final_hidden * E.transpose();
  return run;
}

// max |a − b| / max |b|.
inline double rel_err(const MatrixD& a, const MatrixD& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  return (a - b).cwiseAbs().maxCoeff() / std::max(1e-30, b.cwiseAbs().maxCoeff());
}

}  // namespace attnlab::testing
