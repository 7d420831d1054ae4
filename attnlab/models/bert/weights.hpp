// attnlab/models/bert/weights.hpp — BERT encoder parameters in one block, and the HF file format.
//
// BertWeights owns every parameter in ONE contiguous, 64-byte-aligned fp32 block, in this order
// (Linear weights stored [in, out] so nn/layers/linear.hpp's y = x·W + b applies; the file's
// torch Linear layout [out, in] is transposed on load and back on save):
//
//   word_emb   [V, C]      embeddings.word_embeddings.weight
//   pos_emb    [P, C]      embeddings.position_embeddings.weight
//   type_emb   [T, C]      embeddings.token_type_embeddings.weight
//   emb_ln_w, emb_ln_b [C] embeddings.LayerNorm.{weight,bias}
//   per layer l (prefix encoder.layer.l.):
//     qkv_w    [C, 3C]     attention.self.{query,key,value}.weight, side by side: columns
//     qkv_b    [3C]          0..C−1 Q, C..2C−1 K, 2C..3C−1 V; head h owns columns h·d..h·d+d−1
//     out_w    [C, C]      attention.output.dense.weight
//     out_b    [C]
//     ln1_w, ln1_b [C]     attention.output.LayerNorm
//     fc_w     [C, F]      intermediate.dense.weight
//     fc_b     [F]
//     fc2_w    [F, C]      output.dense.weight
//     fc2_b    [C]
//     ln2_w, ln2_b [C]     output.LayerNorm
//
// Loader (untrusted input; every check before any allocation sized by the file, FormatError
// naming the file, the tensor, its shape and the config field):
//   - names with or without the "bert." prefix (not both for one tensor), LayerNorm "gamma"/"beta"
//     accepted for "weight"/"bias" (old TF-converted checkpoints);
//   - tolerated and ignored: embeddings.position_ids (an integer buffer), pooler.dense.* and the
//     pre-training heads cls.* (BertForPreTraining / BertForMaskedLM files);
//   - every other name must be an expected parameter: unknown, missing, duplicated names and
//     shapes that disagree with config.json are errors; F32/F16/BF16/F64 are read into fp32.
//
// Writer (tests, synthetic models): save_bert_hf writes model.safetensors + config.json
// (optionally with the "bert." prefix, the position_ids buffer and a pooler, like real files).
//
// Usage:
//   BertWeights w = load_bert(".cache/minilm/all-MiniLM-L6-v2");
//   const float* q = w.layer(0).qkv_w;                       // [C, 3C]
//   BertWeights r = random_bert_weights(config, /*seed=*/3);  save_bert_hf(r, "tiny/");
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "attnlab/core/tensor.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/bert/config.hpp"

namespace attnlab::models::bert {

template <class T>
struct BertLayerParams {
  T* qkv_w;  // [C, 3C]
  T* qkv_b;  // [3C]
  T* out_w;  // [C, C]
  T* out_b;  // [C]
  T* ln1_w;  // [C]
  T* ln1_b;  // [C]
  T* fc_w;   // [C, F]
  T* fc_b;   // [F]
  T* fc2_w;  // [F, C]
  T* fc2_b;  // [C]
  T* ln2_w;  // [C]
  T* ln2_b;  // [C]
};

// Offsets (in floats) of every parameter for a config.
struct BertLayout {
  explicit BertLayout(const BertConfig& c);
  std::size_t word_emb, pos_emb, type_emb, emb_ln_w, emb_ln_b, total;
  std::size_t layer_base0, layer_stride;
  std::size_t qkv_w, qkv_b, out_w, out_b, ln1_w, ln1_b, fc_w, fc_b, fc2_w, fc2_b, ln2_w, ln2_b;
  std::size_t layer_base(Index l) const {
    return layer_base0 + layer_stride * static_cast<std::size_t>(l);
  }
};

struct BertWeights {
  BertConfig config;
  AlignedVector<float> params;  // [BertLayout(config).total]
  std::string source;           // the file, or "random (seed N)"

  static BertWeights zeros(const BertConfig& config);
  BertLayout layout() const { return BertLayout(config); }
  const float* word_emb() const { return params.data() + layout().word_emb; }  // [V, C]
  const float* pos_emb() const { return params.data() + layout().pos_emb; }    // [P, C]
  const float* type_emb() const { return params.data() + layout().type_emb; }  // [T, C]
  const float* emb_ln_w() const { return params.data() + layout().emb_ln_w; }  // [C]
  const float* emb_ln_b() const { return params.data() + layout().emb_ln_b; }  // [C]
  BertLayerParams<const float> layer(Index l) const;
  BertLayerParams<float> layer(Index l);
};

// N(0, 0.02²) weights and embeddings; LayerNorm weights 1 + N(0, perturb²), biases and LayerNorm
// biases N(0, perturb²) (perturb > 0 makes tests exercise every parameter). Deterministic.
BertWeights random_bert_weights(const BertConfig& config, std::uint64_t seed, double perturb = 0.0);

// One line naming the files a BERT directory holds and where the default model comes from.
std::string bert_files_hint();

// The default model directory: $ATTNLAB_BERT_MODEL when set, else
// .cache/minilm/all-MiniLM-L6-v2 (relative to the working directory) when it holds
// model.safetensors; nullopt otherwise.
std::optional<std::filesystem::path> find_default_bert();

// From a directory (config.json + model.safetensors) or a .safetensors file (config.json beside).
BertWeights load_bert(const std::filesystem::path& path);
BertWeights parse_bert(const io::SafetensorsFile& file, const BertConfig& config);

struct BertWriteOptions {
  io::SafetensorsDtype dtype = io::SafetensorsDtype::F32;
  bool bert_prefix = false;  // "bert.embeddings..." like BertForMaskedLM files
  bool position_ids = true;  // the I64 embeddings.position_ids [1, P] buffer
  bool pooler = true;        // pooler.dense.{weight,bias} (random; never read)
};
std::string encode_bert_safetensors(const BertWeights& w, const BertWriteOptions& options = {});
// dir/model.safetensors and dir/config.json, all or nothing.
void save_bert_hf(const BertWeights& w, const std::filesystem::path& dir,
                  const BertWriteOptions& options = {});

}  // namespace attnlab::models::bert
