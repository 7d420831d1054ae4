// attnlab/report/studies/tiny_lm.hpp — the trained tiny LM shared by the report's model sections.
//
// report_tiny_lm() obtains models/tinylm's default LM for the report's budget (quick or full):
// trained on first use, then read from the cache (models/tinylm/default_lm.hpp) under
// $ATTNLAB_CACHE_DIR/tinylm (default .cache/tinylm in the working directory). Within one process
// the result is memoized, so the training, inspect and selectivity sections see the same model.
// before_training_weights() are the same model's weights at initialization (GPT-2 init with the
// training seed): the "before training" contrast of every section.
//
// Usage:
//   const auto& lm = report_tiny_lm(options);            // lm.dir, lm.train, lm.from_cache
//   Gpt2Model trained(load_gpt2(lm.dir));
//   Gpt2Model before(before_training_weights(options));
//   std::string text = tiny_lm_sample_text(options);    // a KJV validation excerpt
#pragma once

#include <string>

#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/models/tinylm/default_lm.hpp"

namespace attnlab::report {

struct ReportOptions;

const models::tinylm::CachedLm& report_tiny_lm(const ReportOptions& options);
models::gpt2::Gpt2Weights before_training_weights(const ReportOptions& options);
// The first `bytes` bytes of the LM's validation split (held out from training).
std::string tiny_lm_sample_text(const ReportOptions& options, std::size_t bytes = 1024);
std::string tiny_lm_cache_root();

}  // namespace attnlab::report
