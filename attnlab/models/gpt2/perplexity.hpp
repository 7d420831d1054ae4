// attnlab/models/gpt2/perplexity.hpp — perplexity of a GPT-2 on a token sequence with a sliding
// evaluation window, under any attention override.
//
// Windows (the strided evaluation of Hugging Face's perplexity guide): window k covers tokens
// [k·S, min(k·S + W, n)) with W = context and S = stride; it scores only the tokens not scored
// by an earlier window, each predicted from everything before it inside the window, so every
// scored token sees between W − S and W − 1 tokens of context (fewer at the start). Each window
// is a fresh forward pass (no state carried between windows). Token 0 has no prediction and is
// not scored — unless prepend_bos puts <|endoftext|> in front, as GPT-2 saw it in training.
//
//   nll_mean   = (1/T) Σ −ln p(x_t | window context)           over the T scored tokens (nats)
//   perplexity = exp(nll_mean);  bits_per_byte = Σ nll / (ln 2 · bytes of the text)
//
// The attention override (ForwardOptions::attention) applies to every layer of every window: a
// window=64 spec measures what a 64-token sliding window costs against full attention with the
// same evaluation windows.
//
// Usage:
//   PerplexityOptions o;  o.context = 1024;  o.stride = 512;
//   PerplexityResult r = evaluate_perplexity(model, ids, o);   // r.perplexity, r.tokens_scored
#pragma once

#include <optional>

#include <cstdint>
#include <functional>
#include <span>

#include "attnlab/models/gpt2/model.hpp"

namespace attnlab::models::gpt2 {

struct PerplexityOptions {
  Index context = 0;  // W; 0 = n_positions
  Index stride = 0;   // S; 0 = W / 2
  bool prepend_bos = false;
  std::int32_t bos_id = 50256;
  Index text_bytes = 0;  // for bits per byte (0 = not reported)
  // The override; unset = the model's own attention (GPT-2's full causal softmax for its files).
  std::optional<attention::AttentionSpec> attention;
  // Called after each window with (windows done, windows total).
  std::function<void(Index, Index)> on_window;
};

struct PerplexityResult {
  Index tokens = 0;         // tokens of the text (before BOS)
  Index tokens_scored = 0;  // T
  Index windows = 0;
  Index context = 0, stride = 0;
  double nll_sum = 0;   // nats
  double nll_mean = 0;  // nats per token
  double perplexity = 0;
  double bits_per_byte = 0;  // NaN when text_bytes is 0
};

// UsageError for bad options (context < 2, stride outside [1, context − 1] unless the text fits
// one window, context > n_positions), InputError for fewer than 2 tokens to score.
PerplexityResult evaluate_perplexity(const Gpt2Model& model, std::span<const std::int32_t> tokens,
                                     const PerplexityOptions& options);

}  // namespace attnlab::models::gpt2
