#include "attnlab/analysis/tradeoff/variants.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

using models::gpt2::PositionMode;

constexpr Index kMaxWindow = 1 << 20;

// Parses a positive integer in [1, kMaxWindow] for part `what` of variant `name`.
Index parse_count(std::string_view text, std::string_view what, std::string_view name) {
  Index v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 1 || v > kMaxWindow) {
    throw UsageError(str_cat("variant '", name, "': ", what, " '", text,
                             "' is not an integer in [1, ", kMaxWindow, "]"));
  }
  return v;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

Variant make(std::string name, std::string family) {
  Variant v;
  v.name = std::move(name);
  v.family = std::move(family);
  return v;
}

}  // namespace

std::vector<double> retnet_rates(Index heads) {
  std::vector<double> r(static_cast<std::size_t>(heads));
  for (Index h = 0; h < heads; ++h)
    r[static_cast<std::size_t>(h)] = -std::log1p(-std::ldexp(1.0, -5 - static_cast<int>(h)));
  return r;
}

Variant parse_variant(std::string_view name, Index heads) {
  const std::string n(name);
  if (name == "full") return make(n, "full");
  if (name == "linear") {
    Variant v = make(n, "linear");
    v.attention.linear = true;
    return v;
  }
  if (name == "sparsemax") {
    Variant v = make(n, "sparsemax");
    v.attention.spec.normalizer = attention::Normalizer::sparsemax;
    return v;
  }
  if (name == "alibi") {
    Variant v = make(n, "alibi");
    v.positions = PositionMode::alibi;
    return v;
  }
  if (name == "learned-decay") {
    Variant v = make(n, "learned-decay");
    v.attention.learned_decay = true;
    return v;
  }
  if (name == "learnable-sink") {
    Variant v = make(n, "learnable-sink");
    v.attention.learnable_sink = true;
    return v;
  }
  if (name == "decay-retnet") {
    Variant v = make(n, "decay");
    v.attention.spec.decay = retnet_rates(heads);
    return v;
  }
  if (starts_with(name, "decay-")) {
    const std::string_view rate = name.substr(6);
    double r = 0;
    const auto [ptr, ec] = std::from_chars(rate.data(), rate.data() + rate.size(), r);
    if (ec != std::errc() || ptr != rate.data() + rate.size() || !(r > 0 && r <= 100)) {
      throw UsageError(
          str_cat("variant '", name, "': rate '", rate, "' is not a number in (0, 100]"));
    }
    Variant v = make(n, "decay");
    v.attention.spec.decay = {r};
    return v;
  }
  if (starts_with(name, "window-")) {
    Variant v = make(n, "window");
    v.attention.spec.window = parse_count(name.substr(7), "window", name);
    return v;
  }
  if (starts_with(name, "topk-")) {
    Variant v = make(n, "topk");
    v.attention.spec.topk = parse_count(name.substr(5), "K", name);
    return v;
  }
  if (starts_with(name, "sinks-")) {
    const std::string_view rest = name.substr(6);
    const std::size_t dash = rest.find("-window-");
    if (dash == std::string_view::npos) {
      throw UsageError(str_cat("variant '", name, "': expected sinks-S-window-W"));
    }
    Variant v = make(n, "sinks+window");
    v.attention.spec.sinks = parse_count(rest.substr(0, dash), "sinks", name);
    v.attention.spec.window = parse_count(rest.substr(dash + 8), "window", name);
    return v;
  }
  if (starts_with(name, "searched:")) {
    Variant v = make(n, "searched");
    v.attention = models::gpt2::parse_model_attention(name.substr(9));
    return v;
  }
  throw UsageError(
      str_cat("unknown variant '", name,
              "' (expected full, window-W, sinks-S-window-W, decay-retnet, decay-R, alibi, topk-K, "
              "linear, sparsemax, learned-decay, learnable-sink or searched:SPEC)"));
}

std::vector<Variant> parse_variants(std::string_view list, Index heads) {
  std::vector<Variant> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    std::string_view item =
        list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) throw UsageError(str_cat("--variants: empty item in '", list, "'"));
    Variant v = parse_variant(item, heads);
    for (const Variant& seen : out)
      if (seen.name == v.name) throw UsageError(str_cat("--variants: '", v.name, "' twice"));
    out.push_back(std::move(v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<Variant> default_variants(Index context, Index heads) {
  const Index w8 = std::max<Index>(2, context / 8), w4 = std::max<Index>(2, context / 4);
  const std::string names[] = {"full",
                               str_cat("window-", w8),
                               str_cat("window-", w4),
                               str_cat("sinks-4-window-", w4),
                               "decay-retnet",
                               "decay-0.25",
                               "alibi",
                               "topk-8",
                               "linear",
                               "sparsemax",
                               "learned-decay",
                               "learnable-sink"};
  std::vector<Variant> out;
  for (const auto& n : names) {
    // Small contexts round T/8 and T/4 to the same window: keep each name once.
    if (std::none_of(out.begin(), out.end(), [&](const Variant& v) { return v.name == n; }))
      out.push_back(parse_variant(n, heads));
  }
  return out;
}

std::vector<Variant> report_variants(Index context, Index heads) {
  const Index w4 = std::max<Index>(2, context / 4);
  const std::string names[] = {
      "full",   str_cat("window-", w4), str_cat("sinks-4-window-", w4), "decay-retnet", "alibi",
      "linear", "learned-decay"};
  std::vector<Variant> out;
  for (const auto& n : names) out.push_back(parse_variant(n, heads));
  return out;
}

}  // namespace attnlab::analysis::tradeoff
