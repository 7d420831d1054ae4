#include "attnlab/models/bert/sentence_embedding.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attnlab/core/error.hpp"

namespace attnlab::models::bert {

std::vector<float> mean_pool(const MatrixF& hidden, std::span<const std::uint8_t> mask) {
  const Index n = hidden.rows(), C = hidden.cols();
  if (!mask.empty() && static_cast<Index>(mask.size()) != n) {
    throw UsageError(str_cat("mean_pool: mask has ", mask.size(), " entries for ", n, " rows"));
  }
  std::vector<double> sum(static_cast<std::size_t>(C), 0.0);
  double count = 0;
  for (Index t = 0; t < n; ++t) {
    if (!mask.empty() && mask[static_cast<std::size_t>(t)] == 0) continue;
    count += 1;
    for (Index e = 0; e < C; ++e) sum[static_cast<std::size_t>(e)] += hidden(t, e);
  }
  std::vector<float> out(static_cast<std::size_t>(C));
  for (std::size_t e = 0; e < out.size(); ++e)
    out[e] = static_cast<float>(sum[e] / std::max(count, 1e-9));
  return out;
}

MatrixF embed_sentences(const BertModel& model, const WordPieceTokenizer& tokenizer,
                        std::span<const std::string> sentences, const EmbedOptions& options) {
  if (options.batch < 1)
    throw UsageError(str_cat("embed: --batch must be >= 1, got ", options.batch));
  const Index P = model.config().max_position_embeddings;
  const Index max_length = options.max_length == 0 ? std::min<Index>(256, P) : options.max_length;
  if (max_length < 2 || max_length > P) {
    throw UsageError(str_cat("embed: --max-length must be in [2, ", P,
                             "] (the model's max_position_embeddings), got ", max_length));
  }
  if (tokenizer.vocab_size() > model.config().vocab_size) {
    throw UsageError(str_cat("embed: the tokenizer (", tokenizer.source(), ") has ",
                             tokenizer.vocab_size(), " tokens, the model only ",
                             model.config().vocab_size));
  }
  const Index S = static_cast<Index>(sentences.size()), C = model.config().hidden_size;
  std::vector<BertSequence> seqs(sentences.size());
  for (std::size_t s = 0; s < sentences.size(); ++s)
    seqs[s].ids = tokenizer.encode(sentences[s], max_length);
  std::vector<std::size_t> order(sentences.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return seqs[a].ids.size() > seqs[b].ids.size();
  });
  BertForwardOptions fo;
  fo.attention = options.attention;
  MatrixF out(S, C);
  std::vector<BertSequence> chunk;
  for (Index start = 0; start < S; start += options.batch) {
    const Index end = std::min(S, start + options.batch);
    chunk.clear();
    for (Index i = start; i < end; ++i) chunk.push_back(seqs[order[static_cast<std::size_t>(i)]]);
    const BertOutput r = model.forward(chunk, fo);
    for (Index i = start; i < end; ++i) {
      std::vector<float> e = mean_pool(r.hidden[static_cast<std::size_t>(i - start)]);
      if (options.normalize) {
        double nn = 0;
        for (float x : e) nn += static_cast<double>(x) * x;
        const double scale = 1.0 / std::max(std::sqrt(nn), 1e-12);
        for (float& x : e) x = static_cast<float>(x * scale);
      }
      const auto row = static_cast<Index>(order[static_cast<std::size_t>(i)]);
      for (Index c = 0; c < C; ++c) out(row, c) = e[static_cast<std::size_t>(c)];
    }
  }
  return out;
}

}  // namespace attnlab::models::bert
