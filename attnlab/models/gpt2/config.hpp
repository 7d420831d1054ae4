// attnlab/models/gpt2/config.hpp — GPT-2 hyperparameters and the config.json reader.
//
// Gpt2Config holds what the forward pass needs: L layers, H heads, width C, context n_positions,
// vocabulary V, MLP width (n_inner, 4C when absent), LayerNorm epsilon, the GELU flavour and the
// attention-scaling flags of transformers' GPT2Config. Defaults are GPT-2 124M
// (openai-community/gpt2).
//
// config.json (Hugging Face) is untrusted input: parsed with duplicate keys rejected
// (io/json_strict.hpp), every known field type-checked, every size bounded before anything is
// allocated from it. Unknown keys are ignored (real configs carry dozens: task_specific_params,
// summary_*, dropouts). Accepted activation_function values: "gelu_new" and
// "gelu_pytorch_tanh" (tanh approximation, GPT-2's own) and "gelu" (exact erf GELU); anything
// else is a FormatError naming the field. Field errors name the file and the field.
//
// attnlab's own fields (models/tinylm writes them; GPT-2's files have neither, which means
// learned positions and GPT-2's attention): "attnlab_position_mode" (learned | none | sinusoidal
// | rope | alibi) and "attnlab_attention" (model_attention.hpp). With "sinusoidal" the fixed
// sin/cos table is stored in wpe, so the forward adds wpe exactly as for learned positions.
//
// Limits (a config outside them is rejected, not truncated): 1 <= L <= 1024, 1 <= H <= 1024,
// C % H == 0, 1 <= C <= 65536, 1 <= n_positions <= 1 << 20, 1 <= V <= 1 << 24,
// 1 <= n_inner <= 1 << 20, 0 < epsilon < 1, and the parameter count below 2^36.
//
// Usage:
//   Gpt2Config c = load_gpt2_config("gpt2/config.json");
//   Index hd = c.head_dim();                 // 64 for GPT-2 124M
//   std::string text = gpt2_config_json(c).dump(2);
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "attnlab/core/tensor.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"

namespace attnlab::models::gpt2 {

enum class Activation { gelu_tanh, gelu_erf };

// How token positions enter the model: learned absolute table (GPT-2), none (NoPE), a fixed
// sinusoidal table, rotary embeddings on q and k (RoPE, half style, base 10000), or ALiBi biases.
enum class PositionMode { learned, none, sinusoidal, rope, alibi };
std::string_view to_string(PositionMode p);
// "learned" | "none" | "sinusoidal" | "rope" | "alibi"; UsageError otherwise.
PositionMode parse_position_mode(std::string_view name);

struct Gpt2Config {
  Index n_layer = 12;        // L
  Index n_head = 12;         // H
  Index n_embd = 768;        // C
  Index n_positions = 1024;  // learned position table rows (max context)
  Index vocab_size = 50257;  // V
  Index n_inner = 0;         // MLP width; 0 = 4C
  double layer_norm_epsilon = 1e-5;
  Activation activation = Activation::gelu_tanh;
  bool scale_attn_weights = true;                // logits / sqrt(d)
  bool scale_attn_by_inverse_layer_idx = false;  // logits / (layer + 1) as well
  bool tie_word_embeddings = true;               // logits = h · wteᵀ
  Index bos_token_id = 50256, eos_token_id = 50256;
  PositionMode position_mode = PositionMode::learned;  // "attnlab_position_mode"
  ModelAttention attention;                            // "attnlab_attention"

  Index head_dim() const { return n_embd / n_head; }
  Index ffn_dim() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  // Number of parameters (tied embeddings counted once; no mask buffers; with the learned decay
  // rates and sink slots of `attention`).
  std::uint64_t parameter_count() const;
  // UsageError (naming the field) when outside the limits above; `source` prefixes messages.
  void validate(std::string_view source = "GPT-2 config") const;
  // e.g. "GPT-2 L=12 H=12 C=768 ctx=1024 V=50257 (124.4M parameters)".
  std::string describe() const;
};

// Parses config.json text; FormatError naming `source` and the field on anything malformed.
Gpt2Config parse_gpt2_config(std::string_view text, std::string_view source);
// Reads and parses a file; InputError when it is missing.
Gpt2Config load_gpt2_config(const std::filesystem::path& path);
// The config as Hugging Face writes it (the fields above plus model_type / architectures).
nlohmann::json gpt2_config_json(const Gpt2Config& config);

std::string_view to_string(Activation a);

}  // namespace attnlab::models::gpt2
