// attnlab/models/tinylm/default_lm.hpp — the tiny LM the report inspects, and its on-disk cache.
//
// The recipe (default_lm_recipe): a char-level (byte tokenizer) GPT trained by train_lm on the
// KJV Bible with TrainOptions' defaults, sized to train in a few minutes on 2 cores; the quick
// recipe is a 2-layer model trained for ~20 s (for `make report-quick`). Every model-based report
// section reads the same trained model.
//
// Cache: obtain_trained_lm keeps the model in <cache_root>/<key>/ (model.safetensors, config.json,
// vocab.json, merges.txt, train.json). The key is the sha256 of the recipe (options, corpus,
// tokenizer), the corpus sha256, the thread count (results are bit-identical only for a fixed
// thread count) and trainer_source_revision() — the sha256 of the sources under attnlab/{core,io,
// attention,nn,models} at build time — so any change to the code that computes the model
// retrains it. The directory is written under a temporary name and renamed into place: a killed
// run never leaves a half-written cache entry. An entry whose files fail to load is retrained.
//
// Usage:
//   CachedLm lm = obtain_trained_lm(default_lm_recipe(/*quick=*/false), ".cache/tinylm", 2);
//   Gpt2Model model(load_gpt2(lm.dir));   // lm.train ("result" of train.json), lm.from_cache
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "attnlab/models/tinylm/train_options.hpp"

namespace attnlab::models::tinylm {

struct LmRecipe {
  TrainOptions options;
  std::string corpus = "kjv";
  std::string tokenizer = "bytes";
  nlohmann::json to_json() const;
};

LmRecipe default_lm_recipe(bool quick);

// sha256 prefix of the trainer's sources at build time.
std::string trainer_source_revision();

struct CachedLm {
  std::filesystem::path dir;  // model + tokenizer + train.json
  nlohmann::json train;       // the training result (TrainResult::to_json() + baselines)
  std::string key;
  bool from_cache = false;
  double seconds = 0;  // time to obtain it (training, or loading the cache)
};

// Trains the recipe (with baselines) or reuses the cached entry. InputError when the cache root
// cannot be written; errors of the corpus or training propagate.
CachedLm obtain_trained_lm(const LmRecipe& recipe, const std::filesystem::path& cache_root,
                           int threads);

}  // namespace attnlab::models::tinylm
