#include "attnlab/models/tinylm/lm_dataset.hpp"

#include <cstdio>

#include <algorithm>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::models::tinylm {
namespace {

// One window of seq inputs starting at `start` of `tokens`; targets past the end (or the last
// row when `drop_last`) are −1.
void put_window(const std::vector<std::int32_t>& tokens, std::size_t start, Index seq,
                bool drop_last, Batch& b) {
  for (Index t = 0; t < seq; ++t) {
    const std::size_t i = start + static_cast<std::size_t>(t);
    b.tokens.push_back(i < tokens.size() ? tokens[i] : 0);
    const bool scored = i + 1 < tokens.size() && !(drop_last && t == seq - 1);
    b.targets.push_back(scored ? tokens[i + 1] : -1);
  }
  ++b.rows;
}

std::vector<Batch> pack(const std::vector<std::int32_t>& tokens,
                        const std::vector<std::size_t>& starts, Index seq, Index rows,
                        bool drop_last) {
  std::vector<Batch> out;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    if (k % static_cast<std::size_t>(rows) == 0) {
      out.emplace_back();
      out.back().seq = seq;
    }
    put_window(tokens, starts[k], seq, drop_last, out.back());
  }
  return out;
}

}  // namespace

Batch LmDataset::train_batch(Index rows, Index seq, std::uint64_t seed, std::int64_t step) const {
  if (rows < 1 || seq < 1 || static_cast<Index>(train.size()) < seq + 1) {
    throw UsageError(str_cat("train batch: need rows >= 1 and a train split longer than the ",
                             "context (", seq, " + 1 tokens); the split has ", train.size()));
  }
  Batch b;
  b.seq = seq;
  Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(step));
  const auto span = static_cast<std::uint64_t>(train.size()) - static_cast<std::uint64_t>(seq);
  for (Index r = 0; r < rows; ++r) {
    const auto start = static_cast<std::size_t>(rng.uniform_int(span));
    put_window(train, start, seq, false, b);
  }
  return b;
}

std::vector<Batch> LmDataset::eval_windows(Index seq, Index count, Index rows) const {
  if (seq < 1 || count < 1 || rows < 1) {
    throw UsageError("eval windows: seq, count and rows must be >= 1");
  }
  if (static_cast<Index>(val.size()) < seq + 1) return full_validation(seq, rows);
  const std::size_t span = val.size() - static_cast<std::size_t>(seq) - 1;
  std::vector<std::size_t> starts;
  for (Index k = 0; k < count; ++k) {
    starts.push_back(
        count > 1 ? span * static_cast<std::size_t>(k) / static_cast<std::size_t>(count - 1) : 0);
  }
  return pack(val, starts, seq, rows, false);
}

std::vector<Batch> LmDataset::full_validation(Index seq, Index rows) const {
  if (seq < 2 || rows < 1) throw UsageError("full validation: seq must be >= 2 and rows >= 1");
  std::vector<std::size_t> starts;
  const auto stride = static_cast<std::size_t>(seq - 1);
  for (std::size_t s = 0; s + 1 < val.size(); s += stride) starts.push_back(s);
  return pack(val, starts, seq, rows, true);
}

nlohmann::json LmDataset::to_json() const {
  return {{"corpus", corpus_source},
          {"corpus_sha256", corpus_sha256},
          {"corpus_bytes", corpus_bytes},
          {"tokenizer", tokenizer},
          {"vocab_size", vocab_size},
          {"split",
           [&] {
             char f[32];
             std::snprintf(f, sizeof f, "%.6g", train_fraction);
             return str_cat("contiguous: first floor(", f,
                            " * n) tokens train, the rest validation");
           }()},
          {"train_tokens", train.size()},
          {"val_tokens", val.size()}};
}

LmDataset make_lm_dataset(const io::TextCorpus& corpus, const gpt2::BpeTokenizer& tokenizer,
                          std::string tokenizer_name, double train_fraction) {
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) {
    throw UsageError(str_cat("dataset: train fraction must be in (0, 1), got ", train_fraction));
  }
  LmDataset ds;
  ds.corpus_source = corpus.source;
  ds.corpus_sha256 = corpus.sha256;
  ds.corpus_bytes = corpus.text.size();
  ds.tokenizer = std::move(tokenizer_name);
  ds.vocab_size = tokenizer.vocab_size();
  ds.train_fraction = train_fraction;
  const std::vector<std::int32_t> ids = tokenizer.encode(corpus.text);
  const auto cut = static_cast<std::size_t>(train_fraction * static_cast<double>(ids.size()));
  if (cut < 2 || ids.size() - cut < 2) {
    throw InputError(str_cat("dataset: '", corpus.source, "' gives ", ids.size(),
                             " tokens; both splits need at least 2 (train fraction ",
                             train_fraction, ")"));
  }
  ds.train.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(cut));
  ds.val.assign(ids.begin() + static_cast<std::ptrdiff_t>(cut), ids.end());
  ds.val_text = tokenizer.decode(ds.val);
  return ds;
}

}  // namespace attnlab::models::tinylm
