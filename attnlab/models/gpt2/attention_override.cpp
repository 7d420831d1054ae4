#include "attnlab/models/gpt2/attention_override.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"

namespace attnlab::models::gpt2 {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

double parse_double(std::string_view item, std::string_view value) {
  double x = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
  if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(x)) {
    throw UsageError(str_cat("--attention: '", item, "': '", value, "' is not a number"));
  }
  return x;
}

Index parse_count(std::string_view item, std::string_view value) {
  Index x = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
  if (ec != std::errc() || end != value.data() + value.size() || x < 1) {
    throw UsageError(str_cat("--attention: '", item, "': '", value, "' is not a positive integer"));
  }
  return x;
}

std::string_view trim_items(std::string_view s) {
  return trim(s);
}

}  // namespace

attention::AttentionSpec parse_attention_override(std::string_view text) {
  text = trim(text);
  attention::AttentionSpec s;
  s.causal = true;
  if (text.size() > 5 && text.substr(text.size() - 5) == ".json") {
    const std::string path(text);
    const auto j = io::parse_json_strict(read_file(path, "attention spec"),
                                         str_cat("attention spec '", path, "'"));
    s = attention::AttentionSpec::from_json(j);
    s.causal = true;
    if (!s.key_mask.empty()) throw UsageError("--attention: a key mask cannot be used with GPT-2");
    return s;
  }
  std::size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) throw UsageError(str_cat("--attention: empty item in '", text, "'"));
    const std::size_t eq = item.find('=');
    const std::string_view key = trim(item.substr(0, eq));
    const std::string_view value = eq == std::string_view::npos ? "" : trim(item.substr(eq + 1));
    const bool has_value = eq != std::string_view::npos;
    if (!has_value &&
        (key == "softmax" || key == "ssmax" || key == "sparsemax" || key == "entmax15")) {
      s.normalizer = attention::parse_normalizer(key);
    } else if (!has_value && key == "full") {
      s = attention::AttentionSpec{};
      s.causal = true;
    } else if (!has_value && key == "alibi") {
      s.alibi = true;
    } else if (has_value && key == "normalizer") {
      if (value == "none") {
        throw UsageError(
            "--attention: normalizer 'none' (linearized) has no distribution to "
            "normalize; GPT-2 needs a normalizer");
      }
      s.normalizer = attention::parse_normalizer(value);
    } else if (has_value && key == "window") {
      s.window = parse_count(item, value);
    } else if (has_value && key == "sinks") {
      s.sinks = parse_count(item, value);
    } else if (has_value && key == "topk") {
      s.topk = parse_count(item, value);
    } else if (has_value && key == "temperature") {
      s.temperature = parse_double(item, value);
      if (!(s.temperature > 0)) throw UsageError("--attention: temperature must be > 0");
    } else if (has_value && key == "ssmax_s") {
      s.ssmax_s = parse_double(item, value);
      if (!(s.ssmax_s > 0)) throw UsageError("--attention: ssmax_s must be > 0");
    } else if (has_value && key == "decay") {
      s.decay.clear();
      std::size_t p = 0;
      while (p <= value.size()) {
        std::size_t colon = value.find(':', p);
        if (colon == std::string_view::npos) colon = value.size();
        const double g = parse_double(item, value.substr(p, colon - p));
        if (g < 0) throw UsageError(str_cat("--attention: '", item, "': rates must be >= 0"));
        s.decay.push_back(g);
        p = colon + 1;
      }
    } else {
      throw UsageError(str_cat(
          "--attention: unknown item '", item,
          "' (expected full, window=W, sinks=S, decay=G[:G...], alibi, topk=K, softmax, ssmax, "
          "sparsemax, entmax15, normalizer=NAME, ssmax_s=S, temperature=T)"));
    }
    if (comma == text.size()) break;
  }
  if (s.sinks > 0 && s.window == 0) {
    throw UsageError(str_cat("--attention: sinks=", s.sinks, " needs a window (sinks + window)"));
  }
  return s;
}

std::string describe_attention_override(const attention::AttentionSpec& s) {
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!out.empty()) out += " + ";
    out += part;
  };
  if (s.normalizer != attention::Normalizer::softmax)
    add(std::string(attention::to_string(s.normalizer)));
  if (s.sinks > 0) add(str_cat("sinks=", s.sinks));
  if (s.window > 0) add(str_cat("window=", s.window));
  if (!s.decay.empty()) {
    std::string d = "decay=";
    for (std::size_t i = 0; i < s.decay.size(); ++i) {
      if (i) d += ':';
      d += str_cat(s.decay[i]);
    }
    add(d);
  }
  if (s.alibi) add("alibi");
  if (s.topk > 0) add(str_cat("topk=", s.topk));
  if (s.temperature > 0) add(str_cat("temperature=", s.temperature));
  return out.empty() ? "full causal softmax" : out;
}

}  // namespace attnlab::models::gpt2

namespace attnlab::models::gpt2 {

ModelAttention parse_model_attention(std::string_view text) {
  ModelAttention a;
  std::string rest;
  std::size_t pos = 0;
  const std::string_view all = trim_items(text);
  while (pos < all.size()) {
    std::size_t comma = all.find(',', pos);
    if (comma == std::string_view::npos) comma = all.size();
    std::string_view item = all.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    pos = comma + 1;
    if (item == "linear" || item == "linear=elu1" || item == "elu1") {
      a.linear = true;
    } else if (item == "learned_decay" || item == "learned-decay") {
      a.learned_decay = true;
    } else if (item == "learnable_sink" || item == "learnable-sink") {
      a.learnable_sink = true;
    } else {
      rest += (rest.empty() ? "" : ",") + std::string(item);
    }
  }
  a.spec = parse_attention_override(rest);
  if (a.spec.temperature != 0.0) {
    throw UsageError(
        "--attention: a trained model uses the temperature sqrt(d); drop 'temperature='");
  }
  a.spec.causal = false;
  a.validate("--attention");
  return a;
}

}  // namespace attnlab::models::gpt2
