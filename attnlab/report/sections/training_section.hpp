// attnlab/report/sections/training_section.hpp — "A tiny LM trained by attnlab" (SCIENCE.md §5–7).
//
// Renders run_training_study's JSON (report/studies/training_study.hpp) only: the recipe and the
// data (corpus checksum, split), the training curve in bits per character against attnlab's own
// n-gram and unigram baselines measured on the same split (and the published compression anchors
// of reference/tinylm_longcontext_anchors.md §6), the sink-emergence curve (Gu et al.'s Sink₁^ε
// and the per-layer first-token mass at every evaluation), what the trained heads do next to the
// same model before training (entropy, sink mass, sparsity, wasted work by layer) and the
// throughput. Every comparison with a published number is worded from the measured data.
//
// Usage:
//   std::string html = render_training_section(run_training_study(options));
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

std::string render_training_section(const nlohmann::json& result);

}  // namespace attnlab::report
