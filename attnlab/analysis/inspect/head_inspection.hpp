// attnlab/analysis/inspect/head_inspection.hpp — what every head of a GPT-2 does on a text
// (SCIENCE.md §5): per layer × head diagnostics, labels, a few attention maps, and an order test.
//
// The text's tokens are cut into chunks of `context` tokens; each chunk is one forward pass from
// an empty cache (positions 0..context−1), with the row statistics streamed out of the attention
// kernel (models/gpt2/model.hpp, attention/row_diagnostics.hpp) and summed per (layer, head) —
// no n × n map is stored. "Rows" below are the queries at position t ≥ 1 of every chunk (the
// query at position 0 sees one key and says nothing). Per head:
//
//   norm_entropy       mean H(α)/log n over rows with n ≥ 2 visible keys          in [0, 1]
//   entropy            mean H(α) in nats
//   effective_support  mean e^H: how many keys a row effectively reads
//   support_share      mean e^H / n
//   sink_mass          mean α on key 0 (the chunk's first token)
//   self_mass          mean α on the query's own position
//   prev_mass          mean α on the previous position
//   max_weight         mean max_j α
//   sparsity           share of all visible entries below 1% of their row's max (H2O's measure)
//   top8_mass          mean mass of the 8 largest weights, over rows with more than 8 keys
//   wasted_share       share of all visible entries (= of the QKᵀ and PV work) that carry < 1%
//                      of their row's mass
//   wasted_mass        mean total mass carried by those entries
// Labels (thresholds are options, recorded in the result):
//   sink        sink_mass > 0.3 (the ε of Gu et al.'s sink metric, SCIENCE.md §5)
//   overloaded  norm_entropy > 0.9: attention spread almost uniformly over the context
//   collapsed   sink_mass > 0.9 or self_mass > 0.9: nearly all mass on one fixed position that
//               carries no content-dependent choice (always the first token, or always itself).
//               A previous-token head (prev_mass > 0.9) is NOT collapsed: where it looks is fixed
//               but what it moves is the neighbour's information, an informative pattern.
//   Labels are not exclusive (a head can be sink and collapsed); "—" = none.
//
// Maps: full attention maps of a few heads on the first `map_tokens` tokens (explicit requests,
// or automatically the heads with the largest sink mass, lowest and highest normalized entropy
// and largest previous-token mass), captured through the model's bounded capture.
//
// Order test: the first `order_tokens` tokens and a seeded permutation π of them. For each
// position encoding (none, sinusoidal, learned, RoPE, ALiBi — substituted for GPT-2's learned
// table at inference, model.hpp) and each masking (causal, bidirectional), the relative change
//   δ_l = ‖π(h_l(x)) − h_l(π(x))‖_F / ‖h_l(x)‖_F
// of the residual stream after block l (and after the final LayerNorm). δ ≈ 1e-7 (fp32 noise)
// means the network is permutation-equivariant: it cannot know the order. Only bidirectional
// attention without positions is; the causal mask alone already encodes order.
//
// Usage:
//   InspectResult r = inspect_gpt2_heads(model, tokens, &tokenizer, {}, source);
//   nlohmann::json j = to_json(r);   InspectResult back = inspect_from_json(j);
#pragma once

#include <optional>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/model.hpp"

namespace attnlab::analysis {

struct InspectOptions {
  Index context = 0;     // tokens per chunk; 0 = the model's n_positions
  Index max_tokens = 0;  // 0 = all tokens of the text
  std::optional<attention::AttentionSpec> attention;  // inference override; unset = the model's own
  double sink_threshold = 0.3;
  double overloaded_threshold = 0.9;
  double collapsed_threshold = 0.9;
  std::vector<models::gpt2::MapRequest> maps;  // empty = automatic selection
  Index auto_maps = 4;
  Index map_tokens = 40;
  bool order_test = true;
  Index order_tokens = 64;
  std::uint64_t seed = 0;
  std::function<void(Index done, Index total)> on_chunk;  // progress
};

// Where the model, tokenizer and text came from (recorded, shown by the report).
struct InspectSource {
  std::string model;  // path, or how the random model was made
  bool random_weights = false;
  std::string tokenizer;  // path or description
  std::string text;       // path or description
};

struct HeadDiagnostics {
  Index layer = 0, head = 0;
  Index rows = 0;     // queries at position >= 1 over all chunks
  Index entries = 0;  // visible (query, key) entries of those rows
  double norm_entropy = 0, entropy = 0, effective_support = 0, support_share = 0;
  double sink_mass = 0, self_mass = 0, prev_mass = 0, max_weight = 0;
  double sparsity = 0, top8_mass = 0, wasted_share = 0, wasted_mass = 0;
  bool sink = false, overloaded = false, collapsed = false;
  std::string collapsed_on;    // "first token" / "current token" / ""
  std::string labels() const;  // "sink, collapsed" or "—"
};

struct HeadMap {
  Index layer = 0, head = 0;
  std::string why;                  // e.g. "largest sink mass"
  std::vector<std::string> tokens;  // [n] token text (raw bytes)
  MatrixD weights;                  // [n, n]; NaN above the diagonal (masked)
};

struct OrderTestRow {
  std::string positions;  // none | sinusoidal | learned | rope | alibi
  bool causal = true;
  std::vector<double> per_layer;  // [L] δ after each block
  double final_change = 0;        // δ after the final LayerNorm
};

struct InspectResult {
  InspectSource source;
  std::string model_description;
  Index n_layer = 0, n_head = 0, n_embd = 0, n_positions = 0, vocab_size = 0;
  std::string positions = "learned";  // the model's own position mode (config.json)
  std::string attention;              // the override, in words
  nlohmann::json attention_spec;
  double sink_threshold = 0.3, overloaded_threshold = 0.9, collapsed_threshold = 0.9;
  Index text_bytes = 0, tokens = 0, chunks = 0, context = 0, rows = 0;
  std::vector<HeadDiagnostics> heads;  // [L·H], layer-major
  std::vector<HeadMap> maps;
  Index order_tokens = 0;
  std::uint64_t seed = 0;
  std::vector<OrderTestRow> order;

  const HeadDiagnostics& at(Index layer, Index head) const {
    return heads[static_cast<std::size_t>(layer * n_head + head)];
  }
  // Share of all visible entries of all heads below 1% of their row max.
  double overall_sparsity() const;
};

// UsageError for fewer than 2 tokens or bad options.
InspectResult inspect_gpt2_heads(const models::gpt2::Gpt2Model& model,
                                 std::span<const std::int32_t> tokens,
                                 const models::gpt2::BpeTokenizer* tokenizer,
                                 const InspectOptions& options, InspectSource source,
                                 Index text_bytes = 0);

nlohmann::json to_json(const InspectResult& result);
// FormatError when the JSON does not have the shape to_json writes.
InspectResult inspect_from_json(const nlohmann::json& j);

}  // namespace attnlab::analysis
