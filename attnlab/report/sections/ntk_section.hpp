// attnlab/report/sections/ntk_section.hpp — "Gram spectrum and NTK (non-)convergence" section.
//
// Runs the spectral study (analysis/spectral) and a reduced NTK convergence sweep
// (analysis/ntk/convergence) on Fashion-MNIST within the report budget, and renders from their
// JSON only: the spectral-amplification table, log-log plots of rel_frob, spec_ratio, kernel drift
// and NTK-predictor distance against width (both models, init and both training arms), the
// per-model kernel facts (κ(Θ∞), fitted slopes, Bernstein and empirical widths), and a comparison
// with the paper's anchor table that says where the numbers agree, where they do not, and why.
//
// Budgets (ReportOptions::quick): quick ≈ 15 s, default ≈ 90 s on 2 cores; `attnlab ntk` and
// `attnlab spectrum` run the full studies. The result JSON is
//   {"budget": "quick"|"default", "spectrum": <spectral::to_json>, "convergence": <ntk::to_json>}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_ntk_study(const ReportOptions& options);
std::string render_ntk_section(const nlohmann::json& result);

}  // namespace attnlab::report
