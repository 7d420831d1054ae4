#include "attnlab/report/sections/selectivity_section.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>

#include "attnlab/analysis/selectivity/model_source.hpp"
#include "attnlab/analysis/selectivity/sweeps.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/report_builder.hpp"
#include "attnlab/report/sections/inspect_section.hpp"
#include "attnlab/report/studies/tiny_lm.hpp"

namespace attnlab::report {
namespace {

namespace sel = analysis::selectivity;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPaperCriticalRatio = 0.06;  // critical N ≈ 6% of L (paper, Fig. 2c)
constexpr double kPaperPlateauLow = 0.70, kPaperPlateauHigh = 0.85;  // N_s/N plateau (Fig. 3)
constexpr const char* kAnchorColor = "#555555";

// Population of the report's main run: heads differ in sharpness and value norm.
constexpr double kMainSpread = 1.0;

std::string color_of(const std::string& normalizer) {
  static const std::map<std::string, std::string> colors = {{"softmax", "#0072b2"},
                                                            {"sparsemax", "#d55e00"},
                                                            {"entmax15", "#009e73"},
                                                            {"ssmax", "#cc79a7"}};
  const auto it = colors.find(normalizer);
  return it == colors.end() ? "#000000" : it->second;
}

std::string label_of(const std::string& normalizer) {
  if (normalizer == "entmax15") return "entmax-1.5";
  if (normalizer == "ssmax") return "scalable-softmax";
  return normalizer;
}

std::string fmt(double v, int digits = 3) {
  return format_number(v, digits);
}

std::string h3(const std::string& text) {
  return "<h3>" + html_escape(text) + "</h3>\n";
}

// NaN unless finite (and positive on a log axis): figures.hpp skips NaN points.
double plottable(double v, bool log) {
  return std::isfinite(v) && (!log || v > 0) ? v : kNaN;
}

std::vector<double> finite_values(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v)
    if (std::isfinite(x)) out.push_back(x);
  return out;
}

double mean_of(const std::vector<double>& v) {
  const auto f = finite_values(v);
  if (f.empty()) return kNaN;
  double s = 0;
  for (double x : f) s += x;
  return s / static_cast<double>(f.size());
}

// Quantile (type 7) of the finite values.
double quantile_of(const std::vector<double>& v, double p) {
  auto f = finite_values(v);
  if (f.empty()) return kNaN;
  std::sort(f.begin(), f.end());
  const double pos = p * static_cast<double>(f.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, f.size() - 1);
  return f[lo] + (pos - static_cast<double>(lo)) * (f[hi] - f[lo]);
}

bool has_point(const Series& s) {
  return std::any_of(s.y.begin(), s.y.end(), [](double y) { return std::isfinite(y); });
}

void add_series(LinePlot& p, Series s) {
  if (has_point(s)) p.series.push_back(std::move(s));
}

bool sum_form(const sel::SelectivityResult& r) {
  return r.options.form == sel::DistanceForm::sum;
}

const std::vector<double>& top_of(const sel::DistancePoint& p, bool sum) {
  return sum ? p.top_sum : p.top_norm;
}
const std::vector<double>& random_of(const sel::DistancePoint& p, bool sum) {
  return sum ? p.random_sum : p.random_norm;
}

// d̃ (top-N with interquartile band over heads, random baseline dashed) along a sweep.
std::string distance_figure(const sel::SelectivityResult& r, bool length_sweep,
                            const std::string& title, const std::string& x_label) {
  LinePlot p;
  p.title = title;
  p.x_label = x_label;
  p.y_label = sum_form(r) ? "d~ (sum form)" : "d~ (norm form)";
  p.log_x = p.log_y = true;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 720;
  const bool sum = sum_form(r);
  for (const auto& n : r.normalizers) {
    const auto& pts = length_sweep ? n.length_sweep : n.count_sweep;
    Series top, rnd;
    top.name = label_of(n.name) + " top-N";
    rnd.name = label_of(n.name) + " random N-subset";
    top.color = rnd.color = color_of(n.name);
    rnd.dash = 2;
    for (const auto& pt : pts) {
      const double x = static_cast<double>(length_sweep ? pt.length : pt.count);
      top.x.push_back(x);
      rnd.x.push_back(x);
      top.y.push_back(plottable(mean_of(top_of(pt, sum)), true));
      top.y_low.push_back(plottable(quantile_of(top_of(pt, sum), 0.25), true));
      top.y_high.push_back(plottable(quantile_of(top_of(pt, sum), 0.75), true));
      rnd.y.push_back(plottable(mean_of(random_of(pt, sum)), true));
    }
    if (!pts.empty()) {
      add_series(p, std::move(top));
      add_series(p, std::move(rnd));
    }
  }
  return p.series.empty() ? std::string() : line_plot(p);
}

std::string max_weight_figure(const sel::SelectivityResult& r) {
  LinePlot p;
  p.title = "Vanishing attention: largest weight vs L";
  p.x_label = "L (keys)";
  p.y_label = "mean max α";
  p.log_x = p.log_y = true;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 720;
  double anchor_x = kNaN, anchor_y = kNaN;
  std::vector<double> xs;
  for (const auto& n : r.normalizers) {
    Series s;
    s.name = label_of(n.name);
    s.color = color_of(n.name);
    for (const auto& pt : n.length_sweep) {
      s.x.push_back(static_cast<double>(pt.length));
      s.y.push_back(plottable(mean_of(pt.max_weight), true));
    }
    if (n.name == "softmax" && !s.x.empty()) {
      anchor_x = s.x.front();
      anchor_y = s.y.front();
      xs = s.x;
    }
    if (!s.x.empty()) add_series(p, std::move(s));
  }
  if (std::isfinite(anchor_y)) {
    Series ref;
    ref.name = "∝ 1/L (Lemma 1 scaling)";
    ref.color = kAnchorColor;
    ref.dash = 3;
    ref.style = SeriesStyle::kLines;
    for (double x : xs) {
      ref.x.push_back(x);
      ref.y.push_back(anchor_y * anchor_x / x);
    }
    add_series(p, std::move(ref));
  }
  return p.series.empty() ? std::string() : line_plot(p);
}

std::string critical_figure(const sel::SelectivityResult& r) {
  LinePlot p;
  p.title = "Critical N vs L (first N where top-N and random d~ are KS-indistinguishable)";
  p.x_label = "L (keys)";
  p.y_label = "critical N";
  p.log_x = p.log_y = true;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 720;
  std::vector<double> Ls;
  for (const auto& n : r.normalizers) {
    Series s;
    s.name = label_of(n.name);
    s.color = color_of(n.name);
    for (const auto& c : n.critical) {
      s.x.push_back(static_cast<double>(c.length));
      s.y.push_back(c.critical >= 0 ? static_cast<double>(c.critical) : kNaN);
      if (Ls.size() < n.critical.size()) Ls.push_back(static_cast<double>(c.length));
    }
    if (!s.x.empty()) add_series(p, std::move(s));
  }
  if (Ls.empty()) return {};
  Series anchor, limit;
  anchor.name = "paper: 6%·L";
  anchor.color = kAnchorColor;
  anchor.dash = 2;
  anchor.style = SeriesStyle::kLines;
  limit.name = "N = L − 1 (largest testable)";
  limit.color = "#999999";
  limit.dash = 3;
  limit.style = SeriesStyle::kLines;
  for (double L : Ls) {
    anchor.x.push_back(L);
    anchor.y.push_back(kPaperCriticalRatio * L);
    limit.x.push_back(L);
    limit.y.push_back(L - 1);
  }
  add_series(p, std::move(anchor));
  add_series(p, std::move(limit));
  return p.series.size() > 2 ? line_plot(p) : std::string();
}

std::string spread_figure(const sel::SelectivityResult& r) {
  if (r.spread_sweep.empty()) return {};
  LinePlot p;
  p.title = "Critical N / L vs how different the heads are (L = " +
            std::to_string(r.spread_sweep.front().length) + ")";
  p.x_label = "population spread σ (gain and value scale exp(σ·z))";
  p.y_label = "critical N / L";
  p.legend = LegendPosition::kOutsideRight;
  p.width = 720;
  p.y_min = 0.0;
  p.y_max = 1.0;
  std::map<std::string, Series> by_name;
  for (const auto& sp : r.spread_sweep) {
    for (std::size_t v = 0; v < sp.normalizers.size(); ++v) {
      Series& s = by_name[sp.normalizers[v]];
      s.name = label_of(sp.normalizers[v]);
      s.color = color_of(sp.normalizers[v]);
      s.x.push_back(sp.spread);
      s.y.push_back(sp.critical[v] >= 0
                        ? static_cast<double>(sp.critical[v]) / static_cast<double>(sp.length)
                        : kNaN);
    }
  }
  for (const auto& n : r.normalizers) {
    auto it = by_name.find(n.name);
    if (it != by_name.end()) add_series(p, std::move(it->second));
  }
  p.reference_lines.push_back(ReferenceLine::at_y(kPaperCriticalRatio, "paper ≈ 6%"));
  return p.series.empty() ? std::string() : line_plot(p);
}

std::string separability_figures(const sel::SelectivityResult& r) {
  std::string out;
  LinePlot p;
  p.title = "Geometric separability N_s/N vs N (L = " + std::to_string(r.reference_length) + ")";
  p.x_label = "N (selected tokens)";
  p.y_label = "N_s / N (mean over heads)";
  p.log_x = true;
  p.y_min = 0.0;
  p.y_max = 1.05;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 720;
  p.bands.push_back(
      ShadedBand::y_between(kPaperPlateauLow, kPaperPlateauHigh, "paper plateau 70–85% (GPT-2)"));
  for (const auto& n : r.normalizers) {
    Series s;
    s.name = label_of(n.name);
    s.color = color_of(n.name);
    for (const auto& sp : n.separability) {
      s.x.push_back(static_cast<double>(sp.count));
      s.y.push_back(plottable(mean_of(sp.ratio), false));
    }
    if (!s.x.empty()) add_series(p, std::move(s));
  }
  if (p.series.empty()) return {};
  out += figure(line_plot(p),
                "Share of the top-N tokens whose scaled vector α_i x_i lies closer to the context "
                "s than every non-selected α_j x_j (r = min over non-selected). Mean over heads of "
                "each head's mean over queries; the shaded band is the paper's GPT-2 plateau.");
  std::vector<std::string> boxes;
  for (const auto& n : r.normalizers) {
    if (n.separability.empty()) continue;
    BoxPlot b;
    b.title = label_of(n.name);
    b.x_label = "N";
    b.y_label = "N_s / N per head";
    b.width = 360;
    b.height = 300;
    b.y_min = 0.0;
    b.y_max = 1.05;
    b.color = color_of(n.name);
    b.reference_lines.push_back(ReferenceLine::at_y(kPaperPlateauLow, "70%"));
    b.reference_lines.push_back(ReferenceLine::at_y(kPaperPlateauHigh, "85%"));
    for (const auto& sp : n.separability) {
      auto f = finite_values(sp.ratio);
      if (f.empty()) continue;
      b.categories.push_back(std::to_string(sp.count));
      b.samples.push_back(std::move(f));
    }
    if (!b.categories.empty()) boxes.push_back(box_plot(b));
  }
  if (!boxes.empty()) {
    out += figure_grid(boxes,
                       "N_s/N per head (box: quartiles over heads, whiskers 1.5·IQR), with the "
                       "paper's 70% and 85% anchors.",
                       300);
  }
  return out;
}

std::string softmax_sensitivity_figure(const sel::SelectivityResult& r) {
  const sel::NormalizerResult* sm = r.find("softmax");
  if (sm == nullptr || sm->sensitivity.empty()) return {};
  LinePlot p;
  p.title =
      "Softmax sensitivity ‖∂α/∂z‖ vs temperature (L = " + std::to_string(r.reference_length) + ")";
  p.x_label = "T";
  p.y_label = "norm of the Jacobian (max over heads)";
  p.log_x = p.log_y = true;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 760;
  p.height = 460;
  p.y_min = 1e-6;  // saturated rows reach 1e-30 and below; the plot keeps the interesting decades
  Series spec, entry, tied, b4, b2;
  spec.name = "‖J‖₂ (rows as they are)";
  entry.name = "max |J_ij|";
  tied.name = "‖J‖₂, top-2 scores tied";
  b4.name = "1/(4T) (paper, entry bound)";
  b2.name = "1/(2T) (spectral bound)";
  spec.color = color_of("softmax");
  entry.color = "#56b4e9";
  tied.color = "#e69f00";
  b4.color = b2.color = kAnchorColor;
  b4.dash = 2;
  b2.dash = 3;
  b4.style = b2.style = SeriesStyle::kLines;
  const std::size_t nE = sm->sensitivity.front().fd.size();
  std::vector<Series> fds(nE);
  const char* fd_colors[] = {"#009e73", "#d55e00", "#cc79a7", "#f0e442"};
  for (std::size_t e = 0; e < nE; ++e) {
    fds[e].name = "FD, random direction, ε=" + fmt(sm->sensitivity.front().fd[e].eps, 2);
    fds[e].color = fd_colors[e % 4];
    fds[e].dash = 4;
  }
  for (const auto& s : sm->sensitivity) {
    const double T = s.temperature;
    for (Series* x : {&spec, &entry, &tied, &b4, &b2}) x->x.push_back(T);
    spec.y.push_back(plottable(s.spectral.max_head, true));
    entry.y.push_back(plottable(s.entry.max_head, true));
    tied.y.push_back(plottable(s.tied_spectral.max_head, true));
    b4.y.push_back(1.0 / (4.0 * T));
    b2.y.push_back(1.0 / (2.0 * T));
    for (std::size_t e = 0; e < nE && e < s.fd.size(); ++e) {
      fds[e].x.push_back(T);
      fds[e].y.push_back(plottable(s.fd[e].random.max_head, true));
    }
  }
  for (Series* x : {&b2, &b4, &tied, &spec, &entry}) add_series(p, std::move(*x));
  for (auto& f : fds) add_series(p, std::move(f));
  return line_plot(p);
}

std::string comparison_sensitivity_figure(const sel::SelectivityResult& r) {
  LinePlot p;
  p.title = "T·‖∂α/∂z‖₂ per normalizer: tied top-2 rows (solid) and rows as they are (dashed)";
  p.x_label = "T";
  p.y_label = "T · ‖J‖₂";
  p.log_x = p.log_y = true;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 760;
  p.y_min = 1e-3;
  p.y_max = 10.0;
  for (const auto& n : r.normalizers) {
    Series tied, gen;
    tied.name = label_of(n.name) + " tied";
    gen.name = label_of(n.name) + " as is (max head)";
    tied.color = gen.color = color_of(n.name);
    gen.dash = 2;
    for (const auto& s : n.sensitivity) {
      tied.x.push_back(s.temperature);
      gen.x.push_back(s.temperature);
      tied.y.push_back(plottable(s.temperature * s.tied_spectral.mean, true));
      gen.y.push_back(plottable(s.temperature * s.spectral.max_head, true));
    }
    if (!tied.x.empty()) {
      add_series(p, std::move(tied));
      add_series(p, std::move(gen));
    }
  }
  p.reference_lines.push_back(ReferenceLine::at_y(0.5, "softmax bound 1/2"));
  p.reference_lines.push_back(ReferenceLine::at_y(0.25, "paper's 1/4"));
  return p.series.empty() ? std::string() : line_plot(p);
}

std::string comparison_table(const sel::SelectivityResult& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : r.normalizers) {
    const auto& s = n.summary;
    std::vector<double> Ls, norm_top;
    for (const auto& pt : n.length_sweep) {
      Ls.push_back(static_cast<double>(pt.length));
      norm_top.push_back(mean_of(sum_form(r) ? pt.top_norm : pt.top_sum));
    }
    const double other_slope = sel::log_log_slope(Ls, norm_top);
    std::string crit = std::isfinite(s.critical_ratio) ? format_percent(s.critical_ratio) : "—";
    crit += " (" + std::to_string(s.critical_found) + "/" + std::to_string(s.critical_tested) + ")";
    rows.push_back({label_of(n.name), crit, format_percent(s.ns_plateau),
                    format_percent(s.ns_minimum) + " @ N=" + std::to_string(s.ns_minimum_count),
                    fmt(s.distance_slope) + " / " + fmt(other_slope), fmt(s.max_weight_slope),
                    format_percent(s.band_inside_share), fmt(s.tied_spectral_times_t),
                    fmt(s.spectral_slope_small_t) + " / " + fmt(s.spectral_slope_large_t),
                    fmt(s.fd_slope_small_t)});
  }
  return html_table(
      {"normalizer", "critical N/L (L found)", "N_s/N plateau (N≥16)", "min N_s/N",
       std::string("d~ slope vs L (") + (sum_form(r) ? "sum / norm" : "norm / sum") + ")",
       "max α slope vs L", "rows in Lemma 1 band", "T·‖J‖₂ tied (smallest T)",
       "‖J‖₂ slope T≤0.1 / T≥1", "FD slope T≤0.1"},
      rows,
      {.caption = "Normalizer comparison on the same rows and random subsets. Critical N/L is the "
                  "least-squares slope of critical N vs L through the origin over the lengths "
                  "where a critical N was found; slopes are log–log least squares (d~ and max α "
                  "over the L sweep; ‖J‖₂ of the max-over-heads curve; FD = the paper's random-"
                  "direction estimator at the smallest ε)."});
}

std::string fd_table(const sel::SelectivityResult& r) {
  const sel::NormalizerResult* sm = r.find("softmax");
  if (sm == nullptr || sm->sensitivity.empty()) return {};
  std::vector<std::string> headers = {"T", "‖J‖₂ tied (analytic)"};
  for (const auto& f : sm->sensitivity.front().fd)
    headers.push_back("FD top dir., ε=" + fmt(f.eps, 2));
  headers.push_back("max |J_ij| (analytic)");
  for (const auto& f : sm->sensitivity.front().fd)
    headers.push_back("FD entry, ε=" + fmt(f.eps, 2));
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sm->sensitivity) {
    std::vector<std::string> row = {fmt(s.temperature), fmt(s.tied_spectral.mean, 4)};
    for (const auto& f : s.fd) row.push_back(fmt(f.tied_top.mean, 4));
    row.push_back(fmt(s.entry.mean, 4));
    for (const auto& f : s.fd) row.push_back(fmt(f.entry.mean, 4));
    rows.push_back(std::move(row));
  }
  return html_table(headers, rows,
                    {.caption = "Softmax: analytic Jacobian vs central finite differences (means "
                                "over rows). Along the top eigenvector of the tied rows the "
                                "smallest ε reproduces ‖J‖₂ until ε/T stops being small; larger "
                                "steps measure a secant capped by √2/ε (the simplex diameter): "
                                "the linearization breaks."});
}

std::string findings(const sel::SelectivityResult& r) {
  std::string out = h3("What we reproduce and where we differ");
  const sel::NormalizerResult* sm = r.find("softmax");
  if (sm == nullptr) return out + note("No softmax run in this result.");
  const auto& s = sm->summary;
  out += note(
      "The paper's numbers come from GPT-2 124M (144 heads, War and Peace). Pretrained GPT-2 "
      "weights cannot be downloaded here, so this section measures a synthetic population "
      "that satisfies the paper's assumptions A1–A2 (tokens uniform on a sphere with minimum "
      "spacing). The same instruments run on a real model with `attnlab selectivity --model "
      "DIR --text FILE` (q/k/v of every layer and head captured in one GPT-2 forward pass; "
      "--layers, --max-tokens, --model-queries) or on captured arrays with --q/--k/--v.");
  // Critical N.
  std::string spread_text;
  for (const auto& sp : r.spread_sweep) {
    for (std::size_t v = 0; v < sp.normalizers.size(); ++v) {
      if (sp.normalizers[v] != "softmax") continue;
      spread_text += (spread_text.empty() ? "" : ", ") + std::string("σ=") + fmt(sp.spread, 2) +
                     ": " +
                     (sp.critical[v] >= 0 ? format_percent(static_cast<double>(sp.critical[v]) /
                                                           static_cast<double>(sp.length))
                                          : std::string("not reached"));
    }
  }
  const bool crit_agrees = std::isfinite(s.critical_ratio) && s.critical_ratio < 0.09;
  out += callout(
      crit_agrees ? CalloutKind::kAgrees : CalloutKind::kDisagrees, "Critical N",
      "Paper: fewer than ≈6% of L tokens can be selected before top-N and random-subset "
      "distances become indistinguishable. Measured for softmax on this population: critical "
      "N/L = " +
          (std::isfinite(s.critical_ratio) ? format_percent(s.critical_ratio) : "not reached") +
          " (KS at level " + fmt(r.options.ks_level, 2) + ", one value per " +
          std::string(sel::to_string(r.options.ks_unit)) +
          "). The criterion depends on how "
          "different the units of the test are, not only on the normalizer: for softmax at L = " +
          (r.spread_sweep.empty() ? std::string("—") : std::to_string(r.spread_sweep[0].length)) +
          " the critical N/L is " + (spread_text.empty() ? "—" : spread_text) +
          ". Identical heads (σ = 0, exactly A1–A2) keep top-N distinguishable from random "
          "subsets almost up to N = L; heterogeneous heads blur the two distributions that "
          "the head-level KS test compares. A 6% ratio needs heads far more diverse than "
          "these, which GPT-2's layers plausibly are; we cannot check that here.");
  // Separability.
  const bool ns_agrees =
      s.ns_plateau >= kPaperPlateauLow - 0.05 && s.ns_plateau <= kPaperPlateauHigh + 0.05;
  std::string ns_text =
      "Paper: N_s/N falls until N ≈ 16, then stays at 70–85%. Measured plateau "
      "(mean over N ≥ 16): ";
  for (const auto& n : r.normalizers) {
    ns_text += label_of(n.name) + " " + format_percent(n.summary.ns_plateau) + "; ";
  }
  ns_text += "softmax's minimum is " + format_percent(s.ns_minimum) +
             " at N = " + std::to_string(s.ns_minimum_count) +
             ". Sparse normalizers zero most weights, so non-selected α_j x_j collapse onto the "
             "origin and the radius r shrinks to ≈‖s‖: few selected tokens stay inside it.";
  out += callout(ns_agrees ? CalloutKind::kAgrees : CalloutKind::kDisagrees,
                 "Geometric separability", ns_text);
  // Distance vs L.
  std::string d_text =
      "Paper (Fig. 2a): the top-N distance grows roughly linearly in L at N = 5. Measured log–log "
      "slopes of d~ vs L: ";
  for (const auto& n : r.normalizers) {
    d_text += label_of(n.name) + " " + fmt(n.summary.distance_slope) + ", ";
  }
  d_text += "random baseline (softmax) " + fmt(s.random_slope) +
            ". The sum form is ≈ (L − N)·‖s‖: it grows linearly only when the selected mass "
            "ᾱ_N stays O(1). With softmax that mass vanishes like 1/L up to the slowly growing "
            "top logit (max α slope " +
            fmt(s.max_weight_slope) +
            "; Lemma 1), so d~ grows sub-linearly; the length-aware ssmax and the sparse "
            "normalizers keep ᾱ_N and grow linearly.";
  out += callout(
      std::abs(s.distance_slope - 1.0) < 0.2 ? CalloutKind::kAgrees : CalloutKind::kDisagrees,
      "Distance vs L", d_text);
  // Sensitivity.
  out += callout(
      CalloutKind::kDisagrees, "Gradient bound",
      "Paper (Corollary 3): ‖∇α‖₂ ≤ 1/(4T). That bounds the entries; the spectral norm reaches "
      "1/(2T): with the top two scores tied we measure T·‖J‖₂ = " +
          fmt(s.tied_spectral_times_t, 4) + " at the smallest T (sparsemax " +
          fmt(r.find("sparsemax") ? r.find("sparsemax")->summary.tied_spectral_times_t : kNaN, 4) +
          ", entmax-1.5 " +
          fmt(r.find("entmax15") ? r.find("entmax15")->summary.tied_spectral_times_t : kNaN, 4) +
          ", scalable-softmax " +
          fmt(r.find("ssmax") ? r.find("ssmax")->summary.tied_spectral_times_t : kNaN, 4) +
          " = s·log L / 2). Rows without near-ties saturate as T → 0 (‖J‖₂ log–log slope " +
          fmt(s.spectral_slope_small_t) + " for T ≤ 0.1, " + fmt(s.spectral_slope_large_t) +
          " for T ≥ 1): the 1/T law the paper sees below T = 0.1 needs near-tied top logits, "
          "and its random-direction finite difference (slope " +
          fmt(s.fd_slope_small_t) +
          " here) measures ‖Jv‖ ≈ ‖J‖_F/√L for a random unit v, far below ‖J‖₂.");
  out += callout(
      s.band_inside_share == 1.0 ? CalloutKind::kAgrees : CalloutKind::kDisagrees, "Lemma 1",
      "Every softmax row lies inside e^(±2Δ/T)/L (" + format_percent(s.band_inside_share) +
          " of rows; checked in log space). The band is loose here (2Δ/T ≈ " +
          (sm->band.empty() ? std::string("—") : fmt(sm->band.back().exponent_mean)) +
          ", rows use " +
          (sm->band.empty() ? std::string("—") : format_percent(sm->band.back().upper_use_mean)) +
          " of its upper side at the largest L). Sparsemax and entmax leave it through exact "
          "zeros; scalable-softmax stays inside its own band, whose c = s·log L/T widens with L.");
  return out;
}

// The same instruments on q/k/v captured from a model (every layer × head, one forward pass):
// the GPT-2 in ATTNLAB_GPT2_DIR over ATTNLAB_GPT2_TEXT or the inspect section's sample text, or
// by default attnlab's trained tiny LM over held-out KJV text. Lengths are the powers of two from
// 32 that leave all queries a full window.
nlohmann::json run_model_capture(const ReportOptions& options, const sel::SelectivityOptions& base,
                                 const models::gpt2::Gpt2Model& model,
                                 const models::gpt2::BpeTokenizer& tok, const std::string& text,
                                 const std::string& what, const std::string& text_source) {
  if (tok.vocab_size() > model.config().vocab_size) {
    throw InputError(str_cat("selectivity study: the tokenizer of ", what, " has ",
                             tok.vocab_size(), " tokens, more than the model's ",
                             model.config().vocab_size));
  }
  std::vector<std::int32_t> ids = tok.encode(text);
  const Index window = std::min<Index>(model.config().n_positions, options.quick ? 256 : 1024);
  if (static_cast<Index>(ids.size()) > window) ids.resize(static_cast<std::size_t>(window));
  const Index n = static_cast<Index>(ids.size());
  sel::ModelSourceOptions mo;
  mo.queries = std::min<Index>(8, n / 4);
  sel::SelectivityOptions o = base;
  o.lengths.clear();
  for (Index L = 32; L <= n - mo.queries + 1; L *= 2) o.lengths.push_back(L);
  if (o.lengths.size() < 2) {
    throw InputError(str_cat("selectivity study: the text for ", what, " (", text_source, ") has ",
                             n, " tokens; the capture needs at least ", 64 + mo.queries - 1));
  }
  o.critical_lengths.clear();
  o.reference_length = 0;
  const Index ref = o.lengths.back();
  std::erase_if(o.counts, [&](Index c) { return c >= ref; });
  std::erase_if(o.separability_counts, [&](Index c) { return c >= ref; });
  o.max_queries = mo.queries;
  o.sweep_sensitivity = false;  // the temperature sweep is about the normalizer, not the model
  const sel::SelectivitySource src = sel::source_from_gpt2(
      model, ids, mo,
      str_cat(model.config().n_layer * model.config().n_head, " heads of ", what, " (",
              model.config().describe(), "), first ", n, " tokens of ", text_source, ", last ",
              mo.queries, " positions as queries, value vectors"));
  sel::SelectivityResult r = sel::run_selectivity(src, o);
  return sel::to_json(r);
}

std::optional<nlohmann::json> run_gpt2_capture(const ReportOptions& options,
                                               const sel::SelectivityOptions& base) {
  const char* dir = std::getenv("ATTNLAB_GPT2_DIR");
  if (!dir || !*dir) return std::nullopt;
  const models::gpt2::Gpt2Model model(models::gpt2::load_gpt2(dir));
  const models::gpt2::BpeTokenizer tok = models::gpt2::BpeTokenizer::load(dir);
  std::string text_source = "the inspect section's sample text";
  std::string text = inspect_sample_text();
  if (const char* t = std::getenv("ATTNLAB_GPT2_TEXT"); t && *t) {
    text = read_file(t);
    text_source = t;
  }
  return run_model_capture(options, base, model, tok, text, str_cat("the GPT-2 in ", dir),
                           text_source);
}

nlohmann::json run_tiny_lm_capture(const ReportOptions& options,
                                   const sel::SelectivityOptions& base) {
  const auto& lm = report_tiny_lm(options);
  const models::gpt2::Gpt2Model model(models::gpt2::load_gpt2(lm.dir));
  const models::gpt2::BpeTokenizer tok = models::gpt2::BpeTokenizer::load(lm.dir);
  nlohmann::json j = run_model_capture(
      options, base, model, tok, tiny_lm_sample_text(options, 2048), "attnlab's trained tiny LM",
      "the KJV validation split (held out from training)");
  j["model_kind"] = "tiny_lm";
  return j;
}

std::string render_gpt2_capture(const nlohmann::json& j) {
  const sel::SelectivityResult r = sel::selectivity_from_json(j);
  const bool tiny = j.value("model_kind", std::string("gpt2")) == "tiny_lm";
  std::string body = h3(tiny ? "The same instruments on the trained tiny LM"
                             : "The same instruments on a real model");
  body += paragraph(
      "Source: " + r.source.value("description", std::string("(unknown)")) +
      ". Each layer × head is one unit of the KS test, as in the paper; the logits are the "
      "model's own q·k/√d over the causal window ending at each query. Computed in " +
      fmt(r.seconds) + " s.");
  const std::string cf = critical_figure(r);
  if (!cf.empty()) {
    body += figure(cf, "Critical N on the captured heads (missing points: not reached).");
  }
  body += separability_figures(r);
  body += comparison_table(r);
  if (const auto* sm = r.find("softmax")) {
    const auto& s = sm->summary;
    body +=
        callout(CalloutKind::kNote, tiny ? "Trained tiny LM vs the paper" : "GPT-2 vs the paper",
                "Softmax on these heads: critical N/L = " + format_percent(s.critical_ratio) +
                    " (paper: ≈ 6%), N_s/N plateau " + format_percent(s.ns_plateau) +
                    " (paper: 70–85%), d~ slope vs L " + fmt(s.distance_slope) + ".");
  }
  return body;
}

}  // namespace

nlohmann::json run_selectivity_study(const ReportOptions& options) {
  sel::SelectivityOptions o =
      options.quick ? sel::SelectivityOptions::quick() : sel::SelectivityOptions{};
  o.seed = options.seed;
  // The model capture first: a misconfigured ATTNLAB_GPT2_DIR fails before minutes of work.
  std::optional<nlohmann::json> capture = run_gpt2_capture(options, o);
  nlohmann::json tiny_capture = capture ? nlohmann::json() : run_tiny_lm_capture(options, o);
  sel::SyntheticOptions so;
  so.heads = options.quick ? 16 : 32;
  so.queries = o.max_queries;
  so.length = *std::max_element(o.lengths.begin(), o.lengths.end());
  so.gain_spread = so.value_spread = kMainSpread;
  so.seed = options.seed;
  const sel::SelectivitySource src = sel::make_synthetic_source(so);
  sel::SelectivityResult r = sel::run_selectivity(src, o);
  r.source["synthetic"] = so.to_json();
  Timer t;
  const std::vector<double> spreads = options.quick ? std::vector<double>{0.0, 1.0, 2.0}
                                                    : std::vector<double>{0.0, 0.5, 1.0, 1.5, 2.0};
  r.spread_sweep = sel::run_spread_sweep(so, o, spreads, options.quick ? 128 : 256);
  r.timings["spread_sweep"] = t.seconds();
  r.seconds += r.timings["spread_sweep"];
  nlohmann::json j = sel::to_json(r);
  if (capture) j["gpt2_capture"] = std::move(*capture);
  if (!tiny_capture.is_null()) j["tiny_lm_capture"] = std::move(tiny_capture);
  return j;
}

std::string render_selectivity_section(const nlohmann::json& result) {
  const sel::SelectivityResult r = sel::selectivity_from_json(result);
  const std::string description = r.source.value("description", std::string("(unknown source)"));
  std::string body = paragraph(
      "How well can attention pick N tokens out of L? For each query the weights α come from "
      "the scores q·k/T (T = " +
      fmt(r.temperature) +
      ") through softmax, sparsemax, entmax-1.5 or scalable-softmax (logits × s·log L); the N "
      "largest weights form the selection with context s = Σ α_i x_i. Its distance d~ to the "
      "non-selected scaled tokens α_j x_j is compared with the same distance for random "
      "N-subsets, the geometric separability N_s/N counts selected tokens closer to s than any "
      "non-selected one, and the Jacobian ∂α/∂z measures how violently the weights react to the "
      "scores (definitions: SCIENCE.md §4; paper: arXiv 2508.17821). Source: " +
      description + ". Every normalizer sees the same rows and the same random subsets.");
  body +=
      paragraph("Run: " + std::to_string(r.options.draws) +
                " random subsets per query for the distance "
                "figures, " +
                std::to_string(r.options.ks_draws) + " per query for the critical-N scan, up to " +
                std::to_string(r.options.max_queries) +
                " queries per head, reference length L = " + std::to_string(r.reference_length) +
                ", d~ in the " + std::string(sel::to_string(r.options.form)) + " form, seed " +
                std::to_string(r.options.seed) + "; computed in " + fmt(r.seconds) + " s.");

  body += h3("Distance between the selection and the rest");
  const std::string dl = distance_figure(
      r, true, "Top-N distance vs L (N = " + std::to_string(r.options.length_sweep_count) + ")",
      "L (keys)");
  if (!dl.empty()) {
    body += figure(dl,
                   "d~ of the top-N set (solid; band: interquartile range over heads) and the "
                   "mean over random N-subsets (dashed), mean over heads.");
  }
  const std::string dn = distance_figure(
      r, false, "Top-N distance vs N (L = " + std::to_string(r.reference_length) + ")",
      "N (selected tokens)");
  if (!dn.empty()) {
    body += figure(dn,
                   "As N grows toward L the top-N set and a random set share more and more "
                   "tokens and the two curves meet (Corollary 2(ii)).");
  }
  const std::string mw = max_weight_figure(r);
  if (!mw.empty()) {
    body += figure(mw,
                   "Mean largest weight per row. Without a length-aware scale softmax's weights "
                   "shrink with L (Lemma 1); scalable-softmax's log L factor keeps the peak.");
  }

  body += h3("Critical N");
  const std::string cf = critical_figure(r);
  if (!cf.empty()) {
    body += figure(cf,
                   "Smallest N at which a two-sample KS test (exact p-value) no longer separates "
                   "top-N distances from random-subset distances, one value per " +
                       std::string(sel::to_string(r.options.ks_unit)) +
                       ". Missing points: not reached even at N = L − 1.");
  }
  const std::string sf = spread_figure(r);
  if (!sf.empty()) {
    body += figure(sf,
                   "The same criterion on synthetic populations whose heads differ more and more "
                   "(σ = 0: identical heads, the paper's assumptions exactly). Missing points: "
                   "not reached.");
  }

  body += h3("Geometric separability");
  body += separability_figures(r);

  body += h3("Gradient sensitivity");
  const std::string sm = softmax_sensitivity_figure(r);
  if (!sm.empty()) {
    body += figure(sm,
                   "Softmax Jacobian with respect to the scores z (ℓ = z/T), max over heads of "
                   "the per-head mean, on log–log axes. The paper's estimator is the finite "
                   "difference along a random unit direction; the tied rows set the second "
                   "score equal to the first, the case that attains 1/(2T). Values below 1e-6 "
                   "(saturated rows at small T reach 1e-30 and less) fall off the plot.");
  }
  const std::string cs = comparison_sensitivity_figure(r);
  if (!cs.empty()) {
    body += figure(cs,
                   "Worst case (tied) and typical (as is) spectral norm times T for every "
                   "normalizer: sparsemax's projection gives 1, entmax-1.5 1/√2, softmax 1/2, "
                   "scalable-softmax s·log L/2.");
  }
  body += fd_table(r);

  body += h3("Normalizer comparison");
  body += comparison_table(r);
  body += findings(r);
  if (result.contains("gpt2_capture")) body += render_gpt2_capture(result.at("gpt2_capture"));
  if (result.contains("tiny_lm_capture")) body += render_gpt2_capture(result.at("tiny_lm_capture"));
  return body;
}

}  // namespace attnlab::report
