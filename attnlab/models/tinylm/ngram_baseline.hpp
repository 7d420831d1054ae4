// attnlab/models/tinylm/ngram_baseline.hpp — an interpolated Witten–Bell token n-gram language
// model, the count-based baseline the tiny-LM trainer reports beside its own held-out loss.
//
// Model (interpolated Witten–Bell, orders 1..K; order k is the k-gram model, conditioning on k−1
// tokens of context — tables that label models by context length call it order k−1):
//
//   P_0(w)    = 1 / V                                                   (uniform floor)
//   P_k(w|h)  = (c(h,w) + N1+(h·) · P_{k−1}(w|h')) / (c(h) + N1+(h·))   |h| = k−1, h' = h minus
//                                                                        its oldest token
//   c(h,w) = training occurrences of h followed by w;  c(h) = Σ_w c(h,w);
//   N1+(h·) = number of distinct w with c(h,w) > 0.
//   A context never seen in training (c(h) = 0) backs off fully: P_k(w|h) = P_{k−1}(w|h').
//   At k = 1 the context is empty: c(∅) = training tokens, N1+(∅·) = distinct training tokens, so
//   the unigram is Witten–Bell interpolated with the uniform — no probability is ever 0, and
//   Σ_w P_k(w|h) = 1 exactly (up to rounding) for every h.
//
// Counts of all orders are nested, so one model trained at order K answers every order 1..K with
// one walk up the contexts (probabilities_by_order). N-grams are keys packed into 64 bits,
// ceil(log2 V) bits per token, oldest token in the high bits: orders up to 8 fit for V ≤ 256,
// up to 4 for GPT-2's V = 50257; an order whose key does not fit is a UsageError.
//
// Evaluation (evaluate_ngram_baseline): every held-out token is scored, and its context continues
// from the END of the training split — held-out token 0 is predicted from the last K−1 training
// tokens — as if held-out text followed training text in one stream (a contiguous split of one
// corpus). Bits are −log2 P in double, summed in held-out order: results are deterministic.
//
// Usage:
//   NgramBaselineOptions o;  o.min_order = 3;  o.max_order = 7;
//   NgramBaselineResult r = evaluate_ngram_baseline(train_ids, heldout_ids, vocab_size, o);
//   r.best_order, r.best_bits_per_token, r.orders[i].bits_per_token, r.to_json()
//
//   WittenBellModel m(train_ids, vocab_size, /*max_order=*/5);
//   double p = m.probability(context, token, /*order=*/3);   // uses the last 2 context tokens
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace attnlab::models::tinylm {

// Witten–Bell counts of every order 1..max_order over one training sequence. Immutable after
// construction; lookups are const and thread-safe.
class WittenBellModel {
 public:
  // UsageError for vocab_size < 1, max_order outside [1, 8], a key that does not fit 64 bits,
  // empty train, more than 2^32 − 1 train tokens, or a token outside [0, vocab_size).
  WittenBellModel(std::span<const std::int32_t> train, std::int32_t vocab_size, int max_order);
  ~WittenBellModel();
  WittenBellModel(WittenBellModel&&) noexcept;
  WittenBellModel& operator=(WittenBellModel&&) noexcept;

  int max_order() const { return max_order_; }
  std::int32_t vocab_size() const { return vocab_size_; }
  std::int64_t train_tokens() const { return train_tokens_; }

  // P_order(token | the last order−1 tokens of context); a shorter context uses all of it, as
  // unseen longer contexts would (full backoff). UsageError for order outside [1, max_order] or a
  // token outside [0, vocab_size).
  double probability(std::span<const std::int32_t> context, std::int32_t token, int order) const;
  // out[k−1] = P_k(token | context) for k = 1..out.size(); out.size() ≤ max_order.
  void probabilities_by_order(std::span<const std::int32_t> context, std::int32_t token,
                              std::span<double> out) const;

 private:
  struct Tables;
  std::unique_ptr<Tables> tables_;
  int max_order_ = 0;
  std::int32_t vocab_size_ = 0;
  std::int64_t train_tokens_ = 0;
};

struct NgramOrderResult {
  int order = 0;
  double bits_per_token = 0;
  double nats_per_token = 0;
};

struct NgramBaselineResult {
  double unigram_entropy_bits = 0;       // plug-in entropy of the train split's unigram
  double unigram_heldout_bits = 0;       // held-out cross-entropy under add-one train unigram
  std::vector<NgramOrderResult> orders;  // min_order..max_order, ascending
  int best_order = 0;                    // lowest bits (the lower order on a tie)
  double best_bits_per_token = 0;
  std::int64_t train_tokens = 0, heldout_tokens = 0;
  nlohmann::json to_json() const;
};

struct NgramBaselineOptions {
  int min_order = 3;
  int max_order = 7;
};

// Trains on train, scores every heldout token at every order min..max (context continuing from
// train, see above). UsageError for vocab_size < 1, min_order < 1, max_order < min_order,
// max_order > 8, empty train or heldout, or a token outside [0, vocab_size).
NgramBaselineResult evaluate_ngram_baseline(std::span<const std::int32_t> train,
                                            std::span<const std::int32_t> heldout,
                                            std::int32_t vocab_size,
                                            const NgramBaselineOptions& options = {});

}  // namespace attnlab::models::tinylm
