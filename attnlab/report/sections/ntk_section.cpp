#include "attnlab/report/sections/ntk_section.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/ntk/convergence.hpp"
#include "attnlab/analysis/spectral/spectrum.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/report_builder.hpp"

namespace attnlab::report {
namespace {

namespace ntk = analysis::ntk;
namespace spectral = analysis::spectral;
using ntk::ModelKind;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kReluColor = "#0072b2";
constexpr const char* kAttnColor = "#d55e00";

// The paper's anchor table (absolute ‖f_m − f_NTK‖ at m = 16 / 1024 / 4096), SCIENCE.md §2.
struct Anchor {
  const char* model;
  const char* data;
  std::array<double, 3> dist;
};
constexpr std::array<Anchor, 4> kAnchors = {{{"2L-ReLU", "MNIST", {45.1, 39.9, 39.2}},
                                             {"MLP-Attn", "MNIST", {10.3, 33.3, 43.4}},
                                             {"2L-ReLU", "CIFAR-10", {246.2, 101.7, 56.9}},
                                             {"MLP-Attn", "CIFAR-10", {3.7, 10.4, 12.6}}}};
constexpr std::array<Index, 3> kAnchorWidths = {16, 1024, 4096};

std::string fmt(double v, int digits = 3) {
  return format_number(v, digits);
}

std::string kappa_cell(double kappa, bool resolved) {
  return resolved && std::isfinite(kappa) ? fmt(kappa) : "unresolved";
}

std::string h3(const std::string& text) {
  return "<h3>" + html_escape(text) + "</h3>\n";
}

// Mean of `key` for `model` at `width` (NaN when absent).
double mean_at(const ntk::ConvergenceResult& r, ModelKind model, const std::string& key,
               Index width) {
  for (const auto& ws : ntk::summarize_metric(r, model, key))
    if (ws.width == width) return ws.stats.mean;
  return kNaN;
}

std::string mean_ci(const ntk::SampleStats& s, int digits = 3) {
  if (s.count == 0 || !std::isfinite(s.mean)) return "—";
  if (s.count < 2) return fmt(s.mean, digits);
  return fmt(s.mean, digits) + " ± " + fmt(s.ci_high - s.mean, 2);
}

struct CurveSpec {
  ModelKind model;
  std::string key;
  std::string label;
  int dash;
};

// One log-log plot of metric means (95% CI error bars) against width.
std::string width_plot(const ntk::ConvergenceResult& r, const std::string& title,
                       const std::string& y_label, const std::vector<CurveSpec>& curves,
                       std::vector<ReferenceLine> refs, bool guide_half) {
  LinePlot p;
  p.title = title;
  p.x_label = "width m";
  p.y_label = y_label;
  p.log_x = p.log_y = true;
  p.width = 520;
  p.height = 380;
  p.legend = LegendPosition::kBelow;
  p.reference_lines = std::move(refs);
  for (const CurveSpec& c : curves) {
    Series s;
    s.name = c.label;
    s.color = c.model == ModelKind::relu ? kReluColor : kAttnColor;
    s.dash = c.dash;
    s.errors = ErrorStyle::kBars;
    bool any = false;
    for (const auto& ws : ntk::summarize_metric(r, c.model, c.key)) {
      const double m = ws.stats.mean;
      const bool ok = std::isfinite(m) && m > 0.0;
      s.x.push_back(static_cast<double>(ws.width));
      s.y.push_back(ok ? m : kNaN);
      const bool bars = ok && ws.stats.count > 1 && ws.stats.ci_low > 0.0;
      s.y_low.push_back(bars ? ws.stats.ci_low : (ok ? m : kNaN));
      s.y_high.push_back(bars ? ws.stats.ci_high : (ok ? m : kNaN));
      any = any || ok;
    }
    if (any) p.series.push_back(std::move(s));
  }
  if (guide_half && !p.series.empty()) {
    // m^(-1/2) through the first 2L-ReLU init point.
    const Series& first = p.series.front();
    if (!first.y.empty() && std::isfinite(first.y.front())) {
      Series g;
      g.name = "∝ m^-1/2";
      g.color = "#777777";
      g.dash = 4;
      g.style = SeriesStyle::kLines;
      for (const double x : first.x) {
        g.x.push_back(x);
        g.y.push_back(first.y.front() * std::sqrt(first.x.front() / x));
      }
      p.series.push_back(std::move(g));
    }
  }
  if (p.series.empty()) return "";
  return line_plot(p);
}

std::vector<CurveSpec> three_curves(const std::string& init_key, const std::string& a_key,
                                    const std::string& b_key, const ntk::ConvergenceResult& r) {
  std::vector<CurveSpec> out;
  for (const auto& ref : r.references) {
    const std::string name(ntk::model_label(ref.model));
    if (!init_key.empty()) out.push_back({ref.model, init_key, name + " init", 1});
    if (r.options.arm_a && !a_key.empty()) out.push_back({ref.model, a_key, name + " arm A", 2});
    if (r.options.arm_b && !b_key.empty()) out.push_back({ref.model, b_key, name + " arm B", 3});
  }
  return out;
}

std::string spectrum_part(const spectral::SpectrumResult& s) {
  std::string body = h3("Spectral amplification (SCIENCE.md §1)");
  body += paragraph(
      "X holds n class-balanced Fashion-MNIST training images scaled to unit rows (D = " +
      std::to_string(s.dim) +
      "); G = X Xᵀ; linearized attention maps x to C x with C = XᵀX, so the features F = X C have "
      "Gram G³. κ(G³) is computed from the eigenvalues of the explicitly formed G³ (LAPACK "
      "dsyevd, fp64), not by cubing. When n > D, G has rank ≤ D and κ_D = λ₁/λ_D is shown; "
      "'unresolved' marks a condition number whose smallest eigenvalue is at fp64's rounding "
      "floor (or κ > 10¹⁵) — such values are not measurements. The last columns are κ of the "
      "ReLU NTK Θ∞ (what NTK convergence actually depends on) on raw rows and on normalized "
      "attention features, and the width thresholds κ⁶ (paper v1) and κ⁶·n·ln n (paper v2) "
      "computed from the κ named in the basis column (κ_r = λ₁/λ_r over the numerical rank r "
      "where κ_D is unresolved).");
  std::vector<std::vector<std::string>> rows;
  for (const spectral::SpectrumRow& w : s.rows) {
    const bool both = w.kappa_g_resolved && w.kappa_g3_resolved;
    rows.push_back({w.class_set == "all" ? "all 10" : w.class_set, std::to_string(w.n),
                    std::to_string(w.gram.rank), kappa_cell(w.kappa_g, w.kappa_g_resolved),
                    kappa_cell(w.kappa_g3, w.kappa_g3_resolved),
                    w.kappa_g_resolved ? fmt(w.kappa_g_cubed) : "—",
                    both ? fmt(w.cube_ratio, 6) : "—",
                    kappa_cell(w.kappa_features, w.kappa_features_resolved),
                    kappa_cell(w.ntk_raw.kappa, w.ntk_raw.resolved),
                    kappa_cell(w.ntk_attn.kappa, w.ntk_attn.resolved),
                    w.ntk_raw.resolved && w.ntk_attn.resolved ? fmt(w.ntk_ratio) : "—",
                    w.width_basis, fmt(w.width_kappa6), fmt(w.width_kappa6_nlogn),
                    fmt(w.bernstein_raw), fmt(w.bernstein_attn)});
  }
  body += html_table(
      {"classes", "n", "rank G", "κ(G)", "κ(G³) direct", "κ(G)³", "ratio", "κ(F̃F̃ᵀ)", "κ(Θ∞) raw",
       "κ(Θ∞) attn", "attn/raw", "basis", "κ⁶", "κ⁶·n ln n", "Bernstein m raw", "Bernstein m attn"},
      rows,
      {.caption = "Spectral table, class sets 'all 10' and T-shirt/top (0) vs "
                  "Shirt (6). Bernstein m: width at which the matrix-Bernstein "
                  "bound guarantees ‖Θ_m − Θ∞‖₂ ≤ λ_min(Θ∞)/2 with probability "
                  "0.95, from the measured Θ∞ spectrum."});
  // Data-driven summary.
  double min_ratio = INFINITY, max_ratio = 0, max_cube_dev = 0;
  double min_gap = INFINITY, max_gap = 0;  // log10(κ⁶ / Bernstein m attn)
  double min_kg = INFINITY, max_kg = 0;
  int cube_rows = 0, unresolved_g3 = 0;
  for (const spectral::SpectrumRow& w : s.rows) {
    if (w.ntk_raw.resolved && w.ntk_attn.resolved) {
      min_ratio = std::min(min_ratio, w.ntk_ratio);
      max_ratio = std::max(max_ratio, w.ntk_ratio);
    }
    if (w.kappa_g_resolved && w.kappa_g3_resolved) {
      ++cube_rows;
      max_cube_dev = std::max(max_cube_dev, std::abs(w.cube_ratio - 1.0));
    }
    if (!w.kappa_g3_resolved) ++unresolved_g3;
    if (std::isfinite(w.width_kappa6) && w.bernstein_attn > 0 && std::isfinite(w.bernstein_attn)) {
      const double gap = std::log10(w.width_kappa6 / w.bernstein_attn);
      min_gap = std::min(min_gap, gap);
      max_gap = std::max(max_gap, gap);
    }
    if (w.kappa_g_resolved) {
      min_kg = std::min(min_kg, w.kappa_g);
      max_kg = std::max(max_kg, w.kappa_g);
    }
  }
  std::string text;
  if (cube_rows > 0) {
    text += "Where fp64 resolves both, κ(G³) equals κ(G)³ (largest relative deviation " +
            fmt(max_cube_dev, 2) + " over " + std::to_string(cube_rows) +
            " rows): the spectral cubing of the linear Gram kernel is exact. ";
  }
  if (unresolved_g3 > 0) {
    text += "In " + std::to_string(unresolved_g3) + " of " + std::to_string(s.rows.size()) +
            " rows κ(G³) is beyond fp64 altogether — the cubed spectrum spans more than 15 "
            "decades. ";
  }
  if (std::isfinite(min_kg)) {
    text += "κ(G) itself ranges from " + fmt(min_kg) + " to " + fmt(max_kg) +
            " and grows quickly with n (the paper's MNIST anchor is κ(G) ≈ 1.2·10³, CIFAR-10 "
            "8.7·10³; it does not state n). For n > D a pixel that is zero in every sampled image "
            "makes λ_D exactly 0, so κ_D is unresolved there. ";
  }
  if (std::isfinite(min_ratio)) {
    text += "The quantity that governs NTK convergence, κ(Θ∞), is only " + fmt(min_ratio, 2) + "–" +
            fmt(max_ratio, 2) +
            "× larger on attention features than on raw rows — attention does worsen the kernel's "
            "conditioning, by two to three orders of magnitude, but nowhere near the κ(G)³ "
            "factor of the linear kernel. ";
  }
  if (std::isfinite(min_gap)) {
    text +=
        "The κ⁶ width threshold (which assumes κ(Θ∞) ≈ κ(G)³) exceeds the Bernstein width "
        "computed from the measured attention-feature spectrum by 10^" +
        fmt(min_gap, 2) + " to 10^" + fmt(max_gap, 2) +
        ": both are astronomically beyond practical widths for attention, but the measured "
        "requirement is far smaller than the κ⁶ argument suggests.";
  }
  body += callout(CalloutKind::kNote, "What the table shows", text);
  return body;
}

std::string facts_table(const ntk::ConvergenceResult& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& ref : r.references) {
    rows.push_back({std::string(ntk::model_label(ref.model)),
                    kappa_cell(ref.theta_inf.kappa, ref.theta_inf.resolved),
                    fmt(ref.theta_inf.lambda_min), fmt(ref.theta_inf.lambda_max),
                    fmt(ref.rel_frob_fit.slope), fmt(ref.spec_ratio_fit.slope),
                    fmt(ref.empirical_width_half), fmt(ref.bernstein_width),
                    format_percent(ref.ntk_train_acc), format_percent(ref.ntk_test_acc)});
  }
  return html_table(
      {"model", "κ(Θ∞)", "λ_min(Θ∞)", "λ_max(Θ∞)", "slope rel_frob", "slope spec_ratio",
       "m for spec_ratio = 0.5 (fit)", "Bernstein m", "f_NTK train acc", "f_NTK test acc"},
      rows,
      {.caption = "Per model, on the n training rows: Θ∞'s spectrum, log-log "
                  "slopes of rel_frob and spec_ratio at init (means over seeds), the "
                  "width where the fitted spec_ratio reaches 0.5 (extrapolated), the "
                  "matrix-Bernstein sufficient width, and the accuracy of the ridge "
                  "NTK predictor f_NTK."});
}

std::string width_table(const ntk::ConvergenceResult& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& ref : r.references) {
    const auto get = [&](const char* key) { return ntk::summarize_metric(r, ref.model, key); };
    const auto rf = get("rel_frob_init"), sr = get("spec_ratio_init"), ad = get("a.drift"),
               af = get("a.pattern_flips"), ar = get("a.dist_rel"), aa = get("a.test_acc"),
               bd = get("b.drift"), bf = get("b.pattern_flips"), br = get("b.dist_rel"),
               bg = get("b.dist_gd_rel"), ba = get("b.test_acc");
    for (std::size_t i = 0; i < rf.size(); ++i) {
      auto pct = [](const ntk::SampleStats& s) {
        return std::isfinite(s.mean) ? format_percent(s.mean) : std::string("—");
      };
      rows.push_back({std::string(ntk::model_label(ref.model)), std::to_string(rf[i].width),
                      mean_ci(rf[i].stats), mean_ci(sr[i].stats), mean_ci(ad[i].stats),
                      pct(af[i].stats), mean_ci(ar[i].stats), pct(aa[i].stats),
                      mean_ci(bd[i].stats), pct(bf[i].stats), mean_ci(br[i].stats),
                      mean_ci(bg[i].stats), pct(ba[i].stats)});
    }
  }
  return html_table(
      {"model", "m", "rel_frob (init)", "spec_ratio (init)", "A drift", "A flips", "A dist (rel)",
       "A test acc", "B drift", "B flips", "B dist (rel)", "B vs kernel GD (rel)", "B test acc"},
      rows,
      {.caption = "Means over seeds ± 95% Student-t half-widths. drift = "
                  "‖Θ_T − Θ_0‖_F/‖Θ_0‖_F; flips = share of training activation "
                  "patterns 1[w_rᵀx_i > 0] that changed; dist (rel) = "
                  "‖f_m − f_NTK‖_F/‖f_NTK‖_F on the test rows; kernel GD = Θ∞ "
                  "dynamics with arm B's exact step size and step count."});
}

// "grows 4.2×", "shrinks to 0.87×", "flat".
std::string trend_word(double first, double last) {
  if (!std::isfinite(first) || !std::isfinite(last) || first <= 0) return "n/a";
  const double r = last / first;
  if (r > 1.1) return "grows " + fmt(r, 2) + "×";
  if (r < 0.9) return "shrinks to " + fmt(r, 2) + "×";
  return "flat (" + fmt(r, 2) + "×)";
}

std::string anchor_part(const ntk::ConvergenceResult& r) {
  std::string body = h3("Comparison with the paper's anchor table");
  std::vector<std::vector<std::string>> rows;
  for (const Anchor& a : kAnchors) {
    rows.push_back({std::string("paper: ") + a.model, a.data, "—", fmt(a.dist[0]), fmt(a.dist[1]),
                    fmt(a.dist[2]), trend_word(a.dist[0], a.dist[2])});
  }
  const Index lo = r.options.widths.front(), hi = r.options.widths.back();
  struct Ours {
    ModelKind model;
    char arm;
    double first, last;
  };
  std::vector<Ours> ours;
  for (const auto& ref : r.references) {
    for (const char arm : {'a', 'b'}) {
      if ((arm == 'a' && !r.options.arm_a) || (arm == 'b' && !r.options.arm_b)) continue;
      const std::string key = std::string(1, arm) + ".dist_abs";
      std::vector<std::string> row = {
          std::string("attnlab: ") + std::string(ntk::model_label(ref.model)), "Fashion-MNIST",
          arm == 'a' ? "A (paper recipe)" : "B (NTK control)"};
      for (const Index m : kAnchorWidths) row.push_back(fmt(mean_at(r, ref.model, key, m)));
      const double first = mean_at(r, ref.model, key, lo), last = mean_at(r, ref.model, key, hi);
      row.push_back(trend_word(first, last) + " (m " + std::to_string(lo) + "→" +
                    std::to_string(hi) + ")");
      rows.push_back(row);
      ours.push_back({ref.model, arm, first, last});
    }
  }
  body += html_table({"source", "data", "arm", "m = 16", "m = 1024", "m = 4096", "trend"}, rows,
                     {.caption = "Absolute NTK-predictor distance ‖f_m(X_test) − f_NTK(X_test)‖ "
                                 "(ours: Frobenius norm over the test rows and outputs, means "
                                 "over seeds; '—' where the sweep has no such width)."});
  // Agreement statements, computed from the numbers.
  std::string agree, disagree;
  for (const Ours& o : ours) {
    if (!std::isfinite(o.first) || !std::isfinite(o.last) || o.first <= 0) continue;
    const double ratio = o.last / o.first;
    const bool relu = o.model == ModelKind::relu;
    const bool paper_shape = relu ? ratio < 0.9 : ratio > 1.1;
    const std::string what = std::string(ntk::model_label(o.model)) + " (arm " +
                             static_cast<char>(std::toupper(o.arm)) + "): distance " +
                             trend_word(o.first, o.last) + "; the paper's " +
                             (relu ? "2L-ReLU shrinks (0.87× MNIST, 0.23× CIFAR-10)"
                                   : "MLP-Attn grows (4.2× MNIST, 3.4× CIFAR-10)") +
                             ". ";
    (paper_shape ? agree : disagree) += what;
  }
  if (!agree.empty()) body += callout(CalloutKind::kAgrees, "Where we agree", agree);
  if (!disagree.empty()) body += callout(CalloutKind::kDisagrees, "Where we disagree", disagree);
  // Level comparison Attn/ReLU and the structural explanation.
  std::string level;
  for (const char arm : {'a', 'b'}) {
    if ((arm == 'a' && !r.options.arm_a) || (arm == 'b' && !r.options.arm_b)) continue;
    const std::string key = std::string(1, arm) + ".dist_abs";
    const double rl = mean_at(r, ModelKind::relu, key, lo),
                 at = mean_at(r, ModelKind::attn, key, lo);
    const double rh = mean_at(r, ModelKind::relu, key, hi),
                 ah = mean_at(r, ModelKind::attn, key, hi);
    if (std::isfinite(rl) && std::isfinite(at) && std::isfinite(rh) && std::isfinite(ah)) {
      level += "Arm " + std::string(1, static_cast<char>(std::toupper(arm))) +
               ": MLP-Attn/2L-ReLU distance ratio " + fmt(at / rl, 2) +
               " at m = " + std::to_string(lo) + " and " + fmt(ah / rh, 2) +
               " at m = " + std::to_string(hi) +
               " (paper: 0.23 → 1.11 on MNIST, 0.015 → 0.22 on CIFAR-10). ";
    }
  }
  const auto& o = r.options;
  body += paragraph(
      level +
      "Why absolute levels cannot match: the paper uses MNIST and CIFAR-10 (there is no CIFAR "
      "here, and MNIST is not packaged; we run Fashion-MNIST), an unstated number of test points "
      "(‖·‖ grows with √(n_test·C)), and 500 epochs; this run uses n_train = " +
      std::to_string(r.n_train) + ", n_test = " + std::to_string(r.n_test) + ", " +
      std::to_string(r.outputs) + " outputs, arm A for " + std::to_string(o.epochs_a) +
      " epochs and arm B for at most " + std::to_string(o.steps_b) +
      " GD steps. For cross-entropy the network's logits and f_NTK's ridge fit of one-hot targets "
      "live on different scales, so the relative distance and the trends are what compare. Arm A "
      "(Adam from N(0, 0.01²)) leaves the kernel regime at every width — its kernel drift and "
      "activation-pattern flips stay large as m grows — so a distance that does not shrink with "
      "width there is an optimizer/scale effect, not evidence that the NTK limit fails. Arm B "
      "(NTK parameterization, full-batch GD below the stability bound) is the control: there the "
      "distance to the time-matched kernel-GD predictor is the clean convergence measure.");
  return body;
}

// Data-driven reading of the sweep: rates, levels, required widths, laziness per arm.
std::string convergence_findings(const ntk::ConvergenceResult& r) {
  const Index lo = r.options.widths.front(), hi = r.options.widths.back();
  const ntk::ModelReference* relu = nullptr;
  const ntk::ModelReference* attn = nullptr;
  for (const auto& ref : r.references) {
    if (ref.model == ModelKind::relu)
      relu = &ref;
    else
      attn = &ref;
  }
  std::string text;
  for (const ntk::ModelReference* ref : {relu, attn}) {
    if (ref == nullptr) continue;
    text += std::string(ntk::model_label(ref->model)) + ": rel_frob falls as m^" +
            fmt(ref->rel_frob_fit.slope, 2) + " and spec_ratio as m^" +
            fmt(ref->spec_ratio_fit.slope, 2) + "; spec_ratio at m = " + std::to_string(hi) +
            " is " + fmt(mean_at(r, ref->model, "spec_ratio_init", hi)) +
            ", so the fitted line reaches 0.5 only at m ≈ " + fmt(ref->empirical_width_half) +
            " (Bernstein sufficient width " + fmt(ref->bernstein_width) + "). ";
  }
  if (relu != nullptr && attn != nullptr) {
    const double rf_r = mean_at(r, ModelKind::relu, "rel_frob_init", hi);
    const double rf_a = mean_at(r, ModelKind::attn, "rel_frob_init", hi);
    const double sr_r = mean_at(r, ModelKind::relu, "spec_ratio_init", hi);
    const double sr_a = mean_at(r, ModelKind::attn, "spec_ratio_init", hi);
    text +=
        "Both kernels concentrate at about the Monte-Carlo rate m^-1/2: attention does not "
        "change the rate, only the level. In Frobenius norm MLP-Attn is even closer to its "
        "limit (rel_frob " +
        fmt(rf_a) + " vs " + fmt(rf_r) + " at m = " + std::to_string(hi) +
        ": its features are nearly parallel, so its kernel is nearly constant), but measured "
        "against λ_min(Θ∞) it is " +
        fmt(sr_a / sr_r, 2) + "× further away, because κ(Θ∞) is " +
        fmt(attn->theta_inf.kappa / relu->theta_inf.kappa, 2) +
        "× larger. By the same spec_ratio < 0.5 criterion 2L-ReLU does not reach the kernel "
        "regime at practical widths on this data either; the difference is one of degree (" +
        fmt(attn->empirical_width_half / relu->empirical_width_half, 2) +
        "× more width by the fits), not of kind. ";
  }
  for (const ntk::ModelReference* ref : {relu, attn}) {
    if (ref == nullptr) continue;
    const std::string name(ntk::model_label(ref->model));
    if (r.options.arm_a) {
      text += name + " arm A: kernel drift " + fmt(mean_at(r, ref->model, "a.drift", lo)) +
              " at m = " + std::to_string(lo) + " and " +
              fmt(mean_at(r, ref->model, "a.drift", hi)) + " at m = " + std::to_string(hi) + ", " +
              format_percent(mean_at(r, ref->model, "a.pattern_flips", hi)) +
              " of activation patterns flipped. ";
    }
    if (r.options.arm_b) {
      text += name + " arm B: drift " + fmt(mean_at(r, ref->model, "b.drift", lo)) + " → " +
              fmt(mean_at(r, ref->model, "b.drift", hi)) +
              ", distance to the time-matched kernel-GD predictor " +
              fmt(mean_at(r, ref->model, "b.dist_gd_rel", lo)) + " → " +
              fmt(mean_at(r, ref->model, "b.dist_gd_rel", hi)) + " (relative). ";
    }
  }
  return callout(CalloutKind::kNote, "What the convergence numbers say", text);
}

std::string convergence_part(const ntk::ConvergenceResult& r) {
  std::string body = h3("NTK convergence with width (SCIENCE.md §2)");
  const auto& o = r.options;
  body += paragraph(
      "Both networks are f(x) = m^-1/2 aᵀ relu(W x) with fixed ±1 output weights and only W "
      "trained; MLP-Attn applies it to normalize(C x). Data: " +
      r.source + " — " + std::to_string(r.n_train) + " training and " + std::to_string(r.n_test) +
      " test rows, " + std::to_string(r.classes) + " classes, targets " +
      std::string(nn::to_string(*o.encoding)) + ". For every width and " + std::to_string(o.seeds) +
      " seeds: Θ_m at an i.i.d. N(0, I) init against the analytic arc-cosine Θ∞ (rel_frob, "
      "spec_ratio = ‖Θ_m − Θ∞‖₂/λ_min(Θ∞)); arm A, the paper's recipe (init N(0, " +
      fmt(o.init_std_a) + "²), Adam lr " + fmt(o.lr_a) + ", batch " + std::to_string(o.batch_a) +
      ", L2 " + fmt(o.weight_decay_a) + ", " + std::string(nn::to_string(*o.loss_a)) + ", " +
      std::to_string(o.epochs_a) +
      " epochs); arm B, the kernel-regime control (NTK parameterization with " +
      (o.antisymmetric_b ? "antisymmetric pairs so f_0 = 0" : "i.i.d. init") +
      ", full-batch GD on MSE with η = " + fmt(o.lr_fraction_b) + " · 2n/λ_max(Θ_0), at most " +
      std::to_string(o.steps_b) +
      " steps). f_NTK is kernel ridge "
      "regression on Θ∞ with ridge " +
      fmt(o.ridge) + (o.ridge_relative ? " (relative)" : "") +
      " on the same targets. Error bars: 95% intervals over seeds.");
  std::vector<std::string> svgs;
  const std::string s1 =
      width_plot(r, "rel_frob = ‖Θ − Θ∞‖_F / ‖Θ∞‖_F", "rel_frob",
                 three_curves("rel_frob_init", "a.rel_frob_t", "b.rel_frob_t", r), {}, true);
  const std::string s2 =
      width_plot(r, "spec_ratio = ‖Θ − Θ∞‖₂ / λ_min(Θ∞)", "spec_ratio",
                 three_curves("spec_ratio_init", "a.spec_ratio_t", "b.spec_ratio_t", r),
                 {ReferenceLine::at_y(0.5, "kernel regime below 0.5")}, false);
  for (const std::string& s : {s1, s2})
    if (!s.empty()) svgs.push_back(s);
  body += figure_grid(svgs,
                      "Kernel distance to Θ∞ against width, log-log. 'init': Θ_0 of an i.i.d. "
                      "N(0, I) init (the pure width effect; the dashed gray line is ∝ m^-1/2). "
                      "'arm A/B': the kernel after training. Below the line at 0.5 the finite-"
                      "width kernel keeps at least half of Θ∞'s smallest eigenvalue.",
                      360);
  svgs.clear();
  const std::string s3 = width_plot(r, "NTK-predictor distance (absolute)", "‖f_m − f_NTK‖",
                                    three_curves("", "a.dist_abs", "b.dist_abs", r), {}, false);
  std::vector<CurveSpec> rel = three_curves("", "a.dist_rel", "b.dist_rel", r);
  if (o.arm_b) {
    for (const auto& ref : r.references) {
      rel.push_back({ref.model, "b.dist_gd_rel",
                     std::string(ntk::model_label(ref.model)) + " arm B vs kernel GD", 5});
    }
  }
  const std::string s4 =
      width_plot(r, "NTK-predictor distance (relative)", "‖f_m − f‖ / ‖f‖", rel, {}, false);
  const std::string s5 = width_plot(r, "kernel drift ‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F", "drift",
                                    three_curves("", "a.drift", "b.drift", r), {}, false);
  for (const std::string& s : {s3, s4, s5})
    if (!s.empty()) svgs.push_back(s);
  if (!svgs.empty()) {
    body += figure_grid(svgs,
                        "After training: distance of the network's test outputs to the ridge NTK "
                        "predictor f_NTK (absolute, then relative to ‖f_NTK‖; arm B also against "
                        "the kernel-GD predictor with the same η and steps), and how far "
                        "training moved the kernel.",
                        360);
  }
  body += facts_table(r);
  body += convergence_findings(r);
  body += width_table(r);
  return body;
}

}  // namespace

nlohmann::json run_ntk_study(const ReportOptions& options) {
  const bool quick = options.quick;
  io::DataOptions base;
  base.seed = options.seed;
  const spectral::SpectrumResult spectrum =
      spectral::run_spectrum_study(base, analysis::spectrum_budget(quick));
  analysis::ConvergenceBudget cb = analysis::convergence_budget(quick);
  cb.options.seed = options.seed;
  const ntk::KernelData data = ntk::load_kernel_data(base, cb.n_train, cb.n_test);
  const ntk::ConvergenceResult conv = ntk::run_ntk_convergence(data, cb.options);
  return {{"budget", quick ? "quick" : "default"},
          {"spectrum", spectral::to_json(spectrum)},
          {"convergence", ntk::to_json(conv)}};
}

std::string render_ntk_section(const nlohmann::json& result) {
  if (!result.is_object() || !result.contains("spectrum") || !result.contains("convergence")) {
    throw FormatError("ntk section: result JSON needs 'spectrum' and 'convergence'");
  }
  const spectral::SpectrumResult spectrum = spectral::spectrum_from_json(result.at("spectrum"));
  const ntk::ConvergenceResult conv = ntk::convergence_from_json(result.at("convergence"));
  const std::string budget = result.value("budget", "default");
  std::string body = paragraph(
      "Does linearized attention enter the kernel (NTK) regime? The paper behind this study "
      "(arXiv 2603.13085) argues that attention cubes the Gram matrix's condition number and so "
      "needs a width m = Ω(κ⁶) to converge. Below: the spectra that argument rests on, then the "
      "finite-width kernels and trained networks themselves. This is the report's " +
      budget +
      " budget (a reduced sweep; `attnlab ntk --quick` and `attnlab spectrum --quick` rerun the "
      "quick one); `attnlab ntk` runs the full one (widths 16…16384, 5 seeds, 500/200 rows) and "
      "`attnlab spectrum` the full table (n up to 2000).");
  body += spectrum_part(spectrum);
  body += convergence_part(conv);
  body += anchor_part(conv);
  return body;
}

}  // namespace attnlab::report
