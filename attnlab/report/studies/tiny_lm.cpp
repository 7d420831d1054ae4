#include "attnlab/report/studies/tiny_lm.hpp"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "attnlab/core/threads.hpp"
#include "attnlab/models/tinylm/lm_corpus.hpp"
#include "attnlab/report/report_builder.hpp"

namespace attnlab::report {

std::string tiny_lm_cache_root() {
  const char* root = std::getenv("ATTNLAB_CACHE_DIR");
  const std::filesystem::path base = root && *root ? std::filesystem::path(root) : ".cache";
  return (base / "tinylm").string();
}

const models::tinylm::CachedLm& report_tiny_lm(const ReportOptions& options) {
  static std::mutex mutex;
  static std::map<std::pair<bool, int>, models::tinylm::CachedLm> memo;
  std::lock_guard lock(mutex);
  const auto key = std::make_pair(options.quick, num_threads());
  auto it = memo.find(key);
  if (it == memo.end()) {
    it = memo.emplace(key, models::tinylm::obtain_trained_lm(
                               models::tinylm::default_lm_recipe(options.quick),
                               tiny_lm_cache_root(), num_threads()))
             .first;
  }
  return it->second;
}

models::gpt2::Gpt2Weights before_training_weights(const ReportOptions& options) {
  const auto recipe = models::tinylm::default_lm_recipe(options.quick);
  const auto config =
      recipe.options.model_config(models::gpt2::BpeTokenizer::byte_level().vocab_size());
  models::gpt2::Gpt2Weights w = models::gpt2::random_gpt2_weights(config, recipe.options.seed);
  w.source = "the same model at initialization (GPT-2 init, seed " +
             std::to_string(recipe.options.seed) + ")";
  return w;
}

std::string tiny_lm_sample_text(const ReportOptions& options, std::size_t bytes) {
  const auto recipe = models::tinylm::default_lm_recipe(options.quick);
  const auto corpus = models::tinylm::load_lm_corpus(recipe.corpus, recipe.tokenizer);
  return corpus.dataset.val_text.substr(0, bytes);
}

}  // namespace attnlab::report
