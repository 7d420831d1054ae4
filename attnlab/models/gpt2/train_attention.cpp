#include "attnlab/models/gpt2/train_attention.hpp"

#include <type_traits>

#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/attention/linear_attention.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::models::gpt2 {
namespace {

attention::LinearAttentionSpec elu1_spec() {
  attention::LinearAttentionSpec ls;
  ls.feature_map = attention::FeatureMap::elu1;
  ls.causal = true;
  ls.normalize = true;
  return ls;
}

template <class T>
Tensor3d widen(const Tensor3<T>& x) {
  if constexpr (std::is_same_v<T, double>) {
    return x;
  } else {
    return x.template cast<double>();
  }
}

template <class T>
Tensor3<T> narrow(Tensor3d x) {
  if constexpr (std::is_same_v<T, double>) {
    return x;
  } else {
    return x.template cast<T>();
  }
}

}  // namespace

template <class T>
AttentionPath choose_attention_path(const ModelAttention& model,
                                    const attention::AttentionSpec& spec) {
  if (model.linear) return AttentionPath::linear;
  if (std::is_same_v<T, float> && attention::fused_supports(spec)) return AttentionPath::fused;
  return AttentionPath::reference;
}

template <class T>
void attend_sequence(AttentionPath path, const attention::AttentionSpec& spec,
                     SequenceAttention<T>& s) {
  switch (path) {
    case AttentionPath::fused: {
      if constexpr (std::is_same_v<T, float>) {
        attention::FusedForward f = attention::attention_forward_fused(s.q, s.k, s.v, spec);
        s.out = std::move(f.out);
        s.lse = std::move(f.lse);
        return;
      }
      throw UsageError("attend_sequence: the fused path runs in float only");
    }
    case AttentionPath::reference: {
      const auto f =
          attention::attention_forward_reference(widen(s.q), widen(s.k), widen(s.v), spec);
      s.out = narrow<T>(f.out);
      return;
    }
    case AttentionPath::linear: {
      s.out = narrow<T>(
          attention::linear_attention_forward(widen(s.q), widen(s.k), widen(s.v), elu1_spec()));
      return;
    }
  }
}

template <class T>
SequenceGrads<T> attend_sequence_backward(AttentionPath path, const attention::AttentionSpec& spec,
                                          const SequenceAttention<T>& s, const Tensor3<T>& dout) {
  SequenceGrads<T> g;
  const Index H = s.q.dim0();
  switch (path) {
    case AttentionPath::fused: {
      if constexpr (std::is_same_v<T, float>) {
        attention::FusedGrads f =
            attention::attention_backward_fused(s.q, s.k, s.v, spec, s.out, s.lse, dout);
        g.dq = std::move(f.dq);
        g.dk = std::move(f.dk);
        g.dv = std::move(f.dv);
        g.dslope = std::move(f.dslope);
        return g;
      }
      throw UsageError("attend_sequence_backward: the fused path runs in float only");
    }
    case AttentionPath::reference: {
      attention::AttentionGrads r = attention::attention_backward_reference(
          widen(s.q), widen(s.k), widen(s.v), spec, widen(dout));
      g.dq = narrow<T>(std::move(r.dq));
      g.dk = narrow<T>(std::move(r.dk));
      g.dv = narrow<T>(std::move(r.dv));
      g.dslope = std::move(r.dslope);
      return g;
    }
    case AttentionPath::linear: {
      attention::LinearAttentionGrads r = attention::linear_attention_backward(
          widen(s.q), widen(s.k), widen(s.v), elu1_spec(), widen(dout));
      g.dq = narrow<T>(std::move(r.dq));
      g.dk = narrow<T>(std::move(r.dk));
      g.dv = narrow<T>(std::move(r.dv));
      g.dslope.assign(static_cast<std::size_t>(H), 0.0);
      return g;
    }
  }
  return g;
}

template AttentionPath choose_attention_path<float>(const ModelAttention&,
                                                    const attention::AttentionSpec&);
template AttentionPath choose_attention_path<double>(const ModelAttention&,
                                                     const attention::AttentionSpec&);
template void attend_sequence<float>(AttentionPath, const attention::AttentionSpec&,
                                     SequenceAttention<float>&);
template void attend_sequence<double>(AttentionPath, const attention::AttentionSpec&,
                                      SequenceAttention<double>&);
template SequenceGrads<float> attend_sequence_backward<float>(AttentionPath,
                                                              const attention::AttentionSpec&,
                                                              const SequenceAttention<float>&,
                                                              const Tensor3<float>&);
template SequenceGrads<double> attend_sequence_backward<double>(AttentionPath,
                                                                const attention::AttentionSpec&,
                                                                const SequenceAttention<double>&,
                                                                const Tensor3<double>&);

}  // namespace attnlab::models::gpt2
