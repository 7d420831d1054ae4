// attnlab/report/sections/selectivity_section.hpp — "Selection limits of softmax" section.
//
// Runs analysis/selectivity (run_selectivity_study) on a synthetic head population — tokens on
// a sphere (the paper's A1/A2) with heads that differ in logit gain and value norm
// (σ_gain = σ_value = 1), every normalizer through the same sweeps, plus the critical N of
// populations with other spreads — and renders its JSON (render_selectivity_section): distance
// vs L and vs N with the random baseline, vanishing max weight (Lemma 1), critical N vs L with
// the paper's 6%·L anchor and vs population spread, N_s/N with the 70–85% band, sensitivity vs T
// with both softmax bounds, a normalizer comparison table, and what reproduces and what does not.
// When ATTNLAB_GPT2_DIR names a GPT-2 (model + tokenizer files), the same instruments also run on
// q/k/v captured from every layer × head over ATTNLAB_GPT2_TEXT (default: the inspect section's
// sample text), saved under "gpt2_capture" and rendered as a subsection.
//
// Budgets: default ≈ 20 s of CPU (lengths 32..1024, 32 heads × 8 queries, 200/8 draws,
// 13 temperatures, 5 spreads at L = 256); --quick ≈ 3 s (lengths ≤ 256, 16 heads, 3 spreads).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_selectivity_study(const ReportOptions& options);
std::string render_selectivity_section(const nlohmann::json& result);

}  // namespace attnlab::report
