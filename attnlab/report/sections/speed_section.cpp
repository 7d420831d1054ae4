#include "attnlab/report/sections/speed_section.hpp"

#include <cmath>
#include <map>

#include "attnlab/analysis/speed/attention_speed.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/report_builder.hpp"

namespace attnlab::report {

nlohmann::json run_speed_study(const ReportOptions& options) {
  analysis::SpeedOptions o;
  o.dims = {64};
  o.heads = 8;
  o.seed = options.seed;
  if (options.quick) {
    o.lengths = {512, 1024, 2048};
    o.backward = false;
    o.repeats = 2;
    o.memory_probe_length = 8192;
    o.variant_length = 1024;
  } else {
    o.lengths = {512, 1024, 2048, 4096};
    o.backward_max_length = 2048;
    o.repeats = 2;
    o.memory_probe_length = 32768;
    o.variant_length = 2048;
  }
  return analysis::to_json(analysis::run_attention_speed(o));
}

namespace {

struct Curve {
  std::vector<double> n, gflops, mib;
};

}  // namespace

std::string render_speed_section(const nlohmann::json& result) {
  const analysis::SpeedResult r = analysis::speed_from_json(result);
  std::string body = paragraph(
      "Fused attention against the standard composite softmax(QKᵀ/√d)·V in PyTorch, on this "
      "machine (" +
      r.machine + ", " + std::to_string(r.threads) + " threads, fused kernel ISA " + r.simd +
      "). Both run in the same invocation on the same "
      "shapes (H = 8 heads, d = 64, N = M); work is counted with the FlashAttention convention "
      "(forward 4·H·N²·d FLOPs, half when causal; forward + backward 3.5× that), so causal "
      "GFLOP/s count only the useful half. OpenBLAS sgemm on 2048³ is measured alongside as the "
      "practical compute ceiling. Extra memory is the peak resident memory during one call minus "
      "what the process held before it and minus the output arrays: what the algorithm needs "
      "beyond its inputs and outputs.");
  if (!r.peer_available) body += warning("No PyTorch peer in this run: " + r.peer);

  std::map<std::string, Curve> curves;
  for (const auto& row : r.rows) {
    const std::string pass = row.c.backward ? "fwd+bwd" : "fwd";
    const std::string mode = row.c.causal ? "causal" : "full";
    auto& a = curves["attnlab " + pass + ", " + mode];
    a.n.push_back(static_cast<double>(row.c.length));
    a.gflops.push_back(row.attnlab_gflops);
    a.mib.push_back(row.attnlab_extra_mib);
    auto& p = curves["PyTorch " + pass + ", " + mode];
    p.n.push_back(static_cast<double>(row.c.length));
    p.gflops.push_back(row.peer_status == "ok" ? row.peer_gflops : std::nan(""));
    p.mib.push_back(row.peer_status == "ok" ? row.peer_extra_mib : std::nan(""));
  }
  LinePlot speed;
  speed.title = "Attention throughput vs sequence length";
  speed.x_label = "sequence length N";
  speed.y_label = "GFLOP/s (useful work)";
  speed.log_x = true;
  speed.log_y = true;
  speed.legend = LegendPosition::kOutsideRight;
  speed.width = 760;
  LinePlot memory = speed;
  memory.title = "Memory beyond inputs and outputs (forward)";
  memory.y_label = "extra MiB";
  memory.series.clear();
  for (const auto& [name, c] : curves) {
    const bool peer = name.rfind("PyTorch", 0) == 0;
    bool any = false;
    for (double g : c.gflops) any |= std::isfinite(g) && g > 0;
    if (!any) continue;
    Series s{.name = name, .x = c.n, .y = c.gflops};
    s.dash = peer ? 2 : 1;
    speed.series.push_back(s);
    if (name.find("fwd+bwd") == std::string::npos) {
      Series m{.name = name, .x = c.n, .y = c.mib};
      for (auto& y : m.y)
        if (!(y > 0.01)) y = std::nan("");  // log axis: no room for ~0 readings
      m.dash = s.dash;
      bool finite = false;
      for (double y : m.y) finite |= std::isfinite(y);
      if (finite) memory.series.push_back(m);
    }
  }
  speed.reference_lines.push_back(ReferenceLine::at_y(r.sgemm_gflops, "OpenBLAS sgemm 2048³"));
  body += figure(line_plot(speed),
                 "Solid: attnlab fused kernel; dashed: PyTorch composite. The dotted line is "
                 "sgemm on the same cores: the fused kernel has both GEMMs and the softmax inside "
                 "one pass, so it cannot exceed it by much.");
  if (!memory.series.empty()) {
    body += figure(line_plot(memory),
                   "The composite materializes H·N² scores and probabilities, so its extra memory "
                   "grows with N²; the fused kernel holds packed K/V copies and per-thread tiles, "
                   "O(N·d).");
  }

  std::vector<std::vector<std::string>> rows;
  for (const auto& row : r.rows) {
    const bool ok = row.peer_status == "ok";
    rows.push_back({std::to_string(row.c.length), row.c.causal ? "yes" : "no",
                    row.c.backward ? "fwd+bwd" : "fwd", format_number(row.attnlab_ms, 3),
                    format_number(row.attnlab_gflops, 3),
                    format_percent(row.attnlab_gflops / r.sgemm_gflops, 2),
                    format_number(row.attnlab_extra_mib, 3),
                    ok ? format_number(row.peer_ms, 3) : row.peer_status,
                    ok ? format_number(row.peer_gflops, 3) : "—",
                    ok ? format_number(row.peer_extra_mib, 3) : "—",
                    ok ? format_number(row.peer_ms / row.attnlab_ms, 3) + "×" : "—"});
  }
  body += html_table(
      {"N", "causal", "pass", "attnlab ms", "attnlab GFLOP/s", "of sgemm", "attnlab extra MiB",
       "PyTorch ms", "PyTorch GFLOP/s", "PyTorch extra MiB", "speedup"},
      rows,
      {.caption = "Medians of " + std::string("repeated runs after a warm-up; ") +
                  "sgemm ceiling " + format_number(r.sgemm_gflops, 3) +
                  " GFLOP/s; peer: " + r.peer + "."});
  std::vector<std::string> notes;
  for (const auto& a : r.rows) {
    if (a.c.causal) continue;
    for (const auto& b : r.rows)
      if (b.c.causal && b.c.length == a.c.length && b.c.backward == a.c.backward)
        notes.push_back("N = " + std::to_string(a.c.length) + (a.c.backward ? " fwd+bwd" : " fwd") +
                        ": causal runs " + format_number(a.attnlab_ms / b.attnlab_ms, 3) +
                        "× faster than full attention (ideal: 2×).");
  }
  for (const auto& v : r.variants)
    notes.push_back("Kernel variant at N = " + std::to_string(r.variant_length) + ", d = 64, " +
                    "forward: " + v.label + " — " + format_number(v.gflops, 3) + " GFLOP/s.");
  if (r.probe_length > 0)
    notes.push_back("Memory probe, N = " + std::to_string(r.probe_length) +
                    ", d = 64, one head, forward: q, k, v and out take " +
                    format_number(r.probe_io_mib, 3) + " MiB; peak memory beyond them was " +
                    format_number(r.probe_extra_mib, 3) + " MiB (" + format_number(r.probe_ms, 3) +
                    " ms).");
  body += bullet_list(notes);
  return body;
}

}  // namespace attnlab::report
