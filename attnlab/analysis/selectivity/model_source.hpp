// attnlab/analysis/selectivity/model_source.hpp — a SelectivitySource captured from a GPT-2.
//
// One forward pass over a token window (fresh cache, positions 0 .. n−1) with
// ForwardOptions::projection_layers set captures, for every chosen layer l and head h:
//   q [n, d]  the queries attention was given (after rotary positions, before 1/√d),
//   k [n, d]  the keys,
//   v [n, d]  the values,
//   x [n, C]  the residual stream entering the block (tokens = "hidden").
// Each (l, h) becomes one SelectivityHead labelled "L<l>.H<h>" with the last `queries` rows of q
// as queries, all n keys, and v (tokens = "value", SCIENCE.md §4's default) or the block input
// (tokens = "hidden") as token vectors; the source is causal, so at sweep length L' a query
// attends to the L' keys ending at its own position — the logits are the model's own q·k with
// the study's temperature (√d reproduces GPT-2's scaling).
//
// Usage:
//   ModelSourceOptions mo;  mo.layers = {0, 5, 11};  mo.queries = 16;
//   SelectivitySource src = source_from_gpt2(model, token_ids, mo, "GPT-2 124M on war.txt");
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "attnlab/analysis/selectivity/source.hpp"
#include "attnlab/models/bert/model.hpp"
#include "attnlab/models/gpt2/model.hpp"

namespace attnlab::analysis::selectivity {

struct ModelSourceOptions {
  std::vector<Index> layers;     // empty = every layer
  Index queries = 16;            // the last Q positions of the window are the queries
  std::string tokens = "value";  // "value" | "hidden"

  nlohmann::json to_json() const;
};

// UsageError for a layer outside the model, queries < 1 or > the window, an unknown tokens kind;
// InputError for a window of fewer than 2 tokens or longer than the model's n_positions (and for
// token ids outside the vocabulary, from the model).
SelectivitySource source_from_gpt2(const models::gpt2::Gpt2Model& model,
                                   std::span<const std::int32_t> tokens,
                                   const ModelSourceOptions& options, std::string description);

// The same from a BERT-family encoder: one bidirectional forward over `tokens` (usually
// "[CLS] pieces [SEP]"); q, k, v of every chosen layer and head, the block input for "hidden".
// The source is NOT causal: at sweep length L' a query attends to L' keys ending at the window's
// last position. InputError for a window of fewer than 2 tokens or more than
// max_position_embeddings; UsageError as above.
SelectivitySource source_from_bert(const models::bert::BertModel& model,
                                   std::span<const std::int32_t> tokens,
                                   const ModelSourceOptions& options, std::string description);

}  // namespace attnlab::analysis::selectivity
