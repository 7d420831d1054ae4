// attnlab/report/sections/influence_section.hpp — "Influence malleability and poisoning" section
// (issue #5, SCIENCE.md §3).
//
// Runs a reduced malleability study (analysis/influence/malleability) and a reduced NTGA-style
// poisoning study (analysis/influence/poisoning) on Fashion-MNIST, for the 10-class task and the
// binary pair 0 (T-shirt/top) vs 6 (Shirt), and renders from their JSON only:
//   * the attention/ReLU ratio table per arm (M1 flip rate per attack at the largest ε ≤ 0.3,
//     margin-aware flip rate, Spearman ρ, M2, M3, M4 when present) with paired-bootstrap 95% CIs;
//   * flip rate vs ε per attack (both models, both arms);
//   * M2 / M3 bars with 95% t-intervals over seeds;
//   * test accuracy under poisoning vs ε (kernel predictor and arm-B network);
//   * a paragraph that sets the measured ratios beside the paper's (6.2–8.8× 10-class, 3–5×
//     binary, ≈1× CIFAR cars-vs-planes). Every number in the text comes from the JSON.
//
// Budgets (ReportOptions::quick): quick ≲ 8 s, default ≲ 60 s on 2 cores; `attnlab malleability`
// and `attnlab poison` run the full studies. Result JSON:
//   {"budget": "quick"|"default", "tasks": [{"id", "label", "malleability", "poison"}, ...]}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_influence_study(const ReportOptions& options);
std::string render_influence_section(const nlohmann::json& result);

}  // namespace attnlab::report
