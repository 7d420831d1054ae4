#include "attnlab/analysis/tradeoff/streaming.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/nn/layers/rope.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

using models::gpt2::ForwardOptions;
using models::gpt2::ForwardResult;
using models::gpt2::Gpt2Config;
using models::gpt2::Gpt2Model;
using models::gpt2::KvCache;
using models::gpt2::LogitsMode;
using models::gpt2::PositionMode;

// Positions added to the residual stream: a cached row carries its position in K and V.
bool absolute_positions(PositionMode p) {
  return p == PositionMode::learned || p == PositionMode::sinusoidal;
}

void check_inputs(const Gpt2Model& model, std::span<const std::int32_t> tokens,
                  const StreamPolicy& p, Index bucket) {
  const Gpt2Config& c = model.config();
  if (p.window < 1)
    throw UsageError(str_cat("stream_perplexity: window must be >= 1, got ", p.window));
  if (p.sinks < 0)
    throw UsageError(str_cat("stream_perplexity: sinks must be >= 0, got ", p.sinks));
  if (p.sinks + p.window > c.n_positions) {
    throw UsageError(str_cat("stream_perplexity: sinks + window = ", p.sinks, " + ", p.window,
                             " = ", p.sinks + p.window,
                             " exceeds the model's n_positions = ", c.n_positions));
  }
  if (tokens.size() < 2) {
    throw UsageError(str_cat("stream_perplexity: a stream needs at least 2 tokens (one to read, ",
                             "one to score), got ", tokens.size()));
  }
  if (bucket < 1) throw UsageError(str_cat("stream_perplexity: bucket must be >= 1, got ", bucket));
  if (!p.recompute && absolute_positions(c.position_mode)) {
    throw UsageError(str_cat("stream_perplexity: policy ", p.label(),
                             " re-assigns positions by cache slot, but this model adds ",
                             to_string(c.position_mode),
                             " absolute positions to its residual stream, so a cached row cannot "
                             "move to another position; use recompute = true (sliding window "
                             "with re-computation)"));
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      throw InputError(str_cat("stream_perplexity: token id ", tokens[i], " at stream index ", i,
                               " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
}

// Drops token row `slot` (K and V of every layer and head) and moves the later token rows down
// one; the learnable-sink prefix row is never touched.
void erase_token_row(KvCache& cache, Index slot) {
  const Index d = cache.head_dim(), row = cache.prefix() + slot, end = cache.length();
  const auto bytes = static_cast<std::size_t>((end - row - 1) * d) * sizeof(float);
  for (Index l = 0; l < cache.layers(); ++l)
    for (Index h = 0; h < cache.heads(); ++h) {
      float* K = cache.keys(l, h);    // [capacity, d]
      float* V = cache.values(l, h);  // [capacity, d]
      std::memmove(K + row * d, K + (row + 1) * d, bytes);
      std::memmove(V + row * d, V + (row + 1) * d, bytes);
    }
  cache.set_length(end - 1);
}

// Unrotated keys k⁰ of a RoPE model's token rows, kept beside the cache so that a row moved to
// slot s gets R(s)·k⁰ computed afresh with the model's own table (never a chain of rotations).
class UnrotatedKeys {
 public:
  UnrotatedKeys(const KvCache& cache, Index positions)
      : rope_(positions, cache.head_dim()),
        layers_(cache.layers()),
        heads_(cache.heads()),
        rows_(cache.capacity()),
        d_(cache.head_dim()),
        k0_(static_cast<std::size_t>(layers_ * heads_ * rows_ * d_)) {}

  // k⁰ of the token in `slot` from the key R(slot)·k⁰ the model just wrote there.
  void record(const KvCache& cache, Index slot) {
    for (Index l = 0; l < layers_; ++l)
      for (Index h = 0; h < heads_; ++h) {
        float* k0 = row(l, h, slot);
        const float* k = cache.keys(l, h) + (cache.prefix() + slot) * d_;
        std::copy(k, k + d_, k0);
        rope_.rotate_back(k0, 1, slot);
      }
  }

  // Drops slot `slot` of `count` used slots, moving the later ones down one (erase_token_row's
  // twin).
  void erase(Index slot, Index count) {
    const auto bytes = static_cast<std::size_t>((count - slot - 1) * d_) * sizeof(float);
    for (Index l = 0; l < layers_; ++l)
      for (Index h = 0; h < heads_; ++h) std::memmove(row(l, h, slot), row(l, h, slot + 1), bytes);
  }

  // The cache's key of every slot s in [from, to) becomes R(s)·k⁰.
  void rotate_into(KvCache& cache, Index from, Index to) const {
    for (Index l = 0; l < layers_; ++l)
      for (Index h = 0; h < heads_; ++h) {
        float* K = cache.keys(l, h) + cache.prefix() * d_;  // token rows [capacity, d]
        std::copy(row(l, h, from), row(l, h, to), K + from * d_);
        rope_.rotate(K + from * d_, to - from, from);
      }
  }

 private:
  float* row(Index l, Index h, Index slot) {
    return k0_.data() + ((l * heads_ + h) * rows_ + slot) * d_;
  }
  const float* row(Index l, Index h, Index slot) const {
    return k0_.data() + ((l * heads_ + h) * rows_ + slot) * d_;
  }

  nn::RopeTable rope_;  // [positions, d/2] the same angles as the model's table
  Index layers_, heads_, rows_, d_;
  std::vector<float> k0_;  // [L, H, rows, d]
};

// Slot policy: one cache of S + W token rows; before a step that would overflow it, the oldest
// non-sink row goes (and a RoPE model's moved keys are re-rotated to their new slots).
std::vector<double> stream_slots(const Gpt2Model& model, std::span<const std::int32_t> tokens,
                                 const StreamPolicy& p) {
  const Index n = static_cast<Index>(tokens.size()), full = p.sinks + p.window;
  KvCache cache = model.make_cache(full);
  std::optional<UnrotatedKeys> unrotated;
  if (model.config().position_mode == PositionMode::rope)
    unrotated.emplace(cache, model.config().n_positions);
  ForwardOptions o;
  o.logits = LogitsMode::none;
  std::vector<double> nll(static_cast<std::size_t>(n - 1));
  for (Index t = 0; t + 1 < n; ++t) {
    if (cache.tokens() == full) {
      erase_token_row(cache, p.sinks);
      if (unrotated) {
        unrotated->erase(p.sinks, full);
        unrotated->rotate_into(cache, p.sinks, full - 1);
      }
    }
    const std::int32_t target[1] = {tokens[t + 1]};
    o.targets = target;
    const ForwardResult r = model.forward(tokens.subspan(t, 1), cache, o);
    if (unrotated) unrotated->record(cache, cache.tokens() - 1);
    nll[static_cast<std::size_t>(t)] = r.nll.front();
  }
  return nll;
}

// What step t keeps: x_0 .. x_t while that fits in S + W rows, else the S sinks followed by
// x_{t−W+1} .. x_t.
void kept_context(std::span<const std::int32_t> tokens, Index t, const StreamPolicy& p,
                  std::vector<std::int32_t>& context) {
  const auto begin = tokens.begin();
  if (t + 1 <= p.sinks + p.window) {
    context.assign(begin, begin + t + 1);
    return;
  }
  context.assign(begin, begin + p.sinks);
  context.insert(context.end(), begin + t + 1 - p.window, begin + t + 1);
}

// Recompute policy: a fresh forward over the kept context at every step, its last row scored.
std::vector<double> stream_recompute(const Gpt2Model& model, std::span<const std::int32_t> tokens,
                                     const StreamPolicy& p) {
  const Index n = static_cast<Index>(tokens.size());
  KvCache cache = model.make_cache(p.sinks + p.window);
  ForwardOptions o;
  o.logits = LogitsMode::none;
  std::vector<std::int32_t> context, targets;
  std::vector<double> nll(static_cast<std::size_t>(n - 1));
  for (Index t = 0; t + 1 < n; ++t) {
    kept_context(tokens, t, p, context);
    targets.assign(context.size(), 0);  // only the last row is scored
    targets.back() = tokens[t + 1];
    o.targets = targets;
    o.score_from = static_cast<Index>(context.size()) - 1;
    cache.clear();  // keeps the learnable-sink slot in prefix row 0
    const ForwardResult r = model.forward(context, cache, o);
    nll[static_cast<std::size_t>(t)] = r.nll.front();
  }
  return nll;
}

// mean_nll, perplexity and bucket_nll from r.nll; NumericError on a non-finite step.
void summarize(StreamResult& r) {
  double total = 0.0;
  for (std::size_t t = 0; t < r.nll.size(); ++t) {
    if (!std::isfinite(r.nll[t])) {
      throw NumericError(str_cat("stream_perplexity: policy ", r.policy.label(), ": NLL ", r.nll[t],
                                 " at step ", t, " is not finite"));
    }
    total += r.nll[t];
  }
  r.mean_nll = total / static_cast<double>(r.scored);
  r.perplexity = std::exp(r.mean_nll);
  const Index buckets = (r.scored + r.bucket - 1) / r.bucket;
  r.bucket_nll.assign(static_cast<std::size_t>(buckets), 0.0);
  for (Index k = 0; k < buckets; ++k) {
    const Index lo = k * r.bucket, hi = std::min(r.scored, lo + r.bucket);
    double sum = 0.0;
    for (Index t = lo; t < hi; ++t) sum += r.nll[static_cast<std::size_t>(t)];
    r.bucket_nll[static_cast<std::size_t>(k)] = sum / static_cast<double>(hi - lo);
  }
}

}  // namespace

std::string StreamPolicy::label() const {
  const std::string kept = recompute && sinks == 0 ? str_cat(window) : str_cat(sinks, "+", window);
  return recompute ? "recompute " + kept : kept;
}

std::size_t stream_kv_bytes(const Gpt2Config& c, const StreamPolicy& p) {
  const Index prefix = c.attention.learnable_sink ? 1 : 0;
  return static_cast<std::size_t>(c.n_layer * 2 * (prefix + p.sinks + p.window) * c.n_embd) *
         sizeof(float);
}

StreamResult stream_perplexity(const Gpt2Model& model, std::span<const std::int32_t> tokens,
                               const StreamPolicy& policy, Index bucket) {
  check_inputs(model, tokens, policy, bucket);
  const Timer timer;
  StreamResult r;
  r.policy = policy;
  r.scored = static_cast<Index>(tokens.size()) - 1;
  r.bucket = bucket;
  r.kv_bytes = stream_kv_bytes(model.config(), policy);
  r.nll = policy.recompute ? stream_recompute(model, tokens, policy)
                           : stream_slots(model, tokens, policy);
  summarize(r);
  r.seconds = timer.seconds();
  return r;
}

nlohmann::json to_json(const StreamResult& r) {
  return {
      {"policy", r.policy.label()},      {"sinks", r.policy.sinks}, {"window", r.policy.window},
      {"recompute", r.policy.recompute}, {"scored", r.scored},      {"mean_nll", r.mean_nll},
      {"perplexity", r.perplexity},      {"bucket", r.bucket},      {"bucket_nll", r.bucket_nll},
      {"kv_bytes", r.kv_bytes},          {"seconds", r.seconds}};
}

}  // namespace attnlab::analysis::tradeoff
