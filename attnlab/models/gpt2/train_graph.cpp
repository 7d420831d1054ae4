#include "attnlab/models/gpt2/train_graph.hpp"

#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"
#include "attnlab/core/item_errors.hpp"
#include "attnlab/models/gpt2/train_attention.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/nn/layers/embedding.hpp"
#include "attnlab/nn/layers/gelu.hpp"
#include "attnlab/nn/layers/layernorm.hpp"
#include "attnlab/nn/layers/linear.hpp"
#include "attnlab/nn/layers/rope.hpp"
#include "attnlab/nn/layers/tied_softmax_xent.hpp"

namespace attnlab::models::gpt2 {
namespace {

template <class T>
using Buffer = AlignedVector<T>;

template <class T>
Buffer<T> buffer(Index n) {
  return Buffer<T>(static_cast<std::size_t>(n), T(0));
}

// fn(b) for b = 0 .. n−1 on the OpenMP team (static schedule); the exception of the lowest b
// that threw is rethrown after the loop (exceptions must not escape a parallel region).
template <class Fn>
void for_each_sequence(Index n, Fn&& fn) {
  ItemErrors errors(n);
#pragma omp parallel for schedule(static)
  for (Index b = 0; b < n; ++b) errors.run(b, [&] { fn(b); });
  errors.rethrow_lowest();
}

nn::GeluKind gelu_kind(Activation a) {
  return a == Activation::gelu_tanh ? nn::GeluKind::tanh : nn::GeluKind::erf;
}

// Activations of one layer kept for its backward. Rows are b·T + t.
template <class T>
struct LayerActs {
  Buffer<T> x_in;                         // [BT, C] residual stream entering the layer
  Buffer<T> ln1, mean1, rstd1;            // [BT, C], [BT], [BT]
  Buffer<T> att;                          // [BT, C] merged attention output
  Buffer<T> x_mid;                        // [BT, C] after the attention residual
  Buffer<T> ln2, mean2, rstd2;            // [BT, C], [BT], [BT]
  Buffer<T> fc, act;                      // [BT, F] pre-activation and GELU output
  std::vector<SequenceAttention<T>> seq;  // [B]
  attention::AttentionSpec spec;          // what this layer ran
  AttentionPath path = AttentionPath::reference;
};

}  // namespace

template <class T>
struct GptTrainGraph<T>::Impl {
  Gpt2Config cfg;
  Gpt2Layout layout;
  Index B, Tn, C, H, d, F, V, L, BT, prefix;
  std::vector<LayerActs<T>> layers;
  Buffer<T> x_final, lnf, meanf, rstdf;  // [BT, C], [BT, C], [BT], [BT]
  Buffer<T> scratch_qkv;                 // [BT, 3C]
  std::vector<Index> positions;          // [BT] position of each row
  nn::RopeTable rope;
  const std::int32_t* tokens = nullptr;

  Impl(const Gpt2Config& c, Index batch, Index seq)
      : cfg(c),
        layout(c),
        B(batch),
        Tn(seq),
        C(c.n_embd),
        H(c.n_head),
        d(c.head_dim()),
        F(c.ffn_dim()),
        V(c.vocab_size),
        L(c.n_layer),
        BT(batch * seq),
        prefix(c.attention.learnable_sink ? 1 : 0) {
    const Index M = Tn + prefix;
    layers.resize(static_cast<std::size_t>(L));
    for (auto& a : layers) {
      a.x_in = buffer<T>(BT * C);
      a.ln1 = buffer<T>(BT * C);
      a.mean1 = buffer<T>(BT);
      a.rstd1 = buffer<T>(BT);
      a.att = buffer<T>(BT * C);
      a.x_mid = buffer<T>(BT * C);
      a.ln2 = buffer<T>(BT * C);
      a.mean2 = buffer<T>(BT);
      a.rstd2 = buffer<T>(BT);
      a.fc = buffer<T>(BT * F);
      a.act = buffer<T>(BT * F);
      a.seq.assign(static_cast<std::size_t>(B), SequenceAttention<T>(H, Tn, M, d));
    }
    x_final = buffer<T>(BT * C);
    lnf = buffer<T>(BT * C);
    meanf = buffer<T>(BT);
    rstdf = buffer<T>(BT);
    scratch_qkv = buffer<T>(BT * 3 * C);
    positions.resize(static_cast<std::size_t>(BT));
    for (Index r = 0; r < BT; ++r) positions[static_cast<std::size_t>(r)] = r % Tn;
    if (cfg.position_mode == PositionMode::rope) rope = nn::RopeTable(Tn, d);
  }

  const T* layer_base(const T* params, Index l) const { return params + layout.layer_base(l); }

  std::vector<double> learned_rates(const T* params, Index l) const {
    if (layout.decay_rate == Gpt2Layout::kAbsent) return {};
    const T* r = layer_base(params, l) + layout.decay_rate;
    return std::vector<double>(r, r + H);
  }

  bool uses_wpe() const {
    return cfg.position_mode == PositionMode::learned ||
           cfg.position_mode == PositionMode::sinusoidal;
  }

  void check_ids(const std::int32_t* tok, const std::int32_t* tgt) const {
    for (Index r = 0; r < BT; ++r) {
      if (tok[r] < 0 || tok[r] >= V) {
        throw InputError(str_cat("GPT training graph: token id ", tok[r], " at batch row ", r / Tn,
                                 " column ", r % Tn, " is outside the vocabulary [0, ", V, ")"));
      }
      if (tgt[r] >= V) {
        throw InputError(str_cat("GPT training graph: target id ", tgt[r], " at batch row ", r / Tn,
                                 " column ", r % Tn, " is outside the vocabulary [0, ", V, ")"));
      }
    }
  }

  // ---- forward ------------------------------------------------------------------------------

  void attention_forward(const T* params, Index l, LayerActs<T>& a) {
    const T* lp = layer_base(params, l);
    const std::vector<double> rates = learned_rates(params, l);
    a.spec = layer_attention_spec(cfg, cfg.attention.spec, l, cfg.position_mode, rates);
    a.path = choose_attention_path<T>(cfg.attention, a.spec);
    T* qkv = scratch_qkv.data();
    nn::linear_forward(a.ln1.data(), BT, C, lp + layout.qkv_w, lp + layout.qkv_b, 3 * C, qkv);
    const T* sink_k = prefix ? lp + layout.sink_k : nullptr;
    const T* sink_v = prefix ? lp + layout.sink_v : nullptr;
    for_each_sequence(B, [&](Index b) {
      SequenceAttention<T>& s = a.seq[static_cast<std::size_t>(b)];
      for (Index h = 0; h < H; ++h) {
        if (prefix) {
          std::copy(sink_k + h * d, sink_k + (h + 1) * d, &s.k(h, 0, 0));
          std::copy(sink_v + h * d, sink_v + (h + 1) * d, &s.v(h, 0, 0));
        }
        for (Index t = 0; t < Tn; ++t) {
          const T* row = qkv + (b * Tn + t) * 3 * C;
          std::copy(row + h * d, row + (h + 1) * d, &s.q(h, t, 0));
          std::copy(row + C + h * d, row + C + (h + 1) * d, &s.k(h, t + prefix, 0));
          std::copy(row + 2 * C + h * d, row + 2 * C + (h + 1) * d, &s.v(h, t + prefix, 0));
        }
        if (cfg.position_mode == PositionMode::rope) {
          rope.rotate(&s.q(h, 0, 0), Tn, 0);
          rope.rotate(&s.k(h, prefix, 0), Tn, 0);
        }
      }
      attend_sequence(a.path, a.spec, s);
      for (Index h = 0; h < H; ++h)
        for (Index t = 0; t < Tn; ++t)
          std::copy(&s.out(h, t, 0), &s.out(h, t, 0) + d, a.att.data() + (b * Tn + t) * C + h * d);
    });
  }

  // Runs every layer; leaves the final LayerNorm output in lnf.
  void run_forward(const T* params, const std::int32_t* tok) {
    tokens = tok;
    const T* wpe = uses_wpe() ? params + layout.wpe : nullptr;
    nn::embedding_forward(tok, positions.data(), BT, C, params + layout.wte, wpe,
                          layers[0].x_in.data());
    const double eps = cfg.layer_norm_epsilon;
    for (Index l = 0; l < L; ++l) {
      LayerActs<T>& a = layers[static_cast<std::size_t>(l)];
      const T* lp = layer_base(params, l);
      nn::layernorm_forward(a.x_in.data(), BT, C, lp + layout.ln1_w, lp + layout.ln1_b, eps,
                            a.ln1.data(), a.mean1.data(), a.rstd1.data());
      attention_forward(params, l, a);
      // x_mid = x_in + att · Wproj + bproj
      std::copy(a.x_in.begin(), a.x_in.end(), a.x_mid.begin());
      nn::linear_forward(a.att.data(), BT, C, lp + layout.proj_w, lp + layout.proj_b, C,
                         a.x_mid.data(), /*accumulate=*/true);
      nn::layernorm_forward(a.x_mid.data(), BT, C, lp + layout.ln2_w, lp + layout.ln2_b, eps,
                            a.ln2.data(), a.mean2.data(), a.rstd2.data());
      nn::linear_forward(a.ln2.data(), BT, C, lp + layout.fc_w, lp + layout.fc_b, F, a.fc.data());
      nn::gelu_forward(gelu_kind(cfg.activation), a.fc.data(), BT * F, a.act.data());
      T* out = l + 1 < L ? layers[static_cast<std::size_t>(l + 1)].x_in.data() : x_final.data();
      std::copy(a.x_mid.begin(), a.x_mid.end(), out);
      nn::linear_forward(a.act.data(), BT, F, lp + layout.fcproj_w, lp + layout.fcproj_b, C, out,
                         /*accumulate=*/true);
    }
    nn::layernorm_forward(x_final.data(), BT, C, params + layout.lnf_w, params + layout.lnf_b, eps,
                          lnf.data(), meanf.data(), rstdf.data());
  }

  static void add_inplace(T* y, const T* x, Index n) {
#pragma omp parallel for simd schedule(static) if (n >= (1 << 15))
    for (Index i = 0; i < n; ++i) y[i] += x[i];
  }

  static GraphLoss make_loss(double sum, const std::int32_t* tgt, Index n) {
    GraphLoss g;
    g.sum_nll = sum;
    for (Index i = 0; i < n; ++i) g.scored += tgt[i] >= 0 ? 1 : 0;
    if (!std::isfinite(sum)) {
      throw NumericError(str_cat("GPT training graph: non-finite loss (sum of NLL = ", sum, ")"));
    }
    return g;
  }

  // ---- backward -----------------------------------------------------------------------------

  // dx [BT, C] = gradient wrt the layer's output on entry, wrt its input on exit.
  void layer_backward(const T* params, T* grads, Index l, Buffer<T>& dx, Buffer<T>& dtmp,
                      Buffer<T>& dbig, Buffer<T>& dqkv) {
    LayerActs<T>& a = layers[static_cast<std::size_t>(l)];
    const T* lp = layer_base(params, l);
    T* gp = grads + layout.layer_base(l);
    // MLP: out = x_mid + act · Wfcproj + b.
    nn::linear_backward(a.act.data(), BT, F, lp + layout.fcproj_w, C, dx.data(), dbig.data(),
                        gp + layout.fcproj_w, gp + layout.fcproj_b);
    nn::gelu_backward(gelu_kind(cfg.activation), a.fc.data(), dbig.data(), BT * F, dbig.data());
    nn::linear_backward(a.ln2.data(), BT, C, lp + layout.fc_w, F, dbig.data(), dtmp.data(),
                        gp + layout.fc_w, gp + layout.fc_b);
    // dx_mid = dx + LN2ᵀ(dtmp); LN backward overwrites its output, so go through dbig.
    T* dln = dbig.data();
    nn::layernorm_backward(a.x_mid.data(), BT, C, lp + layout.ln2_w, a.mean2.data(), a.rstd2.data(),
                           dtmp.data(), dln, gp + layout.ln2_w, gp + layout.ln2_b);
    add_inplace(dx.data(), dln, BT * C);
    // Attention: x_mid = x_in + att · Wproj + b.
    nn::linear_backward(a.att.data(), BT, C, lp + layout.proj_w, C, dx.data(), dtmp.data(),
                        gp + layout.proj_w, gp + layout.proj_b);
    attention_backward(gp, a, dtmp.data(), dqkv.data());
    nn::linear_backward(a.ln1.data(), BT, C, lp + layout.qkv_w, 3 * C, dqkv.data(), dtmp.data(),
                        gp + layout.qkv_w, gp + layout.qkv_b);
    nn::layernorm_backward(a.x_in.data(), BT, C, lp + layout.ln1_w, a.mean1.data(), a.rstd1.data(),
                           dtmp.data(), dln, gp + layout.ln1_w, gp + layout.ln1_b);
    add_inplace(dx.data(), dln, BT * C);
  }

  // d_att [BT, C] (merged heads) -> dqkv [BT, 3C]; sink and decay-rate gradients into gp.
  void attention_backward(T* gp, LayerActs<T>& a, const T* d_att, T* dqkv) {
    std::vector<std::vector<double>> dslope(static_cast<std::size_t>(B));
    std::vector<Tensor3<T>> dsink_k(static_cast<std::size_t>(B)),
        dsink_v(static_cast<std::size_t>(B));
    for_each_sequence(B, [&](Index b) {
      const SequenceAttention<T>& s = a.seq[static_cast<std::size_t>(b)];
      Tensor3<T> dout(H, Tn, d);
      for (Index h = 0; h < H; ++h)
        for (Index t = 0; t < Tn; ++t) {
          const T* src = d_att + (b * Tn + t) * C + h * d;
          std::copy(src, src + d, &dout(h, t, 0));
        }
      SequenceGrads<T> g = attend_sequence_backward(a.path, a.spec, s, dout);
      for (Index h = 0; h < H; ++h) {
        if (cfg.position_mode == PositionMode::rope) {
          rope.rotate_back(&g.dq(h, 0, 0), Tn, 0);
          rope.rotate_back(&g.dk(h, prefix, 0), Tn, 0);
        }
        for (Index t = 0; t < Tn; ++t) {
          T* row = dqkv + (b * Tn + t) * 3 * C;
          std::copy(&g.dq(h, t, 0), &g.dq(h, t, 0) + d, row + h * d);
          std::copy(&g.dk(h, t + prefix, 0), &g.dk(h, t + prefix, 0) + d, row + C + h * d);
          std::copy(&g.dv(h, t + prefix, 0), &g.dv(h, t + prefix, 0) + d, row + 2 * C + h * d);
        }
      }
      dslope[static_cast<std::size_t>(b)] = std::move(g.dslope);
      if (prefix) {
        dsink_k[static_cast<std::size_t>(b)] = std::move(g.dk);
        dsink_v[static_cast<std::size_t>(b)] = std::move(g.dv);
      }
    });
    // Parameter gradients summed over sequences in order.
    for (Index b = 0; b < B; ++b) {
      if (layout.decay_rate != Gpt2Layout::kAbsent) {
        T* gr = gp + layout.decay_rate;
        for (Index h = 0; h < H; ++h)
          gr[h] += static_cast<T>(dslope[static_cast<std::size_t>(b)][static_cast<std::size_t>(h)]);
      }
      if (prefix) {
        const Tensor3<T>& dk = dsink_k[static_cast<std::size_t>(b)];
        const Tensor3<T>& dv = dsink_v[static_cast<std::size_t>(b)];
        T* gk = gp + layout.sink_k;
        T* gv = gp + layout.sink_v;
        for (Index h = 0; h < H; ++h)
          for (Index c = 0; c < d; ++c) {
            gk[h * d + c] += dk(h, 0, c);
            gv[h * d + c] += dv(h, 0, c);
          }
      }
    }
  }

  GraphLoss forward_backward(const T* params, const std::int32_t* tok, const std::int32_t* tgt,
                             T* grads, Index normalizer) {
    check_ids(tok, tgt);
    run_forward(params, tok);
    std::fill(grads, grads + layout.total, T(0));
    Index scored = 0;
    for (Index i = 0; i < BT; ++i) scored += tgt[i] >= 0 ? 1 : 0;
    if (normalizer > 0) scored = normalizer;
    const double scale = scored > 0 ? 1.0 / static_cast<double>(scored) : 0.0;
    Buffer<T> dx = buffer<T>(BT * C), dtmp = buffer<T>(BT * C), dbig = buffer<T>(BT * F),
              dqkv = buffer<T>(BT * 3 * C);
    // The output head is tied to wte (untied: lm_head).
    const std::size_t head = layout.lm_head;
    const double sum = nn::tied_softmax_xent(lnf.data(), BT, C, params + head, V, tgt, scale,
                                             dtmp.data(), grads + head);
    GraphLoss loss = make_loss(sum, tgt, BT);
    nn::layernorm_backward(x_final.data(), BT, C, params + layout.lnf_w, meanf.data(), rstdf.data(),
                           dtmp.data(), dx.data(), grads + layout.lnf_w, grads + layout.lnf_b);
    for (Index l = L - 1; l >= 0; --l) layer_backward(params, grads, l, dx, dtmp, dbig, dqkv);
    T* dwpe = cfg.position_mode == PositionMode::learned ? grads + layout.wpe : nullptr;
    nn::embedding_backward(tok, positions.data(), BT, C, dx.data(), grads + layout.wte, dwpe);
    return loss;
  }

  GraphLoss forward(const T* params, const std::int32_t* tok, const std::int32_t* tgt,
                    RowScores* rows) {
    check_ids(tok, tgt);
    run_forward(params, tok);
    const double sum =
        nn::tied_softmax_xent<T>(lnf.data(), BT, C, params + layout.lm_head, V, tgt, 0.0, nullptr,
                                 nullptr, rows ? &rows->nll : nullptr, rows ? &rows->hit : nullptr);
    return make_loss(sum, tgt, BT);
  }

  std::size_t activation_bytes() const {
    const auto per_layer = static_cast<std::size_t>(BT * (6 * C + 2 * F + 4) +
                                                    B * H * (2 * Tn + 2 * (Tn + prefix)) * d);
    return sizeof(T) *
           (per_layer * static_cast<std::size_t>(L) + static_cast<std::size_t>(BT * (5 * C + 2)));
  }
};

template <class T>
GptTrainGraph<T>::GptTrainGraph(const Gpt2Config& config, Index batch, Index seq) {
  config.validate("GPT training graph");
  if (batch < 1) throw UsageError(str_cat("GPT training graph: batch must be >= 1, got ", batch));
  if (seq < 1 || seq > config.n_positions) {
    throw UsageError(str_cat("GPT training graph: sequence length ", seq,
                             " outside [1, n_positions = ", config.n_positions, "]"));
  }
  impl_ = std::make_unique<Impl>(config, batch, seq);
}

template <class T>
GptTrainGraph<T>::~GptTrainGraph() = default;
template <class T>
GptTrainGraph<T>::GptTrainGraph(GptTrainGraph&&) noexcept = default;
template <class T>
GptTrainGraph<T>& GptTrainGraph<T>::operator=(GptTrainGraph&&) noexcept = default;

template <class T>
const Gpt2Config& GptTrainGraph<T>::config() const {
  return impl_->cfg;
}
template <class T>
Index GptTrainGraph<T>::batch() const {
  return impl_->B;
}
template <class T>
Index GptTrainGraph<T>::seq() const {
  return impl_->Tn;
}
template <class T>
std::size_t GptTrainGraph<T>::num_params() const {
  return impl_->layout.total;
}
template <class T>
std::size_t GptTrainGraph<T>::activation_bytes() const {
  return impl_->activation_bytes();
}

template <class T>
GraphLoss GptTrainGraph<T>::forward(const T* params, const std::int32_t* tokens,
                                    const std::int32_t* targets, RowScores* rows) {
  return impl_->forward(params, tokens, targets, rows);
}

template <class T>
GraphLoss GptTrainGraph<T>::forward_backward(const T* params, const std::int32_t* tokens,
                                             const std::int32_t* targets, T* grads,
                                             Index normalizer) {
  return impl_->forward_backward(params, tokens, targets, grads, normalizer);
}

template class GptTrainGraph<float>;
template class GptTrainGraph<double>;

}  // namespace attnlab::models::gpt2
