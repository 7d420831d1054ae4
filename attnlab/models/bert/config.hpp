// attnlab/models/bert/config.hpp — BERT encoder hyperparameters and the config.json reader.
//
// BertConfig holds what the encoder forward needs (Hugging Face BertConfig's field names):
// L = num_hidden_layers, H = num_attention_heads, C = hidden_size (head dim d = C / H),
// F = intermediate_size, V = vocab_size, P = max_position_embeddings, T = type_vocab_size,
// layer_norm_eps, the GELU flavour and pad_token_id. Defaults are all-MiniLM-L6-v2's
// (L 6, H 12, C 384, F 1536, V 30522, P 512, T 2, eps 1e-12, exact erf GELU).
//
// config.json is untrusted: strict JSON (duplicate keys rejected, ≤ 1 MiB), every known field
// type-checked and bounded before anything is sized from it. Required: hidden_size,
// num_hidden_layers, num_attention_heads, intermediate_size, vocab_size. Rejected with a
// FormatError naming the field: model_type other than "bert" (RoBERTa, DistilBERT, ... lay out
// positions and names differently), hidden_act other than "gelu" (exact erf) / "gelu_new" /
// "gelu_pytorch_tanh" (tanh), position_embedding_type other than "absolute", is_decoder or
// add_cross_attention true. Unknown keys are ignored (dropouts, architectures, versions).
//
// Usage:
//   BertConfig c = load_bert_config("model/config.json");
//   nlohmann::json j = bert_config_json(c);   // what save_bert_hf writes
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "attnlab/core/tensor.hpp"
#include "attnlab/nn/layers/gelu.hpp"

namespace attnlab::models::bert {

struct BertConfig {
  Index num_hidden_layers = 6;
  Index num_attention_heads = 12;
  Index hidden_size = 384;
  Index intermediate_size = 1536;
  Index vocab_size = 30522;
  Index max_position_embeddings = 512;
  Index type_vocab_size = 2;
  Index pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  nn::GeluKind hidden_act = nn::GeluKind::erf;

  Index head_dim() const { return hidden_size / num_attention_heads; }
  std::uint64_t parameter_count() const;  // without the (unused) pooler
  // UsageError naming the field when out of range (also used for configs built in code).
  void validate(std::string_view source = "BERT config") const;
  // "BERT L=6 H=12 C=384 F=1536 V=30522 P=512 (22.6M parameters)".
  std::string describe() const;
};

BertConfig parse_bert_config(std::string_view text, std::string_view source);
BertConfig load_bert_config(const std::filesystem::path& path);
nlohmann::json bert_config_json(const BertConfig& config);
// True when `dir` holds a config.json whose model_type is "bert" (cheap; used to tell a BERT
// directory from a GPT-2 one). Never throws.
bool looks_like_bert_dir(const std::filesystem::path& dir);

}  // namespace attnlab::models::bert
