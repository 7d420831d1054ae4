// attnlab/report/studies/training_study.hpp — the report's "tiny LM trained by attnlab" study.
//
// run_training_study obtains the report's tiny LM (studies/tiny_lm.hpp: trained with
// models/tinylm on the KJV Bible, or read from the cache) and adds what its heads do: per-layer
// means of the inspect diagnostics (analysis/inspect: normalized entropy, first-token sink mass,
// sparsity, wasted work, top-8 mass, sink heads) on a held-out KJV excerpt, for the trained model
// and for the same model before training. The result JSON holds the training record (curve,
// evaluations with Sink₁^ε, final validation loss, throughput, n-gram and unigram baselines), the
// cache key and those per-layer tables; sections/training_section.hpp renders it.
//
// Usage:
//   nlohmann::json j = run_training_study(options);   // j["train"], j["heads"]["trained"]
#pragma once

#include <nlohmann/json.hpp>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_training_study(const ReportOptions& options);

// Per-layer means of an inspect result (analysis::to_json form): {"layers": [{...}], ...}.
nlohmann::json layer_summary(const nlohmann::json& inspect);

}  // namespace attnlab::report
