// attnlab/models/gpt2/train_graph.hpp — forward + backward of a whole GPT-layout model on a batch,
// for training: the loss and the gradient of every parameter.
//
// The model is the one models/gpt2/model.hpp runs for inference (same Gpt2Config, the same flat
// parameter layout as Gpt2Weights::params, the same nn/layers kernels and the same per-layer
// AttentionSpec from layer_attention_spec()), written as a stored-activation graph:
//
//   x₀ = wte[tokens] + wpe[t]          (wpe only for learned / sinusoidal positions)  // [B·T, C]
//   per layer l:
//     a = LN1(x);  [q k v] = a·Wqkv + bqkv;  RoPE on q, k (rope mode)             // [B, H, T, d]
//     learnable sink: k, v get the slot (sink_k, sink_v) as key 0 (M = T + 1)
//     o = attention(q, k, v) per sequence;  x += merge(o)·Wproj + bproj
//     x += GELU(LN2(x)·Wfc + bfc)·Wfcproj + bfcproj
//   loss = mean over targets ≥ 0 of −log softmax(LNf(x)·wteᵀ)[target]
//
// Attention per sequence, by model attention and scalar type:
//   softmax / ssmax without top-k, float   fused flash kernel, forward and FlashAttention-2
//                                          backward (attention/fused_attention.hpp)
//   sparsemax, entmax15, top-k (float), and every spec in double
//                                          fp64 reference forward and backward
//                                          (attention/reference_attention.hpp)
//   linear elu+1                           attention/linear_attention.hpp (fp64, causal,
//                                          normalized)
// Learned decay rates get ∂loss/∂r_h from the kernels' dslope; the sink slot gets the gradient of
// key/value 0. Sequences run in parallel (static schedule, one sequence per thread at a time, the
// kernels single-threaded inside); dense layers are OpenBLAS GEMMs over all B·T rows; every
// parameter-gradient sum runs in a fixed order. Results are bit-identical for a fixed thread count.
//
// T = float is the training path; T = double is its fp64 twin (reference attention everywhere),
// used by the finite-difference gradient checks and the fp64 reference of the tests.
//
// Memory: ≈ (20·C + 2·F/C·C ...) floats per token and layer are stored: about B·T·(12C + 2F)·L
// values plus the attention outputs; Graph::activation_bytes() reports it.
//
// Usage:
//   GptTrainGraph<float> g(config, /*batch=*/16, /*seq=*/256);
//   std::vector<float> grads(params.size());
//   double loss = g.forward_backward(params.data(), tokens, targets, grads.data());
//   double eval = g.forward(params.data(), tokens, targets);   // loss only, nothing kept
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/config.hpp"

namespace attnlab::models::gpt2 {

struct GraphLoss {
  double sum_nll = 0.0;  // Σ −log p over scored targets
  Index scored = 0;      // number of targets ≥ 0
  double mean() const { return scored > 0 ? sum_nll / static_cast<double>(scored) : 0.0; }
};

// Per-row scores of an evaluation forward ([batch · seq] each, row-major like the targets).
struct RowScores {
  std::vector<double> nll;        // −log p(target); NaN where the target is not scored
  std::vector<std::uint8_t> hit;  // 1 where the target has the row's largest logit (ties: hit)
};

template <class T>
class GptTrainGraph {
 public:
  // UsageError when the config is invalid, batch < 1 or seq outside [1, n_positions].
  GptTrainGraph(const Gpt2Config& config, Index batch, Index seq);
  ~GptTrainGraph();
  GptTrainGraph(GptTrainGraph&&) noexcept;
  GptTrainGraph& operator=(GptTrainGraph&&) noexcept;

  const Gpt2Config& config() const;
  Index batch() const;
  Index seq() const;
  std::size_t num_params() const;  // Gpt2Layout(config).total
  std::size_t activation_bytes() const;

  // tokens, targets [batch, seq] row-major; targets < 0 are not scored. InputError for a token or
  // target outside the vocabulary (naming row and column).
  // Loss only; no backward possible afterwards.
  // rows (optional) receives every row's NLL and whether its target is the argmax.
  GraphLoss forward(const T* params, const std::int32_t* tokens, const std::int32_t* targets,
                    RowScores* rows = nullptr);
  // Loss and gradients: grads [num_params] is overwritten with ∂(mean loss)/∂params
  // (frozen or unused parameters get 0). NumericError when the loss is not finite.
  // normalizer > 0 divides the summed NLL by it instead of by this batch's scored count (the
  // data-parallel graph passes the whole batch's count to each of its replicas).
  GraphLoss forward_backward(const T* params, const std::int32_t* tokens,
                             const std::int32_t* targets, T* grads, Index normalizer = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attnlab::models::gpt2
