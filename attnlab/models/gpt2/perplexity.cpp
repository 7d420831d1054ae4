#include "attnlab/models/gpt2/perplexity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "attnlab/core/error.hpp"

namespace attnlab::models::gpt2 {

PerplexityResult evaluate_perplexity(const Gpt2Model& model, std::span<const std::int32_t> tokens,
                                     const PerplexityOptions& o) {
  const Gpt2Config& c = model.config();
  std::vector<std::int32_t> seq;
  if (o.prepend_bos) {
    if (o.bos_id < 0 || o.bos_id >= c.vocab_size) {
      throw UsageError(str_cat("perplexity: BOS id ", o.bos_id, " outside the vocabulary"));
    }
    seq.push_back(o.bos_id);
  }
  seq.insert(seq.end(), tokens.begin(), tokens.end());
  const Index n = static_cast<Index>(seq.size());
  const Index W = o.context > 0 ? o.context : c.n_positions;
  if (W < 2 || W > c.n_positions) {
    throw UsageError(
        str_cat("perplexity: context ", W, " must be in [2, n_positions = ", c.n_positions, "]"));
  }
  const Index S = o.stride > 0 ? o.stride : std::max<Index>(1, W / 2);
  if (S < 1 || S >= W) {
    throw UsageError(
        str_cat("perplexity: stride ", S, " must be in [1, context − 1 = ", W - 1, "]"));
  }
  if (n < 2) {
    throw InputError(str_cat("perplexity: the text has ", tokens.size(),
                             " token(s); at least 2 are needed to score one prediction"));
  }
  PerplexityResult r;
  r.tokens = static_cast<Index>(tokens.size());
  r.context = W;
  r.stride = S;
  Index windows_total = 0;
  for (Index begin = 0, end = 0; end < n; begin += S) {
    end = std::min(begin + W, n);
    ++windows_total;
  }
  ForwardOptions fo;
  fo.attention = o.attention;
  fo.logits = LogitsMode::none;
  KvCache cache = model.make_cache(std::min(W, n));
  Index prev_end = 0;
  std::vector<std::int32_t> targets;
  for (Index begin = 0; prev_end < n; begin += S) {
    const Index end = std::min(begin + W, n);
    const Index len = end - begin;
    const Index first_target = std::max(prev_end, begin + 1);  // position of the first scored token
    if (first_target < end) {
      targets.assign(static_cast<std::size_t>(len), 0);
      for (Index row = 0; row + 1 < len; ++row) targets[row] = seq[begin + row + 1];
      fo.targets = targets;
      fo.score_from = first_target - 1 - begin;
      fo.score_to = len - 1;
      cache.clear();
      const ForwardResult res = model.forward(
          std::span<const std::int32_t>(seq.data() + begin, static_cast<std::size_t>(len)), cache,
          fo);
      for (double v : res.nll) r.nll_sum += v;
      r.tokens_scored += static_cast<Index>(res.nll.size());
    }
    prev_end = end;
    ++r.windows;
    if (o.on_window) o.on_window(r.windows, windows_total);
  }
  r.nll_mean = r.nll_sum / static_cast<double>(r.tokens_scored);
  r.perplexity = std::exp(r.nll_mean);
  r.bits_per_byte = o.text_bytes > 0
                        ? r.nll_sum / (std::numbers::ln2 * static_cast<double>(o.text_bytes))
                        : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(r.nll_sum)) {
    throw NumericError(str_cat(
        "perplexity: non-finite total NLL (attention: ", model.describe_attention(fo), ")"));
  }
  return r;
}

}  // namespace attnlab::models::gpt2
