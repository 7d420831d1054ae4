// attnlab/report/sections/tradeoff_section.hpp — "What long-context heuristics cost" (SCIENCE.md
// §6, seed 004): renders run_tradeoff_report_study's JSON (report/studies/
// tradeoff_report_study.hpp) only.
//
// Contents: a findings paragraph computed from the data (does window/decay stay near full
// attention on recency and fall on dense retrieval? agrees/differs callouts against the seed's
// claim and the published split of reference/tinylm_longcontext_anchors.md §4); per task the
// variant table (quality with 95% seed intervals, counted FLOPs, attention pairs, KV bytes,
// prunable pairs, wall time, frontier marks) and the quality–compute frontier plot; accuracy vs
// key–query distance per recall task and NLL vs position for KJV; the learned per-head decay
// rates per task beside RetNet's initial rates; the searched heuristic and its rounds; the
// StreamingLLM table (perplexity per model × cache policy beside the 160M anchors 27.87 / 18.05 /
// 18.01) with each model's measured Sink₁ and the streaming NLL curves; the sink levers when run.
//
// Usage:
//   std::string html = render_tradeoff_section(run_tradeoff_report_study(options));
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

std::string render_tradeoff_section(const nlohmann::json& result);

}  // namespace attnlab::report
