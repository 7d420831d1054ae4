// attnlab/models/bert/sentence_embedding.hpp — sentence-transformers' embedding of a BERT encoder.
//
// all-MiniLM-L6-v2's pipeline (modules.json: Transformer → Pooling → Normalize):
//   ids  = [CLS] wordpieces [SEP], at most max_length (256) ids
//   h    = BertModel(ids)                                  // [n, C] last_hidden_state
//   e    = Σ_t m_t h_t / max(Σ_t m_t, 1e-9)                // mean over real tokens, [CLS] and
//                                                          // [SEP] included (m = attention mask)
//   out  = e / max(‖e‖₂, 1e-12)                            // when normalize is on
// Sentences are sorted by token count and run in batches of `batch` (no padding is computed:
// BertModel packs the batch); the result is in input order and does not depend on the batch size
// beyond fp32 rounding of the GEMMs (tested).
//
// Usage:
//   MatrixF e = embed_sentences(model, tok, {"The weather is lovely today.", "..."});  // [S, C]
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/models/bert/model.hpp"
#include "attnlab/models/bert/wordpiece_tokenizer.hpp"

namespace attnlab::models::bert {

struct EmbedOptions {
  Index batch = 32;       // sentences per forward call
  Index max_length = 0;   // ids per sentence, [CLS] and [SEP] included; 0 = min(256, P)
                          // (256: sentence-transformers' limit for all-MiniLM-L6-v2)
  bool normalize = true;  // L2-normalize (the Normalize module)
  std::optional<attention::AttentionSpec> attention;  // inference override
};

// Mean of the rows of hidden [n, C] whose mask is nonzero (all rows when mask is empty): [C].
std::vector<float> mean_pool(const MatrixF& hidden, std::span<const std::uint8_t> mask = {});

// UsageError for batch < 1 or max_length < 2 or above the model's positions.
MatrixF embed_sentences(const BertModel& model, const WordPieceTokenizer& tokenizer,
                        std::span<const std::string> sentences, const EmbedOptions& options = {});

}  // namespace attnlab::models::bert
