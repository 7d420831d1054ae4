// attnlab/report/sections/gallery_section.hpp — "Attention variants at a glance" section.
//
// Runs analysis/gallery (run_gallery_study) and renders its JSON (render_gallery_section): a
// reading guide, heatmap grids of every variant's map on the same sequence (shared log color
// scale; masked entries gray), and a table of per-map statistics.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_gallery_study(const ReportOptions& options);
std::string render_gallery_section(const nlohmann::json& result);

}  // namespace attnlab::report
