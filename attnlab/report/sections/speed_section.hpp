// attnlab/report/sections/speed_section.hpp — "Speed and memory of the fused kernel" section.
//
// Runs analysis/speed on a reduced grid (quick: N ≤ 2048, forward; default: N ≤ 4096 forward and
// N ≤ 2048 forward + backward, memory probe at N = 32768) and renders GFLOP/s and extra memory
// vs N for attnlab's fused kernel and the PyTorch composite, with OpenBLAS sgemm as the ceiling
// and the machine named. `attnlab bench attention` / `make bench` run the full grid.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_speed_study(const ReportOptions& options);
std::string render_speed_section(const nlohmann::json& result);

}  // namespace attnlab::report
