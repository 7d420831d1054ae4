#include "attnlab/models/gpt2/config.hpp"

#include <cmath>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"

namespace attnlab::models::gpt2 {
namespace {

using json = nlohmann::json;

// Reads an optional integer field within [lo, hi]; FormatError naming the field otherwise.
void read_int(const json& j, const char* field, Index lo, Index hi, Index& out,
              std::string_view source) {
  if (!j.contains(field) || j[field].is_null()) return;
  const json& v = j[field];
  if (!v.is_number_integer()) {
    throw FormatError(str_cat(source, ": field '", field, "' must be an integer, got ", v.dump()));
  }
  // Non-negative values are stored unsigned by nlohmann; compare without overflow.
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi) || static_cast<Index>(u) < lo) {
      throw FormatError(
          str_cat(source, ": field '", field, "' = ", u, " is outside [", lo, ", ", hi, "]"));
    }
    out = static_cast<Index>(u);
    return;
  }
  const auto s = v.get<std::int64_t>();
  if (s < lo || s > hi) {
    throw FormatError(
        str_cat(source, ": field '", field, "' = ", s, " is outside [", lo, ", ", hi, "]"));
  }
  out = static_cast<Index>(s);
}

void read_bool(const json& j, const char* field, bool& out, std::string_view source) {
  if (!j.contains(field) || j[field].is_null()) return;
  if (!j[field].is_boolean()) {
    throw FormatError(
        str_cat(source, ": field '", field, "' must be true or false, got ", j[field].dump()));
  }
  out = j[field].get<bool>();
}

}  // namespace

std::string_view to_string(PositionMode p) {
  switch (p) {
    case PositionMode::learned:
      return "learned";
    case PositionMode::none:
      return "none";
    case PositionMode::sinusoidal:
      return "sinusoidal";
    case PositionMode::rope:
      return "rope";
    case PositionMode::alibi:
      return "alibi";
  }
  return "unknown";
}

PositionMode parse_position_mode(std::string_view name) {
  for (auto p : {PositionMode::learned, PositionMode::none, PositionMode::sinusoidal,
                 PositionMode::rope, PositionMode::alibi})
    if (name == to_string(p)) return p;
  throw UsageError(str_cat("unknown position mode '", name,
                           "' (expected learned, none, sinusoidal, rope or alibi)"));
}

std::string_view to_string(Activation a) {
  return a == Activation::gelu_tanh ? "gelu_new" : "gelu";
}

std::uint64_t Gpt2Config::parameter_count() const {
  const auto C = static_cast<std::uint64_t>(n_embd), F = static_cast<std::uint64_t>(ffn_dim());
  const auto V = static_cast<std::uint64_t>(vocab_size),
             P = static_cast<std::uint64_t>(n_positions);
  const std::uint64_t block =
      2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * F + F) + (F * C + C);
  const auto H = static_cast<std::uint64_t>(n_head);
  const std::uint64_t extras =
      (attention.learned_decay ? H : 0) + (attention.learnable_sink ? 2 * C : 0);
  return V * C + P * C + static_cast<std::uint64_t>(n_layer) * (block + extras) + 2 * C +
         (tie_word_embeddings ? 0 : V * C);
}

void Gpt2Config::validate(std::string_view source) const {
  auto check = [&](bool ok, const char* field, auto value, const char* rule) {
    if (!ok) throw UsageError(str_cat(source, ": ", field, " = ", value, " (", rule, ")"));
  };
  check(n_layer >= 1 && n_layer <= 1024, "n_layer", n_layer, "need 1..1024");
  check(n_head >= 1 && n_head <= 1024, "n_head", n_head, "need 1..1024");
  check(n_embd >= 1 && n_embd <= 65536, "n_embd", n_embd, "need 1..65536");
  check(n_embd % n_head == 0, "n_embd", n_embd, "must be a multiple of n_head");
  check(n_positions >= 1 && n_positions <= (Index{1} << 20), "n_positions", n_positions,
        "need 1..2^20");
  check(vocab_size >= 1 && vocab_size <= (Index{1} << 24), "vocab_size", vocab_size,
        "need 1..2^24");
  check(n_inner >= 0 && n_inner <= (Index{1} << 20), "n_inner", n_inner, "need 0 (=4C)..2^20");
  check(ffn_dim() <= (Index{1} << 20), "n_inner", ffn_dim(), "4C must be <= 2^20");
  check(std::isfinite(layer_norm_epsilon) && layer_norm_epsilon > 0 && layer_norm_epsilon < 1,
        "layer_norm_epsilon", layer_norm_epsilon, "need 0 < eps < 1");
  check(parameter_count() < (std::uint64_t{1} << 36), "parameter count", parameter_count(),
        "must be below 2^36");
  attention.validate(source);
  const auto decays = static_cast<Index>(attention.spec.decay.size());
  check(decays <= 1 || decays == n_head, "attnlab_attention.spec.decay (rates)", decays,
        "need one rate or one per head");
  check(position_mode != PositionMode::rope || head_dim() % 2 == 0, "head dim", head_dim(),
        "RoPE needs an even head dim");
  check(!(position_mode == PositionMode::alibi && attention.learnable_sink),
        "attnlab_position_mode", "alibi", "ALiBi biases cannot be combined with a learnable sink");
}

std::string Gpt2Config::describe() const {
  const double m = static_cast<double>(parameter_count()) / 1e6;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fM", m);
  std::string extra;
  if (position_mode != PositionMode::learned)
    extra += str_cat(" positions=", to_string(position_mode));
  if (!attention.is_default()) extra += str_cat(" attention=", attention.describe());
  return str_cat("GPT-2 L=", n_layer, " H=", n_head, " C=", n_embd, " ctx=", n_positions,
                 " V=", vocab_size, extra, " (", buf, " parameters)");
}

Gpt2Config parse_gpt2_config(std::string_view text, std::string_view source) {
  io::StrictJsonOptions jo;
  jo.max_bytes = std::size_t{1} << 20;  // real configs are < 2 KB
  const json j = io::parse_json_strict(text, source, jo);
  if (!j.is_object()) {
    throw FormatError(str_cat(source, ": config must be a JSON object, got ", j.type_name()));
  }
  if (j.contains("model_type") && !j["model_type"].is_null()) {
    if (!j["model_type"].is_string() || j["model_type"].get<std::string>() != "gpt2") {
      throw FormatError(str_cat(source, ": field 'model_type' = ", j["model_type"].dump(),
                                ", attnlab reads GPT-2 checkpoints (\"gpt2\")"));
    }
  }
  Gpt2Config c;
  constexpr Index kBig = Index{1} << 40;
  read_int(j, "n_layer", 1, kBig, c.n_layer, source);
  read_int(j, "n_head", 1, kBig, c.n_head, source);
  read_int(j, "n_embd", 1, kBig, c.n_embd, source);
  read_int(j, "n_positions", 1, kBig, c.n_positions, source);
  read_int(j, "vocab_size", 1, kBig, c.vocab_size, source);
  read_int(j, "n_inner", 0, kBig, c.n_inner, source);
  read_int(j, "bos_token_id", 0, kBig, c.bos_token_id, source);
  read_int(j, "eos_token_id", 0, kBig, c.eos_token_id, source);
  if (j.contains("layer_norm_epsilon") && !j["layer_norm_epsilon"].is_null()) {
    if (!j["layer_norm_epsilon"].is_number()) {
      throw FormatError(str_cat(source, ": field 'layer_norm_epsilon' must be a number, got ",
                                j["layer_norm_epsilon"].dump()));
    }
    c.layer_norm_epsilon = j["layer_norm_epsilon"].get<double>();
  }
  if (j.contains("activation_function") && !j["activation_function"].is_null()) {
    const json& a = j["activation_function"];
    const std::string s = a.is_string() ? a.get<std::string>() : a.dump();
    if (s == "gelu_new" || s == "gelu_pytorch_tanh" || s == "gelu_fast") {
      c.activation = Activation::gelu_tanh;
    } else if (s == "gelu") {
      c.activation = Activation::gelu_erf;
    } else {
      throw FormatError(str_cat(source, ": field 'activation_function' = ", a.dump(),
                                " is not supported (gelu_new, gelu_pytorch_tanh or gelu)"));
    }
  }
  read_bool(j, "scale_attn_weights", c.scale_attn_weights, source);
  read_bool(j, "scale_attn_by_inverse_layer_idx", c.scale_attn_by_inverse_layer_idx, source);
  read_bool(j, "tie_word_embeddings", c.tie_word_embeddings, source);
  if (j.contains("attnlab_position_mode") && !j["attnlab_position_mode"].is_null()) {
    const json& p = j["attnlab_position_mode"];
    try {
      if (!p.is_string()) throw UsageError("not a string");
      c.position_mode = parse_position_mode(p.get<std::string>());
    } catch (const UsageError&) {
      throw FormatError(str_cat(source, ": field 'attnlab_position_mode' = ", p.dump(),
                                " (expected learned, none, sinusoidal, rope or alibi)"));
    }
  }
  if (j.contains("attnlab_attention") && !j["attnlab_attention"].is_null()) {
    c.attention = ModelAttention::from_json(j["attnlab_attention"], source);
  }
  try {
    c.validate(source);
  } catch (const UsageError& e) {
    throw FormatError(e.what());
  }
  return c;
}

Gpt2Config load_gpt2_config(const std::filesystem::path& path) {
  return parse_gpt2_config(read_file(path, "GPT-2 config.json"),
                           str_cat("GPT-2 config '", path.string(), "'"));
}

nlohmann::json gpt2_config_json(const Gpt2Config& c) {
  json j;
  j["model_type"] = "gpt2";
  j["architectures"] = {"GPT2LMHeadModel"};
  j["n_layer"] = c.n_layer;
  j["n_head"] = c.n_head;
  j["n_embd"] = c.n_embd;
  j["n_positions"] = c.n_positions;
  j["n_ctx"] = c.n_positions;
  j["vocab_size"] = c.vocab_size;
  j["n_inner"] = c.n_inner > 0 ? json(c.n_inner) : json(nullptr);
  j["layer_norm_epsilon"] = c.layer_norm_epsilon;
  j["activation_function"] = std::string(to_string(c.activation));
  j["scale_attn_weights"] = c.scale_attn_weights;
  j["scale_attn_by_inverse_layer_idx"] = c.scale_attn_by_inverse_layer_idx;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  if (c.position_mode != PositionMode::learned) {
    j["attnlab_position_mode"] = std::string(to_string(c.position_mode));
  }
  if (!c.attention.is_default()) j["attnlab_attention"] = c.attention.to_json();
  return j;
}

}  // namespace attnlab::models::gpt2
