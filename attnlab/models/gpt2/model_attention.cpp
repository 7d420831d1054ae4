#include "attnlab/models/gpt2/model_attention.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/config.hpp"

namespace attnlab::models::gpt2 {
namespace {

bool spec_is_default(const attention::AttentionSpec& s) {
  return s.normalizer == attention::Normalizer::softmax && s.window == 0 && s.sinks == 0 &&
         s.decay.empty() && !s.alibi && s.topk == 0 && s.ssmax_s == 1.0 && s.key_mask.empty();
}

std::string spec_text(const attention::AttentionSpec& s) {
  std::string out = std::string(attention::to_string(s.normalizer));
  if (s.normalizer == attention::Normalizer::ssmax) out += str_cat(" s=", s.ssmax_s);
  if (s.window > 0) out += str_cat(" window=", s.window);
  if (s.sinks > 0) out += str_cat(" sinks=", s.sinks);
  if (!s.decay.empty()) {
    out += " decay=";
    for (std::size_t i = 0; i < s.decay.size(); ++i) out += str_cat(i ? ":" : "", s.decay[i]);
  }
  if (s.alibi) out += " alibi";
  if (s.topk > 0) out += str_cat(" topk=", s.topk);
  return out;
}

}  // namespace

bool ModelAttention::is_default() const {
  return spec_is_default(spec) && !linear && !learned_decay && !learnable_sink;
}

void ModelAttention::validate(std::string_view source) const {
  if (!spec.key_mask.empty()) {
    throw UsageError(str_cat(source, ": a model's attention cannot carry a key padding mask"));
  }
  if (spec.window < 0 || spec.sinks < 0 || spec.topk < 0) {
    throw UsageError(str_cat(source, ": window, sinks and top-k must be >= 0 (got ", spec.window,
                             ", ", spec.sinks, ", ", spec.topk, ")"));
  }
  if (spec.sinks > 0 && spec.window == 0) {
    throw UsageError(str_cat(source, ": sinks=", spec.sinks, " needs a window"));
  }
  for (double g : spec.decay) {
    if (!(g >= 0.0) || !std::isfinite(g)) {
      throw UsageError(str_cat(source, ": decay rates must be finite and >= 0, got ", g));
    }
  }
  if (!(spec.ssmax_s > 0.0) || !std::isfinite(spec.ssmax_s)) {
    throw UsageError(str_cat(source, ": ssmax_s must be > 0, got ", spec.ssmax_s));
  }
  if (linear && (!spec_is_default(spec) || learned_decay || learnable_sink)) {
    throw UsageError(str_cat(source,
                             ": linear (elu+1) attention replaces the softmax spec; it "
                             "cannot be combined with '",
                             spec_text(spec), "'", learned_decay ? ", learned decay" : "",
                             learnable_sink ? ", a learnable sink" : ""));
  }
  if (learnable_sink && (!spec.decay.empty() || spec.alibi || learned_decay)) {
    throw UsageError(str_cat(source,
                             ": a learnable sink cannot be combined with distance biases "
                             "(decay, ALiBi, learned decay): the slot would be decayed "
                             "by each query's position"));
  }
}

std::string ModelAttention::describe() const {
  if (linear) return "linear elu+1";
  std::string out = spec_is_default(spec) ? "full causal softmax" : spec_text(spec);
  if (learned_decay) out += " + learned decay";
  if (learnable_sink) out += " + learnable sink";
  return out;
}

nlohmann::json ModelAttention::to_json() const {
  nlohmann::json s = spec.to_json();
  s.erase("causal");
  s.erase("temperature");
  s.erase("key_mask");
  return {{"spec", s},
          {"linear", linear},
          {"learned_decay", learned_decay},
          {"learnable_sink", learnable_sink}};
}

ModelAttention ModelAttention::from_json(const nlohmann::json& j, std::string_view source) {
  if (!j.is_object()) {
    throw FormatError(str_cat(source, ": 'attnlab_attention' must be an object, got ", j.dump()));
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "spec" && key != "linear" && key != "learned_decay" && key != "learnable_sink") {
      throw FormatError(str_cat(source, ": unknown field 'attnlab_attention.", key, "'"));
    }
  }
  ModelAttention a;
  auto flag = [&](const char* name, bool& out) {
    if (!j.contains(name)) return;
    if (!j[name].is_boolean()) {
      throw FormatError(str_cat(source, ": 'attnlab_attention.", name, "' must be a boolean, got ",
                                j[name].dump()));
    }
    out = j[name].get<bool>();
  };
  flag("linear", a.linear);
  flag("learned_decay", a.learned_decay);
  flag("learnable_sink", a.learnable_sink);
  if (j.contains("spec")) {
    const nlohmann::json& s = j["spec"];
    if (!s.is_object() || !s.contains("normalizer")) {
      throw FormatError(str_cat(source,
                                ": 'attnlab_attention.spec' must be an object with a "
                                "normalizer, got ",
                                s.dump()));
    }
    nlohmann::json t = s;
    t.erase("key_mask");
    try {
      a.spec = attention::AttentionSpec::from_json(t);
    } catch (const UsageError& e) {
      throw FormatError(str_cat(source, ": 'attnlab_attention.spec': ", e.what()));
    } catch (const FormatError& e) {
      throw FormatError(str_cat(source, ": 'attnlab_attention.spec': ", e.what()));
    }
    a.spec.causal = false;
    a.spec.temperature = 0.0;
  }
  try {
    a.validate(source);
  } catch (const UsageError& e) {
    throw FormatError(e.what());
  }
  return a;
}

attention::AttentionSpec layer_attention_spec(const Gpt2Config& c,
                                              const attention::AttentionSpec& base, Index layer,
                                              PositionMode positions,
                                              std::span<const double> learned_rates) {
  attention::AttentionSpec s = base;
  s.causal = true;
  if (s.temperature == 0.0) {
    s.temperature = c.scale_attn_weights ? std::sqrt(static_cast<double>(c.head_dim())) : 1.0;
  }
  if (c.scale_attn_by_inverse_layer_idx) s.temperature *= static_cast<double>(layer + 1);
  if (positions == PositionMode::alibi) s.alibi = true;
  if (!learned_rates.empty()) {
    const auto H = static_cast<std::size_t>(c.n_head);
    if (learned_rates.size() != H) {
      throw UsageError(str_cat("layer_attention_spec: ", learned_rates.size(),
                               " learned rates for ", H, " heads"));
    }
    std::vector<double> rates(H, 0.0);
    for (std::size_t h = 0; h < H; ++h) {
      const double fixed = s.decay.empty() ? 0.0 : (s.decay.size() == 1 ? s.decay[0] : s.decay[h]);
      rates[h] = fixed + learned_rates[h];
    }
    s.decay = std::move(rates);
  }
  if (c.attention.learnable_sink && s.window > 0) s.sinks += 1;
  return s;
}

}  // namespace attnlab::models::gpt2
