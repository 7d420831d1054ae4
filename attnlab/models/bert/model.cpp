#include "attnlab/models/bert/model.hpp"

#include <cmath>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/nn/layers/gelu.hpp"
#include "attnlab/nn/layers/layernorm.hpp"
#include "attnlab/nn/layers/linear.hpp"

namespace attnlab::models::bert {
namespace {

// Row range of one sequence inside the packed [R, C] matrices.
struct Segment {
  Index begin = 0, n = 0;
};

void check_sequence(const BertSequence& s, std::size_t index, const BertConfig& c) {
  const auto n = static_cast<Index>(s.ids.size());
  if (n == 0) throw InputError(str_cat("BERT: sequence ", index, " is empty"));
  if (n > c.max_position_embeddings) {
    throw InputError(
        str_cat("BERT: sequence ", index, " has ", n,
                " tokens, more than max_position_embeddings = ", c.max_position_embeddings));
  }
  for (std::size_t t = 0; t < s.ids.size(); ++t) {
    if (s.ids[t] < 0 || s.ids[t] >= c.vocab_size) {
      throw InputError(str_cat("BERT: sequence ", index, " token ", t, " has id ", s.ids[t],
                               ", outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  if (!s.types.empty()) {
    if (s.types.size() != s.ids.size()) {
      throw InputError(str_cat("BERT: sequence ", index, " has ", s.types.size(),
                               " token types for ", n, " tokens"));
    }
    for (std::size_t t = 0; t < s.types.size(); ++t) {
      if (s.types[t] < 0 || s.types[t] >= c.type_vocab_size) {
        throw InputError(str_cat("BERT: sequence ", index, " token ", t, " has type ", s.types[t],
                                 ", outside [0, ", c.type_vocab_size, ")"));
      }
    }
  }
  if (!s.mask.empty() && s.mask.size() != s.ids.size()) {
    throw InputError(str_cat("BERT: sequence ", index, " has a mask of ", s.mask.size(),
                             " entries for ", n, " tokens"));
  }
}

// One sequence's heads out of the packed [R, 3C] projections: q, k, v [H, n, d].
void split_heads(const float* qkv, const Segment& s, Index H, Index d, Tensor3f& q, Tensor3f& k,
                 Tensor3f& v) {
  const Index C = H * d;
  q = Tensor3f(H, s.n, d);
  k = Tensor3f(H, s.n, d);
  v = Tensor3f(H, s.n, d);
  for (Index i = 0; i < s.n; ++i) {
    const float* row = qkv + (s.begin + i) * 3 * C;
    for (Index h = 0; h < H; ++h)
      for (Index e = 0; e < d; ++e) {
        q(h, i, e) = row[h * d + e];
        k(h, i, e) = row[C + h * d + e];
        v(h, i, e) = row[2 * C + h * d + e];
      }
  }
}

// ‖v_j^h · Wo_h‖ for every head and key: [H, n]. Wo is [C, C] ([in, out]); head h owns its rows
// h·d .. h·d + d − 1.
MatrixF value_output_norms(const Tensor3f& v, const float* out_w, Index C) {
  const Index H = v.dim0(), n = v.dim1(), d = v.dim2();
  MatrixF norms(H, n);
  MatrixF f(n, C);
  for (Index h = 0; h < H; ++h) {
    gemm(Trans::no, Trans::no, n, C, d, 1.0f, v.slice_data(h), d, out_w + h * d * C, C, 0.0f,
         f.data(), C);
    for (Index j = 0; j < n; ++j) {
      double s = 0.0;
      for (Index c = 0; c < C; ++c) s += static_cast<double>(f(j, c)) * f(j, c);
      norms(h, j) = static_cast<float>(std::sqrt(s));
    }
  }
  return norms;
}

}  // namespace

BertModel::BertModel(BertWeights weights) : weights_(std::move(weights)) {
  weights_.config.validate(weights_.source);
}

attention::AttentionSpec BertModel::attention_spec(const BertForwardOptions& options) const {
  attention::AttentionSpec spec = options.attention.value_or(attention::AttentionSpec{});
  if (!spec.key_mask.empty()) {
    throw UsageError(
        "BERT: an attention override cannot carry a key mask (masks come from the "
        "sequences)");
  }
  if (spec.temperature == 0.0)
    spec.temperature = std::sqrt(static_cast<double>(config().head_dim()));
  return spec;
}

BertOutput BertModel::forward(std::span<const BertSequence> batch,
                              const BertForwardOptions& options) const {
  const BertConfig& c = config();
  const Index C = c.hidden_size, H = c.num_attention_heads, d = c.head_dim(),
              F = c.intermediate_size, L = c.num_hidden_layers;
  std::vector<Segment> segs;
  Index R = 0, map_entries = 0;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    check_sequence(batch[b], b, c);
    const auto n = static_cast<Index>(batch[b].ids.size());
    segs.push_back({R, n});
    R += n;
    map_entries += L * H * n * n;
  }
  if (options.capture_maps && map_entries > options.max_map_entries) {
    throw UsageError(
        str_cat("BERT: capturing maps of this batch needs ", map_entries,
                " entries, above the bound max_map_entries = ", options.max_map_entries));
  }
  const attention::AttentionSpec base = attention_spec(options);
  const bool capture =
      options.capture_maps || options.value_norms || options.hidden_states || options.projections;
  BertOutput out;
  if (capture) out.captures.resize(batch.size());

  // Embeddings. x [R, C].
  MatrixF x(R, C), y(R, C);
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const BertSequence& s = batch[b];
    for (Index t = 0; t < segs[b].n; ++t) {
      const float* we = weights_.word_emb() + s.ids[static_cast<std::size_t>(t)] * C;
      const float* pe = weights_.pos_emb() + t * C;
      const Index type = s.types.empty() ? 0 : s.types[static_cast<std::size_t>(t)];
      const float* te = weights_.type_emb() + type * C;
      float* row = y.data() + (segs[b].begin + t) * C;
      for (Index e = 0; e < C; ++e)
        row[e] = we[e] + (options.zero_positions ? 0.0f : pe[e]) + te[e];
    }
  }
  nn::layernorm_forward(y.data(), R, C, weights_.emb_ln_w(), weights_.emb_ln_b(), c.layer_norm_eps,
                        x.data(), static_cast<float*>(nullptr), static_cast<float*>(nullptr));
  auto keep_hidden = [&] {
    if (!options.hidden_states) return;
    for (std::size_t b = 0; b < batch.size(); ++b) {
      out.captures[b].hidden.push_back(x.middleRows(segs[b].begin, segs[b].n));
    }
  };
  keep_hidden();

  MatrixF qkv(R, 3 * C), merged(R, C), ffn(R, F);
  Tensor3f q, k, v;
  attention::AttendOptions ao;
  ao.kernel = options.capture_maps ? attention::Kernel::reference : options.kernel;
  ao.weights = options.capture_maps;
  for (Index l = 0; l < L; ++l) {
    const auto p = weights_.layer(l);
    nn::linear_forward(x.data(), R, C, p.qkv_w, p.qkv_b, 3 * C, qkv.data());
    for (std::size_t b = 0; b < batch.size(); ++b) {
      const Segment& s = segs[b];
      split_heads(qkv.data(), s, H, d, q, k, v);
      attention::AttentionSpec spec = base;
      if (!batch[b].mask.empty()) spec.key_mask = batch[b].mask;
      attention::AttendResult r = attention::attend(q, k, v, spec, ao);
      out.kernel = r.kernel;
      for (Index i = 0; i < s.n; ++i) {
        float* row = merged.data() + (s.begin + i) * C;
        for (Index h = 0; h < H; ++h)
          for (Index e = 0; e < d; ++e) row[h * d + e] = r.out(h, i, e);
      }
      if (options.capture_maps) out.captures[b].maps.push_back(std::move(r.weights));
      if (options.value_norms) {
        out.captures[b].value_norms.push_back(value_output_norms(v, p.out_w, C));
      }
      if (options.projections) {
        out.captures[b].q.push_back(q);
        out.captures[b].k.push_back(k);
        out.captures[b].v.push_back(v);
      }
    }
    // x = LN1(x + merged Wo + bo)
    nn::linear_forward(merged.data(), R, C, p.out_w, p.out_b, C, x.data(), /*accumulate=*/true);
    nn::layernorm_forward(x.data(), R, C, p.ln1_w, p.ln1_b, c.layer_norm_eps, y.data(),
                          static_cast<float*>(nullptr), static_cast<float*>(nullptr));
    // x = LN2(y + GELU(y W1 + b1) W2 + b2)
    nn::linear_forward(y.data(), R, C, p.fc_w, p.fc_b, F, ffn.data());
    nn::gelu_forward(c.hidden_act, ffn.data(), R * F, ffn.data());
    nn::linear_forward(ffn.data(), R, F, p.fc2_w, p.fc2_b, C, y.data(), /*accumulate=*/true);
    nn::layernorm_forward(y.data(), R, C, p.ln2_w, p.ln2_b, c.layer_norm_eps, x.data(),
                          static_cast<float*>(nullptr), static_cast<float*>(nullptr));
    keep_hidden();
  }
  for (const Segment& s : segs) out.hidden.push_back(x.middleRows(s.begin, s.n));
  return out;
}

}  // namespace attnlab::models::bert
