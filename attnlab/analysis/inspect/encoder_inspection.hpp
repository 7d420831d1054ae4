// attnlab/analysis/inspect/encoder_inspection.hpp — what every head of a BERT-family encoder does
// on a text: special-token sinks ([CLS], [SEP], punctuation) raw and norm-weighted, spread,
// sparsity, positional heads, labels, maps and an order test (SCIENCE.md §5 for encoders).
//
// Segments. The text's non-empty lines are WordPiece-tokenized and packed greedily into segments
// of at most `max_length` ids, each "[CLS] pieces [SEP]" (a line longer than a segment is cut);
// every segment is one bidirectional forward with all maps [H, n, n] and value-output norms
// captured (models/bert/model.hpp). Rows are all query positions of all segments, special tokens
// included (Clark et al. 2019's averaging). Per head, means over rows of:
//   cls_mass, sep_mass     α on [CLS] (position 0) and on [SEP] tokens
//   punct_mass             α on tokens that are one punctuation character ("." "," "!" ...)
//   self_mass, prev_mass, next_mass   α on the query's own, previous and next position
//   entropy                H(α) in nats; norm_entropy = H / ln n
//   max_weight             max_j α
//   sparsity               share of entries below 1% of their row's max (as for GPT-2)
//   wasted_share           share of entries carrying < 1% of their row's mass
// Norm-weighted view (Kobayashi et al. 2020): key j's contribution to query i through head h is
// α_ij f_h(x_j), f_h(x_j) = (x_j Wv_h + bv_h) Wo_h; with w_ij = α_ij ‖f_h(x_j)‖ / Σ_j' α_ij'
// ‖f_h(x_j')‖ the same class masses are reported as nw_cls_mass, nw_sep_mass, nw_punct_mass;
// value_norm_cls / value_norm_sep / value_norm_other are the mean ‖f_h‖ of [CLS] keys, of [SEP]
// keys and of all other keys.
// Per layer, the means over heads of these numbers.
// Labels: sink (cls + sep + punct mass > sink_threshold), broad (norm_entropy > overloaded_
// threshold), collapsed (one fixed target — [CLS], [SEP] or self — above collapsed_threshold),
// positional (prev or next mass > 0.5).
//
// Maps: the first segment's first `map_tokens` rows/columns for requested heads, or automatically
// the heads with the largest [SEP] mass, the largest [CLS] mass, the highest normalized entropy
// and the largest previous-token mass.
//
// Order test: the first segment (cut to order_tokens ids, ending in [SEP]) with its interior tokens ([CLS] and [SEP] stay) permuted by a
// seeded π; δ_l = ‖π(h_l(x)) − h_l(π(x))‖_F / ‖h_l(x)‖_F after the embeddings and every block,
// for the model's learned positions and with positions removed. Without positions a bidirectional
// encoder is permutation-equivariant (δ ≈ fp32 noise): it cannot see order at all.
//
// Usage:
//   EncoderInspectResult r = inspect_encoder_heads(model, tok, text, {}, "MiniLM", "kjv.txt");
//   nlohmann::json j = to_json(r);
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/models/bert/model.hpp"
#include "attnlab/models/bert/wordpiece_tokenizer.hpp"

namespace attnlab::analysis {

struct EncoderInspectOptions {
  Index max_length = 0;  // ids per segment, [CLS] and [SEP] included; 0 = min(128, P)
  Index max_tokens = 0;  // stop after the segment that reaches this many ids; 0 = all
  std::vector<std::pair<Index, Index>> maps;          // (layer, head) to show; empty = automatic
  std::optional<attention::AttentionSpec> attention;  // inference override
  double sink_threshold = 0.5;
  double overloaded_threshold = 0.9;
  double collapsed_threshold = 0.9;
  Index auto_maps = 4;
  Index map_tokens = 40;
  bool order_test = true;
  Index order_tokens = 64;  // ids of the first segment in the order test, [CLS]/[SEP] included
  std::uint64_t seed = 0;
  std::function<void(Index done, Index total)> on_segment;  // progress
};

struct EncoderHead {
  Index layer = 0, head = 0;
  double cls_mass = 0, sep_mass = 0, punct_mass = 0, self_mass = 0, prev_mass = 0, next_mass = 0;
  double entropy = 0, norm_entropy = 0, max_weight = 0, sparsity = 0, wasted_share = 0;
  double nw_cls_mass = 0, nw_sep_mass = 0, nw_punct_mass = 0;
  double value_norm_cls = 0, value_norm_sep = 0, value_norm_other = 0;
  std::vector<std::string> labels;  // e.g. {"sink", "collapsed on [SEP]"}
};

struct EncoderLayer {
  double cls_mass = 0, sep_mass = 0, punct_mass = 0, nw_cls_mass = 0, nw_sep_mass = 0,
         nw_punct_mass = 0, norm_entropy = 0, entropy = 0, sparsity = 0, wasted_share = 0,
         value_norm_cls = 0, value_norm_sep = 0, value_norm_other = 0;
};

struct EncoderMap {
  Index layer = 0, head = 0;
  std::string why;
  std::vector<std::string> tokens;  // [n]
  MatrixD weights;                  // [n, n]
};

struct EncoderOrderRow {
  std::string positions;          // "learned" (the model's own) or "none"
  std::vector<double> per_layer;  // [L + 1]: after the embeddings, then after each block
};

struct EncoderInspectResult {
  std::string model, model_description, text, attention;
  Index n_layer = 0, n_head = 0, segments = 0, tokens = 0, rows = 0, max_length = 0;
  double mean_segment_length = 0;
  double sink_threshold = 0.5, overloaded_threshold = 0.9, collapsed_threshold = 0.9;
  std::vector<EncoderHead> heads;  // [L·H], layer-major
  std::vector<EncoderLayer> layers;
  std::vector<EncoderMap> maps;
  std::vector<EncoderOrderRow> order;
  Index order_tokens = 0;
  std::uint64_t seed = 0;

  const EncoderHead& at(Index layer, Index head) const {
    return heads[static_cast<std::size_t>(layer * n_head + head)];
  }
};

// The segments a text becomes (exposed for tests): each "[CLS] ... [SEP]", ≤ max_length ids;
// with max_tokens > 0 tokenization stops once the finished segments hold that many ids.
std::vector<std::vector<std::int32_t>> encoder_segments(const models::bert::WordPieceTokenizer& tok,
                                                        std::string_view text, Index max_length,
                                                        Index max_tokens = 0);

// UsageError for bad options; InputError when the text yields no token.
EncoderInspectResult inspect_encoder_heads(const models::bert::BertModel& model,
                                           const models::bert::WordPieceTokenizer& tok,
                                           std::string_view text,
                                           const EncoderInspectOptions& options,
                                           std::string model_source, std::string text_source);

nlohmann::json to_json(const EncoderInspectResult& r);

}  // namespace attnlab::analysis
