// attnlab/models/bert/model.hpp — BERT encoder inference in fp32 (Hugging Face BertModel, eval).
//
// The forward pass (Devlin et al. 2019; post-LN blocks):
//
//   x = word_emb[ids] + pos_emb[0..n−1] + type_emb[types]              // [n, C]; types default 0
//   x = LN_emb(x)
//   per layer:  [q k v] = x · Wqkv + bqkv                               // [n, 3C] -> [H, n, d] ×3
//               a = merge_heads(attention(q, k, v)) · Wo + bo           // bidirectional
//               x = LN1(x + a)
//               x = LN2(x + GELU(x · W1 + b1) · W2 + b2)                 // exact erf GELU ("gelu")
//   output: x (last_hidden_state) [n, C]
//   LN(x) = (x − mean) / sqrt(var + eps) · w + b, population variance, eps = layer_norm_eps.
//
// Batches. A batch is a list of sequences. forward() packs their rows into one [Σn, C] matrix:
// the position-wise work (embeddings, every GEMM, LayerNorms, GELU) runs once over all rows, and
// attention runs per sequence over its own rows only, so no padding is ever computed. A sequence
// may carry an attention mask (1 = real token, 0 = padding; Hugging Face's attention_mask): masked
// keys get weight 0 for every query (AttentionSpec::key_mask), masked query rows are computed but
// mean nothing — exactly BertModel with a padded batch (tested against unpadded sequences).
//
// Attention is swappable: BertForwardOptions::attention is any AttentionSpec (window, sinks,
// decay, ALiBi, top-k, ssmax, sparsemax, entmax15); the temperature defaults to √d, causal is off
// unless the spec sets it, and a sequence's mask is AND-ed in. attention::attend() picks the fused
// kernel for the softmax family and the fp64 reference otherwise; capture forces the reference.
//
// Capture (per sequence, per layer, all heads): maps [H, n, n] of attention weights; value-output
// norms ‖f_h(x_j)‖ = ‖(x_j Wv_h + bv_h) · Wo_h‖ [H, n] (Kobayashi et al. 2020: a head's
// contribution of key j to query i is α_ij · f_h(x_j), so α_ij · ‖f_h(x_j)‖ is the "norm-weighted"
// attention); the residual stream after the embedding LayerNorm and after every block (the input
// of block l is hidden[l]); per-head q, k, v of every layer (projections).
//
// Order-test knob: zero_positions drops pos_emb (the network is then permutation-equivariant:
// bidirectional attention without positions cannot see order).
//
// Threads: GEMMs through OpenBLAS, attention through attend()'s OpenMP loops, other loops static
// OpenMP schedules: bit-identical results for a fixed thread count.
//
// Usage:
//   BertModel model(load_bert(dir));
//   BertOutput out = model.forward({{ids}});          // out.hidden[0]: [n, C]
//   BertForwardOptions o;  o.capture_maps = true;  o.value_norms = true;
//   BertOutput d = model.forward({{ids}}, o);         // d.captures[0].maps[layer]: [H, n, n]
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "attnlab/attention/attend.hpp"
#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/models/bert/weights.hpp"

namespace attnlab::models::bert {

struct BertSequence {
  std::vector<std::int32_t> ids;    // [n]
  std::vector<std::int32_t> types;  // [n] or empty (all 0)
  std::vector<std::uint8_t> mask;   // [n] or empty (all real tokens)
};

struct BertForwardOptions {
  std::optional<attention::AttentionSpec> attention;  // unset = full bidirectional softmax
  attention::Kernel kernel = attention::Kernel::automatic;
  bool capture_maps = false;    // BertCapture::maps
  bool value_norms = false;     // BertCapture::value_norms
  bool hidden_states = false;   // BertCapture::hidden
  bool projections = false;     // BertCapture::q, k, v (what selectivity studies read)
  bool zero_positions = false;  // order test: no position embeddings
  // Bound on Σ_sequences L·H·n² captured map entries (UsageError beyond it).
  Index max_map_entries = Index{1} << 28;
};

struct BertCapture {
  std::vector<Tensor3f> maps;        // [L] of [H, n, n] (rows: queries, columns: keys)
  std::vector<MatrixF> value_norms;  // [L] of [H, n]
  std::vector<MatrixF> hidden;       // [L + 1] of [n, C]: after LN_emb, then after each block
  std::vector<Tensor3f> q, k, v;     // [L] of [H, n, d]: what attention was given (before 1/T)
};

struct BertOutput {
  std::vector<MatrixF> hidden;        // per sequence: last_hidden_state [n, C]
  std::vector<BertCapture> captures;  // per sequence, when anything was captured
  attention::Kernel kernel = attention::Kernel::automatic;  // the kernel of the last attention
};

class BertModel {
 public:
  explicit BertModel(BertWeights weights);
  const BertConfig& config() const { return weights_.config; }
  const BertWeights& weights() const { return weights_; }

  // The AttentionSpec the layers run for `options` (before a sequence's mask is added).
  attention::AttentionSpec attention_spec(const BertForwardOptions& options) const;
  // InputError for an empty sequence, a sequence longer than max_position_embeddings, an id
  // outside the vocabulary, a type outside type_vocab_size, or mask/types of the wrong length.
  BertOutput forward(std::span<const BertSequence> batch,
                     const BertForwardOptions& options = {}) const;
  BertOutput forward(std::initializer_list<BertSequence> batch,
                     const BertForwardOptions& options = {}) const {
    return forward(std::span<const BertSequence>(batch.begin(), batch.size()), options);
  }

 private:
  BertWeights weights_;
};

}  // namespace attnlab::models::bert
