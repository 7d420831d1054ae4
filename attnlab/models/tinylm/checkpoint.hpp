// attnlab/models/tinylm/checkpoint.hpp — a training run's complete state in one file.
//
// What `--resume` needs to continue bit-identically: the fp32 parameters, AdamW's moments and
// step count, the options (model + optimization + seed: batch `s` is drawn from (seed, s), so the
// step count is the data position), the dataset's identity (sha256, tokenizer, split) and the
// history so far (curve, evaluations) so the final report covers the whole run.
//
// Format: a safetensors file (io/safetensors.hpp) with three F32 tensors "params", "adam_m",
// "adam_v", each [P], and __metadata__ {"format": "attnlab-train-checkpoint", "version": "1",
// "state": JSON text}. Reading validates the container (the strict safetensors reader) and then,
// before anything is allocated from it: the format and version, the config (strict parser of
// config.json), P == the parameter count of that config for all three tensors, finite
// parameters. Written atomically (temp file + rename): a crash never leaves a truncated file under
// the final name.
//
// Usage:
//   TrainState s;  s.step = 500;  s.params = ...;  save_checkpoint("run/checkpoint.safetensors", s);
//   TrainState r = load_checkpoint("run/checkpoint.safetensors");   // FormatError on anything off
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/models/gpt2/config.hpp"

namespace attnlab::models::tinylm {

struct TrainState {
  std::int64_t step = 0;  // optimizer steps done
  gpt2::Gpt2Config config;
  nlohmann::json options;                     // TrainOptions::to_json()
  nlohmann::json dataset;                     // LmDataset::to_json()
  nlohmann::json history;                     // {"curve": [...], "evals": [...]}
  std::vector<float> params, adam_m, adam_v;  // [P] each
};

std::string encode_checkpoint(const TrainState& state);
void save_checkpoint(const std::filesystem::path& path, const TrainState& state);
TrainState parse_checkpoint(std::string bytes, std::string_view source);
// InputError when missing; FormatError naming the file and the problem otherwise.
TrainState load_checkpoint(const std::filesystem::path& path);

}  // namespace attnlab::models::tinylm
