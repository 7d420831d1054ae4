#include "attnlab/models/tinylm/ngram_baseline.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>

#include "attnlab/core/error.hpp"

namespace attnlab::models::tinylm {
namespace {

constexpr int kMaxOrder = 8;

// Open-addressing (linear probing) map from a packed n-gram key to its counts. A slot is empty
// while its count is 0: every stored n-gram occurred at least once.
class CountTable {
 public:
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t count = 0;       // c(g): occurrences of the n-gram g
    std::uint32_t successors = 0;  // N1+(g·): distinct tokens seen right after g
  };

  CountTable() : slots_(1024) {}

  // Counts one occurrence of key; true when key was new.
  bool add_occurrence(std::uint64_t key) {
    if ((size_ + 1) * 10 > slots_.size() * 7) rehash(slots_.size() * 2);
    Slot& s = slots_[probe(key)];
    const bool fresh = s.count == 0;
    if (fresh) {
      s.key = key;
      ++size_;
    }
    ++s.count;
    return fresh;
  }
  // Counts one new distinct successor of key, which must be stored.
  void add_successor(std::uint64_t key) { ++slots_[probe(key)].successors; }
  const Slot* find(std::uint64_t key) const {
    const Slot& s = slots_[probe(key)];
    return s.count == 0 ? nullptr : &s;
  }
  std::uint32_t count(std::uint64_t key) const {
    const Slot* s = find(key);
    return s == nullptr ? 0 : s->count;
  }

 private:
  static std::uint64_t hash(std::uint64_t x) {  // murmur3's 64-bit finalizer
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
  }
  std::size_t probe(std::uint64_t key) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash(key) & mask;
    while (slots_[i].count != 0 && slots_[i].key != key) i = (i + 1) & mask;
    return i;
  }
  void rehash(std::size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.count != 0) slots_[probe(s.key)] = s;
  }

  std::vector<Slot> slots_;  // size is a power of two
  std::size_t size_ = 0;
};

std::uint64_t low_bits(int bits) {
  return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

int bits_per_token(std::int32_t vocab_size) {
  return std::max(1, static_cast<int>(std::bit_width(static_cast<std::uint32_t>(vocab_size - 1))));
}

void check_tokens(std::string_view fn, std::string_view what, std::span<const std::int32_t> ids,
                  std::int32_t vocab_size) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      throw UsageError(str_cat(fn, ": ", what, " token ", i, " is ", ids[i],
                               ", outside [0, vocab_size = ", vocab_size, ")"));
}

void check_model_args(std::span<const std::int32_t> train, std::int32_t vocab_size, int max_order) {
  constexpr std::string_view fn = "WittenBellModel";
  if (vocab_size < 1) throw UsageError(str_cat(fn, ": vocab_size must be >= 1, got ", vocab_size));
  if (max_order < 1 || max_order > kMaxOrder)
    throw UsageError(str_cat(fn, ": max_order must be in [1, ", kMaxOrder, "], got ", max_order));
  const int bits = bits_per_token(vocab_size);
  if (max_order * bits > 64)
    throw UsageError(str_cat(fn, ": order ", max_order, " needs ", max_order, " x ", bits,
                             " key bits for vocab_size ", vocab_size, "; at most order ", 64 / bits,
                             " fits in 64 bits"));
  if (train.empty()) throw UsageError(str_cat(fn, ": empty training sequence"));
  if (train.size() > std::numeric_limits<std::uint32_t>::max())
    throw UsageError(str_cat(fn, ": ", train.size(), " training tokens exceed 2^32 - 1"));
  check_tokens(fn, "train", train, vocab_size);
}

}  // namespace

// tables[L] holds every L-gram of the training sequence (L = 1..K). A context h of length L is
// looked up in tables[L]: c(h) is its count minus one when h ends the training sequence (that
// occurrence has no successor), and N1+(h·) its successors.
struct WittenBellModel::Tables {
  std::vector<CountTable> by_length;
  int bits = 0;
  std::uint64_t suffix_key = 0;  // the last K training tokens, packed
  std::uint32_t distinct_unigrams = 0;
};

WittenBellModel::WittenBellModel(std::span<const std::int32_t> train, std::int32_t vocab_size,
                                 int max_order)
    : max_order_(max_order),
      vocab_size_(vocab_size),
      train_tokens_(static_cast<std::int64_t>(train.size())) {
  check_model_args(train, vocab_size, max_order);
  tables_ = std::make_unique<Tables>();
  Tables& t = *tables_;
  t.by_length.resize(static_cast<std::size_t>(max_order) + 1);
  t.bits = bits_per_token(vocab_size);
  const std::uint64_t window = low_bits(max_order * t.bits);
  std::uint64_t rolling = 0;  // the last max_order tokens, oldest in the high bits
  for (std::size_t i = 0; i < train.size(); ++i) {
    rolling = ((rolling << t.bits) | static_cast<std::uint64_t>(train[i])) & window;
    const int longest = static_cast<int>(std::min<std::size_t>(max_order, i + 1));
    for (int L = 1; L <= longest; ++L) {
      const std::uint64_t key = rolling & low_bits(L * t.bits);
      if (!t.by_length[L].add_occurrence(key)) continue;
      if (L == 1)
        ++t.distinct_unigrams;
      else
        t.by_length[L - 1].add_successor(key >> t.bits);
    }
  }
  t.suffix_key = rolling;
}

WittenBellModel::~WittenBellModel() = default;
WittenBellModel::WittenBellModel(WittenBellModel&&) noexcept = default;
WittenBellModel& WittenBellModel::operator=(WittenBellModel&&) noexcept = default;

void WittenBellModel::probabilities_by_order(std::span<const std::int32_t> context,
                                             std::int32_t token, std::span<double> out) const {
  constexpr std::string_view fn = "WittenBellModel::probabilities_by_order";
  if (out.empty() || out.size() > static_cast<std::size_t>(max_order_))
    throw UsageError(str_cat(fn, ": asked for ", out.size(), " orders, model has 1..", max_order_));
  if (token < 0 || token >= vocab_size_)
    throw UsageError(str_cat(fn, ": token ", token, " outside [0, ", vocab_size_, ")"));
  const Tables& t = *tables_;
  const auto w = static_cast<std::uint64_t>(token);
  // Order 1: the empty context, followed by every training token.
  double p = (t.by_length[1].count(w) + t.distinct_unigrams / static_cast<double>(vocab_size_)) /
             (static_cast<double>(train_tokens_) + t.distinct_unigrams);
  out[0] = p;
  std::uint64_t h = 0;  // the last j context tokens, packed
  std::size_t j = 1;
  for (; j < out.size() && j <= context.size(); ++j) {
    const std::int32_t older = context[context.size() - j];
    if (older < 0 || older >= vocab_size_)
      throw UsageError(str_cat(fn, ": context token ", context.size() - j, " is ", older,
                               ", outside [0, ", vocab_size_, ")"));
    h |= static_cast<std::uint64_t>(older) << (t.bits * (j - 1));
    const CountTable::Slot* s = t.by_length[j].find(h);
    if (s == nullptr) break;  // unseen context: it and every longer one back off fully
    const bool ends_train = h == (t.suffix_key & low_bits(static_cast<int>(j) * t.bits));
    const double c_h = static_cast<double>(s->count) - (ends_train ? 1.0 : 0.0);
    if (c_h == 0) break;  // seen only at the very end of train, never followed
    const double c_hw = t.by_length[j + 1].count((h << t.bits) | w);
    p = (c_hw + s->successors * p) / (c_h + s->successors);
    out[j] = p;
  }
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(j), out.end(), p);
}

double WittenBellModel::probability(std::span<const std::int32_t> context, std::int32_t token,
                                    int order) const {
  if (order < 1 || order > max_order_)
    throw UsageError(str_cat("WittenBellModel::probability: order must be in [1, ", max_order_,
                             "], got ", order));
  std::array<double, kMaxOrder> p{};
  probabilities_by_order(context, token, std::span<double>(p.data(), order));
  return p[order - 1];
}

namespace {

void check_baseline_args(std::span<const std::int32_t> train, std::span<const std::int32_t> heldout,
                         std::int32_t vocab_size, const NgramBaselineOptions& o) {
  constexpr std::string_view fn = "evaluate_ngram_baseline";
  if (vocab_size < 1) throw UsageError(str_cat(fn, ": vocab_size must be >= 1, got ", vocab_size));
  if (o.min_order < 1) throw UsageError(str_cat(fn, ": min_order must be >= 1, got ", o.min_order));
  if (o.max_order < o.min_order)
    throw UsageError(str_cat(fn, ": max_order ", o.max_order, " < min_order ", o.min_order));
  if (o.max_order > kMaxOrder)
    throw UsageError(str_cat(fn, ": max_order must be <= ", kMaxOrder, ", got ", o.max_order));
  if (train.empty()) throw UsageError(str_cat(fn, ": empty train split"));
  if (heldout.empty()) throw UsageError(str_cat(fn, ": empty held-out split"));
  check_tokens(fn, "train", train, vocab_size);
  check_tokens(fn, "heldout", heldout, vocab_size);
}

// Plug-in entropy of train's unigram, and held-out cross-entropy under add-one train counts.
void fill_unigram_bits(std::span<const std::int32_t> train, std::span<const std::int32_t> heldout,
                       std::int32_t vocab_size, NgramBaselineResult& r) {
  std::vector<double> counts(static_cast<std::size_t>(vocab_size), 0.0);
  for (const std::int32_t w : train) counts[w] += 1;
  const auto n = static_cast<double>(train.size());
  double entropy = 0;
  for (const double c : counts)
    if (c > 0) entropy -= c / n * std::log2(c / n);
  double cross = 0;
  for (const std::int32_t w : heldout) cross -= std::log2((counts[w] + 1) / (n + vocab_size));
  r.unigram_entropy_bits = entropy;
  r.unigram_heldout_bits = cross / static_cast<double>(heldout.size());
}

}  // namespace

NgramBaselineResult evaluate_ngram_baseline(std::span<const std::int32_t> train,
                                            std::span<const std::int32_t> heldout,
                                            std::int32_t vocab_size,
                                            const NgramBaselineOptions& options) {
  check_baseline_args(train, heldout, vocab_size, options);
  const int K = options.max_order;
  const WittenBellModel model(train, vocab_size, K);
  // The held-out stream, preceded by the training tail its first tokens take as context.
  const std::size_t tail = std::min<std::size_t>(train.size(), static_cast<std::size_t>(K - 1));
  std::vector<std::int32_t> stream(train.end() - static_cast<std::ptrdiff_t>(tail), train.end());
  stream.insert(stream.end(), heldout.begin(), heldout.end());
  std::vector<double> bits(static_cast<std::size_t>(K), 0.0);
  std::array<double, kMaxOrder> p{};
  for (std::size_t t = 0; t < heldout.size(); ++t) {
    const std::size_t end = tail + t;
    const std::size_t begin = end - std::min<std::size_t>(end, static_cast<std::size_t>(K - 1));
    const std::span<const std::int32_t> context(stream.data() + begin, end - begin);
    model.probabilities_by_order(context, heldout[t], std::span<double>(p.data(), K));
    for (int k = options.min_order; k <= K; ++k) bits[k - 1] -= std::log2(p[k - 1]);
  }
  NgramBaselineResult r;
  r.train_tokens = static_cast<std::int64_t>(train.size());
  r.heldout_tokens = static_cast<std::int64_t>(heldout.size());
  fill_unigram_bits(train, heldout, vocab_size, r);
  for (int k = options.min_order; k <= K; ++k) {
    const double b = bits[k - 1] / static_cast<double>(heldout.size());
    r.orders.push_back({k, b, b * std::numbers::ln2});
    if (r.best_order == 0 || b < r.best_bits_per_token) {
      r.best_order = k;
      r.best_bits_per_token = b;
    }
  }
  return r;
}

nlohmann::json NgramBaselineResult::to_json() const {
  nlohmann::json j;
  j["model"] = "interpolated Witten-Bell, context continues from train";
  j["unigram_entropy_bits"] = unigram_entropy_bits;
  j["unigram_heldout_bits"] = unigram_heldout_bits;
  j["orders"] = nlohmann::json::array();
  for (const NgramOrderResult& o : orders)
    j["orders"].push_back({{"order", o.order},
                           {"bits_per_token", o.bits_per_token},
                           {"nats_per_token", o.nats_per_token}});
  j["best_order"] = best_order;
  j["best_bits_per_token"] = best_bits_per_token;
  j["train_tokens"] = train_tokens;
  j["heldout_tokens"] = heldout_tokens;
  return j;
}

}  // namespace attnlab::models::tinylm
