// attnlab/models/gpt2/weights.hpp — GPT-2 parameters in one block, and the two file formats.
//
// Gpt2Weights owns every parameter in ONE contiguous, 64-byte-aligned fp32 block (llm.c style:
// a sizes table, one allocation, typed views), in this order and with these shapes:
//
//   wte      [V, C]        token embeddings (also the output projection when tied)
//   wpe      [P, C]        learned positions, P = n_positions
//   per layer l (layer() returns pointers into the block):
//     ln1_w, ln1_b        [C]
//     qkv_w                [C, 3C]   Conv1D layout [in, out]: y = x · W + b; columns 0..C-1 are
//     qkv_b                [3C]      Q, C..2C-1 K, 2C..3C-1 V; head h owns columns h·d..h·d+d-1
//     proj_w               [C, C]    attention output projection [in, out]
//     proj_b               [C]
//     ln2_w, ln2_b        [C]
//     fc_w                 [C, F]    MLP up, F = ffn_dim() (4C)
//     fc_b                 [F]
//     fcproj_w             [F, C]    MLP down
//     fcproj_b             [C]
//     decay_rate           [H]       learned per-head decay rates (config.attention.learned_decay)
//     sink_k, sink_v       [H, d]    learnable sink slot (config.attention.learnable_sink)
//   lnf_w, lnf_b           [C]
//   lm_head  [V, C]        only when the config unties embeddings
// The optional tensors are named "h.N.attn.decay_rate", "h.N.attn.sink_k" and "h.N.attn.sink_v"
// in model.safetensors and exist exactly when config.json's "attnlab_attention" asks for them
// (llm.c's format has no place for them: encode_gpt2_llmc rejects such configs). wpe is always
// present; with position modes none/rope/alibi it is zero and unused, with sinusoidal it holds the
// fixed table (random_gpt2_weights fills it, scaled to RMS 0.02).
//
// The [in, out] layout is the Hugging Face file's (Conv1D); llm.c's .bin stores the transpose
// ([out, in], PyTorch Linear), which the llm.c loader and writer transpose.
//
// Loaders (all inputs untrusted: sizes validated before allocation, FormatError naming the file
// and the tensor/field on anything malformed):
//   load_gpt2_hf(dir or .safetensors)  model.safetensors + config.json. Tensor names with or
//       without the "transformer." prefix (not mixed: a name present both ways is a duplicate);
//       buffers "h.N.attn.bias" / "h.N.attn.masked_bias" ignored; "lm_head.weight" ignored when
//       the embeddings are tied (it must then have shape [V, C]) and required when untied;
//       every other name must be one of the expected parameters (unknown names, missing names
//       and shapes that disagree with config.json are errors naming the tensor, its shape and the
//       config field); F32, F16, BF16 (and F64) tensors are read into fp32.
//   load_gpt2_llmc(gpt2_124M.bin)      llm.c checkpoint: 256 × int32 header (magic 20240326,
//       version 3 = fp32 or 5 = bf16, max_seq_len, vocab_size, num_layers, num_heads, channels,
//       padded_vocab_size >= vocab_size), then the 16 layer-stacked tensors. The file size must
//       equal the header's exact payload size; padded vocabulary rows are dropped.
//   load_gpt2(path)                    either, chosen by what the path holds.
// Missing files are an InputError naming the files needed and where GPT-2 files come from
// (gpt2_files_hint()).
//
// Writers (for tests, the trainer and the benchmark): save_gpt2_hf writes model.safetensors +
// config.json (F32/F16/BF16, optional prefix and mask buffers, like real hub files);
// encode_gpt2_llmc writes the llm.c format (version 3 or 5).
//
// Usage:
//   Gpt2Weights w = load_gpt2("gpt2/");                    // or "gpt2_124M.bin"
//   const float* qkv = w.layer(0).qkv_w;                   // [C, 3C]
//   Gpt2Weights r = random_gpt2_weights(config, /*seed=*/7);
//   save_gpt2_hf(r, "tiny/");   encode_gpt2_llmc(r, 3);
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "attnlab/core/tensor.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/gpt2/config.hpp"

namespace attnlab::models::gpt2 {

// Pointers to one layer's parameters inside Gpt2Weights::params.
template <class T>
struct LayerParams {
  T* ln1_w;                 // [C]
  T* ln1_b;                 // [C]
  T* qkv_w;                 // [C, 3C]
  T* qkv_b;                 // [3C]
  T* proj_w;                // [C, C]
  T* proj_b;                // [C]
  T* ln2_w;                 // [C]
  T* ln2_b;                 // [C]
  T* fc_w;                  // [C, F]
  T* fc_b;                  // [F]
  T* fcproj_w;              // [F, C]
  T* fcproj_b;              // [C]
  T* decay_rate = nullptr;  // [H] or null
  T* sink_k = nullptr;      // [H, d] or null
  T* sink_v = nullptr;      // [H, d] or null
};

// Offsets (in floats) of every parameter for a config; sizes follow the table above.
struct Gpt2Layout {
  explicit Gpt2Layout(const Gpt2Config& c);
  std::size_t wte, wpe, lnf_w, lnf_b, lm_head, total;
  std::size_t layer_base0, layer_stride;  // layer l starts at layer_base0 + l·layer_stride
  // Offsets inside one layer.
  std::size_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fcproj_w,
      fcproj_b;
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);
  std::size_t decay_rate = kAbsent, sink_k = kAbsent, sink_v = kAbsent;  // optional tensors
  // Offset of layer l's block.
  std::size_t layer_base(Index l) const {
    return layer_base0 + layer_stride * static_cast<std::size_t>(l);
  }
};

struct Gpt2Weights {
  Gpt2Config config;
  AlignedVector<float> params;  // [Gpt2Layout(config).total]
  std::string source;           // file(s) it came from, or "random (seed N)"

  // Zero-filled parameters for a validated config.
  static Gpt2Weights zeros(const Gpt2Config& config);

  Gpt2Layout layout() const { return Gpt2Layout(config); }
  const float* wte() const;      // [V, C]
  const float* wpe() const;      // [P, C]
  const float* lnf_w() const;    // [C]
  const float* lnf_b() const;    // [C]
  const float* lm_head() const;  // [V, C]; == wte() when tied
  float* wte();
  float* wpe();
  float* lnf_w();
  float* lnf_b();
  float* lm_head();
  LayerParams<const float> layer(Index l) const;
  LayerParams<float> layer(Index l);
};

// GPT-2 initialization (Radford et al. / llm.c): weights N(0, 0.02²), residual projections
// (proj_w, fcproj_w) N(0, (0.02/√(2L))²), LayerNorm weights 1 and biases 0; learned decay rates
// start at RetNet's −ln(1 − 2^(−5−h)), sink slots N(0, 0.02²); wpe follows the position mode
// (learned: N(0, 0.01²), sinusoidal: the table, others: 0) — plus, when
// `perturb` > 0, N(0, perturb²) noise on LayerNorm parameters and biases so that tests exercise
// every parameter. Deterministic in the seed.
Gpt2Weights random_gpt2_weights(const Gpt2Config& config, std::uint64_t seed, double perturb = 0.0);

// RetNet's per-head decay γ_h = 1 − 2^(−5−h) as a logit slope: −ln γ_h.
double retnet_decay_rate(Index h);
// wpe = the sinusoidal table of attention/positional.hpp scaled to RMS 0.02.
void fill_sinusoidal_wpe(Gpt2Weights& w);

// One line naming the GPT-2 files attnlab reads and where they usually come from.
std::string gpt2_files_hint();

Gpt2Weights load_gpt2_hf(const std::filesystem::path& path);
Gpt2Weights load_gpt2_llmc(const std::filesystem::path& path);
// Directory with model.safetensors (HF) or with gpt2_124M.bin; a .safetensors file (config.json
// beside it); or an llm.c .bin file.
Gpt2Weights load_gpt2(const std::filesystem::path& path);
// From in-memory images (tests); `source` names them in messages.
Gpt2Weights parse_gpt2_hf(const io::SafetensorsFile& file, const Gpt2Config& config);
Gpt2Weights parse_gpt2_llmc(std::string_view bytes, std::string_view source);

struct HfWriteOptions {
  io::SafetensorsDtype dtype = io::SafetensorsDtype::F32;  // F32, F16 or BF16
  bool transformer_prefix = false;  // names "transformer.h.0..." like DialoGPT
  bool mask_buffers = false;        // add h.N.attn.bias [1,1,P,P] and masked_bias like the hub file
  bool lm_head = false;             // add a (tied) lm_head.weight copy of wte
};
// model.safetensors bytes.
std::string encode_gpt2_safetensors(const Gpt2Weights& w, const HfWriteOptions& options = {});
// Writes dir/model.safetensors and dir/config.json together (all or nothing).
void save_gpt2_hf(const Gpt2Weights& w, const std::filesystem::path& dir,
                  const HfWriteOptions& options = {});
// llm.c checkpoint bytes; version 3 (fp32) or 5 (bf16). Vocabulary padded to a multiple of 128.
std::string encode_gpt2_llmc(const Gpt2Weights& w, int version = 3);

inline constexpr std::int32_t kLlmcMagic = 20240326;

}  // namespace attnlab::models::gpt2
