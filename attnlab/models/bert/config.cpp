#include "attnlab/models/bert/config.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"

namespace attnlab::models::bert {
namespace {

using json = nlohmann::json;
constexpr Index kBig = Index{1} << 40;

// An integer field within [lo, hi]; `required` fields must be present.
void read_int(const json& j, const char* field, Index lo, Index hi, Index& out, bool required,
              std::string_view source) {
  if (!j.contains(field) || j[field].is_null()) {
    if (required) throw FormatError(str_cat(source, ": required field '", field, "' is missing"));
    return;
  }
  const json& v = j[field];
  if (!v.is_number_integer()) {
    throw FormatError(str_cat(source, ": field '", field, "' must be an integer, got ", v.dump()));
  }
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

// The string value of an optional field, or `fallback`.
std::string read_string(const json& j, const char* field, const char* fallback,
                        std::string_view source) {
  if (!j.contains(field) || j[field].is_null()) return fallback;
  if (!j[field].is_string()) {
    throw FormatError(
        str_cat(source, ": field '", field, "' must be a string, got ", j[field].dump()));
  }
  return j[field].get<std::string>();
}

void reject_true(const json& j, const char* field, const char* why, std::string_view source) {
  if (!j.contains(field) || j[field].is_null()) return;
  if (!j[field].is_boolean()) {
    throw FormatError(
        str_cat(source, ": field '", field, "' must be true or false, got ", j[field].dump()));
  }
  if (j[field].get<bool>())
    throw FormatError(str_cat(source, ": field '", field, "' is true: ", why));
}

}  // namespace

std::uint64_t BertConfig::parameter_count() const {
  const auto C = static_cast<std::uint64_t>(hidden_size);
  const auto F = static_cast<std::uint64_t>(intermediate_size);
  const std::uint64_t emb = (static_cast<std::uint64_t>(vocab_size) +
                             static_cast<std::uint64_t>(max_position_embeddings) +
                             static_cast<std::uint64_t>(type_vocab_size)) *
                                C +
                            2 * C;
  const std::uint64_t layer =
      3 * (C * C + C) + (C * C + C) + 2 * C + (C * F + F) + (F * C + C) + 2 * C;
  return emb + static_cast<std::uint64_t>(num_hidden_layers) * layer;
}

void BertConfig::validate(std::string_view source) const {
  auto check = [&](bool ok, const char* field, auto value, const char* rule) {
    if (!ok) throw UsageError(str_cat(source, ": ", field, " = ", value, " (", rule, ")"));
  };
  check(num_hidden_layers >= 1 && num_hidden_layers <= 1024, "num_hidden_layers", num_hidden_layers,
        "need 1..1024");
  check(num_attention_heads >= 1 && num_attention_heads <= 1024, "num_attention_heads",
        num_attention_heads, "need 1..1024");
  check(hidden_size >= 1 && hidden_size <= 65536, "hidden_size", hidden_size, "need 1..65536");
  check(hidden_size % num_attention_heads == 0, "hidden_size", hidden_size,
        "must be a multiple of num_attention_heads");
  check(intermediate_size >= 1 && intermediate_size <= (Index{1} << 20), "intermediate_size",
        intermediate_size, "need 1..2^20");
  check(vocab_size >= 1 && vocab_size <= (Index{1} << 24), "vocab_size", vocab_size,
        "need 1..2^24");
  check(max_position_embeddings >= 1 && max_position_embeddings <= (Index{1} << 20),
        "max_position_embeddings", max_position_embeddings, "need 1..2^20");
  check(type_vocab_size >= 1 && type_vocab_size <= 1024, "type_vocab_size", type_vocab_size,
        "need 1..1024");
  check(pad_token_id >= 0 && pad_token_id < vocab_size, "pad_token_id", pad_token_id,
        "need 0 <= id < vocab_size");
  check(std::isfinite(layer_norm_eps) && layer_norm_eps > 0 && layer_norm_eps < 1, "layer_norm_eps",
        layer_norm_eps, "need 0 < eps < 1");
  check(parameter_count() < (std::uint64_t{1} << 36), "parameter count", parameter_count(),
        "must be below 2^36");
}

std::string BertConfig::describe() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(parameter_count()) / 1e6);
  return str_cat("BERT L=", num_hidden_layers, " H=", num_attention_heads, " C=", hidden_size,
                 " F=", intermediate_size, " V=", vocab_size, " P=", max_position_embeddings,
                 hidden_act == nn::GeluKind::tanh ? " gelu=tanh" : "", " (", buf, " parameters)");
}

BertConfig parse_bert_config(std::string_view text, std::string_view source) {
  io::StrictJsonOptions jo;
  jo.max_bytes = std::size_t{1} << 20;
  const json j = io::parse_json_strict(text, source, jo);
  if (!j.is_object()) {
    throw FormatError(str_cat(source, ": config must be a JSON object, got ", j.type_name()));
  }
  const std::string type = read_string(j, "model_type", "bert", source);
  if (type != "bert") {
    throw FormatError(str_cat(source, ": field 'model_type' = \"", type,
                              "\", attnlab's encoder reads BERT-layout models (\"bert\")"));
  }
  BertConfig c;
  read_int(j, "num_hidden_layers", 1, kBig, c.num_hidden_layers, true, source);
  read_int(j, "num_attention_heads", 1, kBig, c.num_attention_heads, true, source);
  read_int(j, "hidden_size", 1, kBig, c.hidden_size, true, source);
  read_int(j, "intermediate_size", 1, kBig, c.intermediate_size, true, source);
  read_int(j, "vocab_size", 1, kBig, c.vocab_size, true, source);
  read_int(j, "max_position_embeddings", 1, kBig, c.max_position_embeddings, false, source);
  read_int(j, "type_vocab_size", 1, kBig, c.type_vocab_size, false, source);
  read_int(j, "pad_token_id", 0, kBig, c.pad_token_id, false, source);
  if (j.contains("layer_norm_eps") && !j["layer_norm_eps"].is_null()) {
    if (!j["layer_norm_eps"].is_number()) {
      throw FormatError(str_cat(source, ": field 'layer_norm_eps' must be a number, got ",
                                j["layer_norm_eps"].dump()));
    }
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  const std::string act = read_string(j, "hidden_act", "gelu", source);
  if (act == "gelu") {
    c.hidden_act = nn::GeluKind::erf;
  } else if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
    c.hidden_act = nn::GeluKind::tanh;
  } else {
    throw FormatError(
        str_cat(source, ": field 'hidden_act' = \"", act,
                "\" is not supported (expected gelu, gelu_new or gelu_pytorch_tanh)"));
  }
  const std::string pos = read_string(j, "position_embedding_type", "absolute", source);
  if (pos != "absolute") {
    throw FormatError(str_cat(source, ": field 'position_embedding_type' = \"", pos,
                              "\" is not supported (expected absolute)"));
  }
  reject_true(j, "is_decoder", "attnlab's BERT is an encoder", source);
  reject_true(j, "add_cross_attention", "cross-attention is not supported", source);
  try {
    c.validate(source);
  } catch (const UsageError& e) {
    throw FormatError(e.what());
  }
  return c;
}

BertConfig load_bert_config(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > (std::uintmax_t{1} << 20)) {
    throw FormatError(str_cat(path.string(), ": config is ", size, " bytes (limit 1 MiB)"));
  }
  return parse_bert_config(read_file(path, "BERT config.json"), path.string());
}

nlohmann::json bert_config_json(const BertConfig& c) {
  return json{{"architectures", json::array({"BertModel"})},
              {"model_type", "bert"},
              {"hidden_size", c.hidden_size},
              {"num_hidden_layers", c.num_hidden_layers},
              {"num_attention_heads", c.num_attention_heads},
              {"intermediate_size", c.intermediate_size},
              {"hidden_act", c.hidden_act == nn::GeluKind::erf ? "gelu" : "gelu_new"},
              {"layer_norm_eps", c.layer_norm_eps},
              {"max_position_embeddings", c.max_position_embeddings},
              {"type_vocab_size", c.type_vocab_size},
              {"vocab_size", c.vocab_size},
              {"pad_token_id", c.pad_token_id},
              {"position_embedding_type", "absolute"}};
}

bool looks_like_bert_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto file = dir / "config.json";
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size > (std::uintmax_t{1} << 20)) return false;
  try {
    io::StrictJsonOptions jo;
    jo.max_bytes = std::size_t{1} << 20;
    const json j = io::parse_json_strict(read_file(file, "config.json"), file.string(), jo);
    return j.is_object() && j.contains("model_type") && j["model_type"].is_string() &&
           j["model_type"].get<std::string>() == "bert";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace attnlab::models::bert
