#include "attnlab/report/sections/speed_section.hpp"

#include <cmath>
#include <map>

#include "attnlab/analysis/speed/attention_speed.hpp"
#include "attnlab/analysis/speed/fma_peak.hpp"
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
    o.stride_probe_length = 0;
  } else {
    o.lengths = {512, 1024, 2048, 4096};
    o.backward_max_length = 2048;
    o.repeats = 2;
    o.memory_probe_length = 32768;
    o.variant_length = 2048;
    o.stride_probe_length = 2048;
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
      "Fused attention against PyTorch — its own flash scaled_dot_product_attention (torch 2, "
      "flash backend forced) and the composite softmax(QKᵀ/√d)·V (four ops) — on this "
      "machine (" +
      r.machine + ", " + std::to_string(r.threads) + " threads, fused kernel ISA " + r.simd +
      "). Both run in the same invocation on the same "
      "shapes (H = 8 heads, d = 64, N = M); work is counted with the FlashAttention convention "
      "(forward 4·H·N²·d FLOPs, half when causal; forward + backward 3.5× that), so causal "
      "GFLOP/s count only the useful half. Two ceilings are measured alongside: the cores' fp32 "
      "FMA peak (a microbenchmark of independent FMA chains, the hardware bound) and OpenBLAS "
      "sgemm on 2048³ (the practical one); a share above a ceiling is never printed (it would "
      "mean the ceiling was under-measured). Extra memory is the peak resident memory during one "
      "call minus "
      "what the process held before it and minus the output arrays: what the algorithm needs "
      "beyond its inputs and outputs.");
  for (const auto& p : r.peers)
    if (!p.available) body += warning("Peer missing in this run: " + p.name);
  std::vector<std::size_t> shown;
  for (std::size_t p = 0; p < r.peers.size(); ++p)
    if (r.peers[p].available) shown.push_back(p);

  std::map<std::string, Curve> curves;
  for (const auto& row : r.rows) {
    const std::string pass = row.c.backward ? "fwd+bwd" : "fwd";
    const std::string mode = row.c.causal ? "causal" : "full";
    auto& a = curves["attnlab " + pass + ", " + mode];
    a.n.push_back(static_cast<double>(row.c.length));
    a.gflops.push_back(row.attnlab_gflops);
    a.mib.push_back(row.attnlab_extra_mib);
    for (std::size_t k : shown) {
      const analysis::PeerTiming& t = row.peers[k];
      auto& p = curves[r.peers[k].name + " " + pass + ", " + mode];
      p.n.push_back(static_cast<double>(row.c.length));
      p.gflops.push_back(t.status == "ok" ? t.gflops : std::nan(""));
      p.mib.push_back(t.status == "ok" ? t.extra_mib : std::nan(""));
    }
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
    const bool peer = name.rfind("attnlab", 0) != 0;
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
  if (r.fma_peak_gflops > 0)
    speed.reference_lines.push_back(ReferenceLine::at_y(r.fma_peak_gflops, "FMA peak"));
  body += figure(line_plot(speed),
                 "Solid: attnlab fused kernel; dashed: the PyTorch peers. The dotted lines are "
                 "sgemm and the FMA peak on the same cores: the fused kernel has both GEMMs and "
                 "the softmax inside one pass, so it cannot exceed sgemm by much.");
  if (!memory.series.empty()) {
    body += figure(line_plot(memory),
                   "The composite materializes H·N² scores and probabilities, so its extra memory "
                   "grows with N²; the fused kernel holds packed K/V copies and per-thread tiles, "
                   "O(N·d).");
  }

  std::vector<std::vector<std::string>> rows;
  for (const auto& row : r.rows) {
    std::vector<std::string> cells = {
        std::to_string(row.c.length),
        row.c.causal ? "yes" : "no",
        row.c.backward ? "fwd+bwd" : "fwd",
        format_number(row.attnlab_ms, 3),
        format_number(row.attnlab_gflops, 3),
        analysis::share_of_ceiling(row.attnlab_gflops, r.fma_peak_gflops),
        analysis::share_of_ceiling(row.attnlab_gflops, r.sgemm_gflops),
        format_number(row.attnlab_extra_mib, 3)};
    for (std::size_t k : shown) {
      const analysis::PeerTiming& t = row.peers[k];
      const bool ok = t.status == "ok";
      cells.push_back(ok ? format_number(t.ms, 3) : t.status);
      cells.push_back(ok ? format_number(t.extra_mib, 3) : "—");
      cells.push_back(ok ? format_number(t.ms / row.attnlab_ms, 3) + "×" : "—");
    }
    rows.push_back(cells);
  }
  std::vector<std::string> header = {"N",          "causal",           "pass",
                                     "attnlab ms", "attnlab GFLOP/s",  "of FMA peak",
                                     "of sgemm",   "attnlab extra MiB"};
  std::string peers_caption;
  for (std::size_t k : shown) {
    const std::string tag = "peer " + std::to_string(k + 1);
    header.push_back(tag + " ms");
    header.push_back(tag + " extra MiB");
    header.push_back("speedup vs " + tag);
    peers_caption += "; " + tag + ": " + r.peers[k].name;
  }
  body +=
      html_table(header, rows,
                 {.caption = "Medians of repeated runs after a warm-up; FMA peak " +
                             format_number(r.fma_peak_gflops, 3) + " GFLOP/s (" + r.fma_peak_isa +
                             "), sgemm " + format_number(r.sgemm_gflops, 3) +
                             " GFLOP/s (OpenBLAS core " + r.blas_core + ")" + peers_caption + "."});
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
    notes.push_back("Kernel variant at N = " + std::to_string(v.length) +
                    ", d = " + std::to_string(v.dim) +
                    (v.backward ? ", forward + backward: " : ", forward: ") + v.label + " — " +
                    format_number(v.gflops, 3) + " GFLOP/s.");
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
