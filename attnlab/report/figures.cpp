#include "attnlab/report/figures.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "attnlab/report/html.hpp"

namespace attnlab::report {

namespace {

using std::string;

constexpr const char* kGridColor = "#e3e6ea";
constexpr const char* kBorderColor = "#555555";

// Okabe–Ito qualitative palette (colorblind-safe), yellow left out (unreadable on white).
constexpr const char* kCycle[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                  "#e69f00", "#56b4e9", "#000000", "#999999"};
// Filled point types of gnuplot's svg terminal: circle, square, triangle up, triangle down,
// diamond, pentagon.
constexpr int kPointTypes[] = {7, 5, 9, 11, 13, 15};

string figure_name(const char* builder, const FigureBase& f) {
  return str_cat(builder, " '", f.title, "'");
}

void check_color(const string& color, const string& where, const string& what) {
  bool ok = color.size() == 7 && color[0] == '#';
  for (std::size_t i = 1; ok && i < 7; ++i)
    ok = std::isxdigit(static_cast<unsigned char>(color[i]));
  if (!ok) {
    throw UsageError(str_cat(where, ": ", what, " color must be \"#rrggbb\", got \"", color, "\""));
  }
}

void check_base(const FigureBase& f, const string& where) {
  if (f.width < 16 || f.width > 8192 || f.height < 16 || f.height > 8192) {
    throw UsageError(
        str_cat(where, ": size must be within 16..8192 pixels, got ", f.width, "x", f.height));
  }
  if (f.font.empty()) throw UsageError(str_cat(where, ": font must not be empty"));
}

double font_size(const string& font) {
  const std::size_t comma = font.rfind(',');
  if (comma == string::npos) return 11.0;
  const double v = std::atof(font.c_str() + comma + 1);
  return v > 0 ? v : 11.0;
}

string rgb(const string& color) {
  return str_cat("rgb '", color, "'");
}

GnuplotJob start_job(const FigureBase& f) {
  GnuplotJob job;
  job.title = f.title;
  job.width = f.width;
  job.height = f.height;
  job.font = f.font;
  string& s = job.script;
  if (!f.title.empty()) s += str_cat("set title ", gnuplot_quote(f.title), "\n");
  if (!f.x_label.empty()) s += str_cat("set xlabel ", gnuplot_quote(f.x_label), "\n");
  if (!f.y_label.empty()) s += str_cat("set ylabel ", gnuplot_quote(f.y_label), "\n");
  s += str_cat("set border lc ", rgb(kBorderColor), "\n");
  s += "set tics nomirror\n";
  return job;
}

string legend_command(LegendPosition pos) {
  switch (pos) {
    case LegendPosition::kTopRight:
      return "set key inside top right opaque samplen 2.5\n";
    case LegendPosition::kTopLeft:
      return "set key inside top left Left reverse opaque samplen 2.5\n";
    case LegendPosition::kBottomRight:
      return "set key inside bottom right opaque samplen 2.5\n";
    case LegendPosition::kBottomLeft:
      return "set key inside bottom left Left reverse opaque samplen 2.5\n";
    case LegendPosition::kOutsideRight:
      return "set key outside right top samplen 2.5\n";
    case LegendPosition::kBelow:
      return "set key below center horizontal samplen 2.5\n";
    case LegendPosition::kHidden:
      return "unset key\n";
  }
  return "unset key\n";
}

// Axis range: fixed ends where given, otherwise autoscaled but extended to include every value
// of `include` (gnuplot's bounded autoscale "[*<a : b<*]").
string range_command(const char* axis, const std::optional<double>& lo,
                     const std::optional<double>& hi, const std::vector<double>& include) {
  string lo_s = "*", hi_s = "*";
  if (lo) {
    lo_s = gnuplot_number(*lo);
  } else if (!include.empty()) {
    lo_s = str_cat("*<", gnuplot_number(*std::min_element(include.begin(), include.end())));
  }
  if (hi) {
    hi_s = gnuplot_number(*hi);
  } else if (!include.empty()) {
    hi_s = str_cat(gnuplot_number(*std::max_element(include.begin(), include.end())), "<*");
  }
  return str_cat("set ", axis, "range [", lo_s, ":", hi_s, "]\n");
}

void check_range(const std::optional<double>& lo, const std::optional<double>& hi, bool log,
                 const string& where, const char* axis) {
  for (const auto* v : {&lo, &hi}) {
    if (!*v) continue;
    if (!std::isfinite(**v)) {
      throw UsageError(str_cat(where, ": ", axis, " range end must be finite, got ", **v));
    }
    if (log && **v <= 0) {
      throw UsageError(str_cat(where, ": ", axis,
                               " axis is logarithmic, so its range end must be > 0, got ", **v));
    }
  }
  if (lo && hi && !(*lo < *hi)) {
    throw UsageError(
        str_cat(where, ": ", axis, "_min (", *lo, ") must be < ", axis, "_max (", *hi, ")"));
  }
}

int dash_type(int dash, const string& where, const string& what) {
  if (dash < 0 || dash > 5) {
    throw UsageError(str_cat(where, ": ", what, " dash must be 0..5, got ", dash));
  }
  return dash == 0 ? 1 : dash;
}

bool outside(double v, const std::optional<double>& lo, const std::optional<double>& hi) {
  return (lo && v < *lo) || (hi && v > *hi);
}

// Reference lines: validated, drawn as arrows across the plot with a label next to them.
// `include_x/y` collect values that autoscaling must cover.
void add_reference_lines(const std::vector<ReferenceLine>& lines, bool allow_vertical, bool log_x,
                         bool log_y, const std::optional<double>& x_min,
                         const std::optional<double>& x_max, const std::optional<double>& y_min,
                         const std::optional<double>& y_max, const string& where, string& script,
                         std::vector<double>& include_x, std::vector<double>& include_y) {
  for (const auto& r : lines) {
    const string what = str_cat("reference line '", r.label, "'");
    const bool vertical = r.orientation == Orientation::kVertical;
    if (vertical && !allow_vertical) {
      throw UsageError(str_cat(where, ": ", what, " must be horizontal in this figure type"));
    }
    if (!std::isfinite(r.value)) {
      throw UsageError(str_cat(where, ": ", what, " value must be finite, got ", r.value));
    }
    if ((vertical ? log_x : log_y) && r.value <= 0) {
      throw UsageError(
          str_cat(where, ": ", what, " is on a log axis, so its value must be > 0, got ", r.value));
    }
    check_color(r.color, where, what);
    const int dt = dash_type(r.dash, where, what);
    // A line outside a fixed range is not drawn (gnuplot does not clip arrows).
    if (vertical ? outside(r.value, x_min, x_max) : outside(r.value, y_min, y_max)) continue;
    (vertical ? include_x : include_y).push_back(r.value);
    const string v = gnuplot_number(r.value);
    const string style = str_cat(" nohead lc ", rgb(r.color), " dt ", dt, " lw 1.2 front\n");
    if (vertical) {
      script += str_cat("set arrow from first ", v, ", graph 0 to first ", v, ", graph 1", style);
      if (!r.label.empty()) {
        script +=
            str_cat("set label ", gnuplot_quote(r.label), " at first ", v,
                    ", graph 0.97 right rotate by 90 offset -1,0 tc ", rgb(r.color), " front\n");
      }
    } else {
      script += str_cat("set arrow from graph 0, first ", v, " to graph 1, first ", v, style);
      if (!r.label.empty()) {
        script += str_cat("set label ", gnuplot_quote(r.label), " at graph 0.015, first ", v,
                          " left offset 0,0.6 tc ", rgb(r.color), " front\n");
      }
    }
  }
}

void check_values(const std::vector<double>& v, bool allow_nan, bool log, const string& where,
                  const string& what) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      if (allow_nan) continue;
      throw UsageError(str_cat(where, ": ", what, "[", i, "] is NaN"));
    }
    if (std::isinf(v[i])) {
      throw UsageError(str_cat(where, ": ", what, "[", i, "] is ", v[i],
                               (allow_nan ? " (use NaN for a missing value)" : "")));
    }
    if (log && v[i] <= 0) {
      throw UsageError(str_cat(where, ": ", what, "[", i, "] = ", v[i],
                               " is not positive, but the axis is logarithmic"));
    }
  }
}

// Tick labels for a category axis: ('a' 0, 'b' 1, ...).
string category_tics(const std::vector<string>& labels, std::size_t stride = 1) {
  string s = "(";
  bool first = true;
  for (std::size_t i = 0; i < labels.size(); i += stride) {
    if (!first) s += ", ";
    s += str_cat(gnuplot_quote(labels[i]), " ", i);
    first = false;
  }
  return s + ")";
}

// Smallest "nice" integer step (1, 2, 5, 10, 20, 50, ...) giving at most ~max_ticks ticks over n.
long long nice_step(long long n, long long max_ticks) {
  for (long long scale = 1;; scale *= 10) {
    for (long long m : {1, 2, 5}) {
      if (n <= max_ticks * m * scale) return m * scale;
    }
  }
}

// Approximate rendered width of a label in pixels (UTF-8 continuation bytes not counted).
double label_px(const string& s, double size) {
  std::size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  return static_cast<double>(chars) * size * 0.6;
}

// Vertical error bars with flat caps from columns 3 (low) and 4 (high) of `block`. Drawn as
// vectors: gnuplot 5.4's `with yerrorbars` paints a background-colored disc at every point,
// which would erase the line underneath.
string error_bars(const string& block, const string& color) {
  return str_cat(block, " using 1:3:(0):($4-$3) with vectors heads size screen 0.006,90 lc ",
                 rgb(color), " lw 1 notitle");
}

// ---- heatmap internals ----

struct ColorRange {
  double lo, hi;
};

string palette_command(Palette p) {
  switch (p) {
    case Palette::kSequential:
      // Ten samples of the viridis colormap, evenly spaced.
      return "set palette defined (0 '#440154', 1 '#482878', 2 '#3e4989', 3 '#31688e', "
             "4 '#26828e', 5 '#1f9e89', 6 '#35b779', 7 '#6ece58', 8 '#b5de2b', 9 '#fde725')\n";
    case Palette::kDiverging:
      return "set palette defined (0 '#2166ac', 1 '#4393c3', 2 '#92c5de', 3 '#d1e5f0', "
             "4 '#f7f7f7', 5 '#fddbc7', 6 '#f4a582', 7 '#d6604d', 8 '#b2182b')\n";
    case Palette::kGrays:
      return "set palette defined (0 '#f7f7f7', 1 '#252525')\n";
  }
  return "";
}

// Range from the finite cells of `m` (positive cells only for a log scale); nullopt-like flag
// when there are none.
bool data_range(const MatrixD& m, bool log, double& lo, double& hi) {
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  for (Index r = 0; r < m.rows(); ++r) {
    for (Index c = 0; c < m.cols(); ++c) {
      const double v = m(r, c);
      if (!std::isfinite(v) || (log && v <= 0)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  return lo <= hi;
}

ColorRange resolve_color_range(const HeatmapOptions& o, bool have_data, double data_lo,
                               double data_hi, const string& where) {
  for (const auto* v : {&o.color_min, &o.color_max}) {
    if (*v && !std::isfinite(**v)) {
      throw UsageError(str_cat(where, ": color range end must be finite, got ", **v));
    }
  }
  if (!std::isfinite(o.diverging_center)) {
    throw UsageError(str_cat(where, ": diverging_center must be finite, got ", o.diverging_center));
  }
  if (o.log_color && ((o.color_min && *o.color_min <= 0) || (o.color_max && *o.color_max <= 0))) {
    throw UsageError(str_cat(where, ": log color scale needs a positive range, got [",
                             o.color_min.value_or(NAN), ", ", o.color_max.value_or(NAN), "]"));
  }
  double lo = have_data ? data_lo : (o.log_color ? 0.1 : 0.0);
  double hi = have_data ? data_hi : 1.0;
  if (o.palette == Palette::kDiverging && !o.log_color && have_data) {
    const double a =
        std::max(std::fabs(data_lo - o.diverging_center), std::fabs(data_hi - o.diverging_center));
    const double half = a > 0 ? a : 1.0;
    lo = o.diverging_center - half;
    hi = o.diverging_center + half;
  }
  if (o.color_min) lo = *o.color_min;
  if (o.color_max) hi = *o.color_max;
  if (lo == hi && !(o.color_min && o.color_max)) {
    // Constant data: widen around the value so the colorbox has a range.
    if (o.log_color) {
      lo /= 2;
      hi *= 2;
    } else {
      const double pad = lo != 0 ? std::fabs(lo) * 0.5 : 0.5;
      if (!o.color_min) lo -= pad;
      if (!o.color_max) hi += pad;
    }
  }
  if (!(lo < hi)) {
    throw UsageError(str_cat(where, ": color range is empty or inverted: [", lo, ", ", hi, "]"));
  }
  return {lo, hi};
}

// Tick commands for one heatmap axis of n cells with optional labels.
string heatmap_tics(const char* axis, Index n, const std::vector<string>& labels, double avail_px,
                    double size, int max_labels, bool rotate) {
  string s;
  if (labels.empty()) {
    const long long step = nice_step(static_cast<long long>(n), 8);
    s += str_cat("set ", axis, "tics 0, ", step, ", ", n - 1, " out scale 0.6\n");
    return s;
  }
  int fit = static_cast<int>(avail_px / (size * 1.35));
  if (max_labels > 0) fit = std::min(fit, max_labels);
  fit = std::max(fit, 1);
  const std::size_t stride = static_cast<std::size_t>((static_cast<long long>(n) + fit - 1) / fit);
  s += str_cat("set ", axis, "tics ", category_tics(labels, std::max<std::size_t>(stride, 1)),
               " out scale 0.6", rotate ? " rotate by 90 right" : "", "\n");
  return s;
}

string render_heatmap(const MatrixD& values, const HeatmapOptions& o, const ColorRange& range) {
  const Index rows = values.rows(), cols = values.cols();
  GnuplotJob job = start_job(o);
  string& s = job.script;
  s += palette_command(o.palette);
  s += str_cat("set cbrange [", gnuplot_number(range.lo), ":", gnuplot_number(range.hi), "]\n");
  if (o.log_color) s += "set logscale cb\n";
  s += "set format cb '%g'\n";
  if (!o.color_label.empty()) s += str_cat("set cblabel ", gnuplot_quote(o.color_label), "\n");
  if (!o.show_colorbox) s += "unset colorbox\n";
  s += str_cat("set xrange [-0.5:", gnuplot_number(static_cast<double>(cols) - 0.5), "]\n");
  // Reversed y range: row 0 at the top.
  s += str_cat("set yrange [", gnuplot_number(static_cast<double>(rows) - 0.5), ":-0.5]\n");
  // Square cells only for moderate aspect ratios: a 1×64 strip would squeeze the colorbox.
  const double aspect = static_cast<double>(rows) / static_cast<double>(cols);
  if (o.square_cells && aspect >= 0.25 && aspect <= 4.0) s += "set size ratio -1\n";
  s += "set border front\n";
  const double size = font_size(o.font);
  s += heatmap_tics("x", cols, o.col_labels, o.width * 0.62, size, o.max_tick_labels, true);
  s += heatmap_tics("y", rows, o.row_labels, o.height * 0.62, size, o.max_tick_labels, false);
  s += str_cat("set object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor ",
               rgb(o.masked_color), " fillstyle solid 1.0 noborder\n");

  GnuplotData& d = job.add_data("cells");
  const bool as_image = rows >= 2 && cols >= 2;
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) {
      double v = values(r, c);
      if (!std::isfinite(v)) {
        if (!as_image) continue;  // boxes: a missing box shows the mask color
        v = NAN;
      } else if (o.log_color && v < range.lo) {
        v = range.lo;  // zeros and negatives take the lowest color
      }
      d.add_row({static_cast<double>(c), static_cast<double>(r), v});
    }
    if (as_image) d.add_blank_line();
  }
  if (as_image) {
    s += "plot $cells using 1:2:3 with image notitle\n";
  } else if (d.text.empty()) {
    // Everything masked: plot nothing but the frame (an off-range point keeps gnuplot happy).
    s += "plot NaN notitle\n";
  } else {
    s += "plot $cells using 1:2:(0.5):(0.5):3 with boxxyerror fillstyle solid 1.0 noborder "
         "lc palette notitle\n";
  }
  return render_gnuplot_svg(job);
}

void check_heatmap(const MatrixD& values, const HeatmapOptions& o,
                   const std::vector<string>& row_labels, const std::vector<string>& col_labels,
                   const string& where) {
  check_base(o, where);
  if (values.rows() < 1 || values.cols() < 1) {
    throw UsageError(str_cat(where, ": matrix must have at least one cell, got ", values.rows(),
                             "x", values.cols()));
  }
  if (!row_labels.empty() && static_cast<Index>(row_labels.size()) != values.rows()) {
    throw UsageError(
        str_cat(where, ": ", row_labels.size(), " row labels for ", values.rows(), " rows"));
  }
  if (!col_labels.empty() && static_cast<Index>(col_labels.size()) != values.cols()) {
    throw UsageError(
        str_cat(where, ": ", col_labels.size(), " column labels for ", values.cols(), " columns"));
  }
  if (o.max_tick_labels < 0) {
    throw UsageError(str_cat(where, ": max_tick_labels must be >= 0, got ", o.max_tick_labels));
  }
  check_color(o.masked_color, where, "masked");
}

// ---- line plot internals ----

string series_where(const string& where, const Series& s, std::size_t i) {
  return str_cat(where, ": series ", i, " '", s.name, "'");
}

void check_series(const Series& s, std::size_t i, bool log_x, bool log_y, const string& where) {
  const string w = series_where(where, s, i);
  if (s.x.empty()) throw UsageError(str_cat(w, " is empty"));
  if (s.x.size() != s.y.size()) {
    throw UsageError(str_cat(w, " has ", s.x.size(), " x values but ", s.y.size(), " y values"));
  }
  if (s.y_low.size() != s.y_high.size()) {
    throw UsageError(str_cat(w, " has ", s.y_low.size(), " y_low but ", s.y_high.size(),
                             " y_high values (give both or neither)"));
  }
  if (!s.y_low.empty() && s.y_low.size() != s.x.size()) {
    throw UsageError(
        str_cat(w, " has ", s.y_low.size(), " error bounds for ", s.x.size(), " points"));
  }
  check_values(s.x, false, log_x, w, "x");
  check_values(s.y, true, log_y, w, "y");
  check_values(s.y_low, true, log_y, w, "y_low");
  check_values(s.y_high, true, log_y, w, "y_high");
  if (!s.color.empty()) check_color(s.color, w, "series");
  dash_type(s.dash, w, "series");
  if (!(s.line_width > 0) || s.line_width > 20) {
    throw UsageError(str_cat(w, " line_width must be in (0, 20], got ", s.line_width));
  }
}

}  // namespace

std::string series_color(std::size_t i) {
  return kCycle[i % std::size(kCycle)];
}

// ---- heatmaps
// ------------------------------------------------------------------------------------

std::string heatmap(const MatrixD& values, const HeatmapOptions& options) {
  const string where = figure_name("heatmap", options);
  check_heatmap(values, options, options.row_labels, options.col_labels, where);
  double lo = 0, hi = 0;
  const bool have = data_range(values, options.log_color, lo, hi);
  const ColorRange range = resolve_color_range(options, have, lo, hi, where);
  return render_heatmap(values, options, range);
}

std::vector<std::string> heatmap_panels(const std::vector<HeatmapPanel>& panels,
                                        const HeatmapOptions& common) {
  const string where = figure_name("heatmap_panels", common);
  if (panels.empty()) throw UsageError(str_cat(where, ": no panels"));
  // Union of the panels' data ranges → one color scale for all.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  bool have = false;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const auto& p = panels[i];
    HeatmapOptions o = common;
    const string pw = str_cat(where, ": panel ", i, " '", p.title, "'");
    check_heatmap(p.values, o, p.row_labels.empty() ? common.row_labels : p.row_labels,
                  p.col_labels.empty() ? common.col_labels : p.col_labels, pw);
    double plo = 0, phi = 0;
    if (data_range(p.values, common.log_color, plo, phi)) {
      have = true;
      lo = std::min(lo, plo);
      hi = std::max(hi, phi);
    }
  }
  const ColorRange range = resolve_color_range(common, have, lo, hi, where);
  std::vector<std::string> out;
  out.reserve(panels.size());
  for (const auto& p : panels) {
    HeatmapOptions o = common;
    o.title = p.title;
    if (!p.row_labels.empty()) o.row_labels = p.row_labels;
    if (!p.col_labels.empty()) o.col_labels = p.col_labels;
    out.push_back(render_heatmap(p.values, o, range));
  }
  return out;
}

std::string heatmap_grid(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& common,
                         std::string_view caption, int min_panel_px) {
  const int min_px =
      min_panel_px > 0 ? min_panel_px : std::clamp(static_cast<int>(common.width * 0.8), 50, 4000);
  return figure_grid(heatmap_panels(panels, common), caption, min_px);
}

// ---- line plots
// ------------------------------------------------------------------------------------

std::string line_plot(const LinePlot& p) {
  const string where = figure_name("line_plot", p);
  check_base(p, where);
  if (p.series.empty()) throw UsageError(str_cat(where, ": no series"));
  for (std::size_t i = 0; i < p.series.size(); ++i) {
    check_series(p.series[i], i, p.log_x, p.log_y, where);
  }
  check_range(p.x_min, p.x_max, p.log_x, where, "x");
  check_range(p.y_min, p.y_max, p.log_y, where, "y");

  GnuplotJob job = start_job(p);
  string& s = job.script;
  s += legend_command(p.legend);
  if (p.grid) s += str_cat("set grid back lc ", rgb(kGridColor), " lw 1 dt 1\n");
  if (p.log_x) s += "set logscale x\nset format x '%g'\n";
  if (p.log_y) s += "set logscale y\nset format y '%g'\n";

  std::vector<double> include_x, include_y;
  add_reference_lines(p.reference_lines, true, p.log_x, p.log_y, p.x_min, p.x_max, p.y_min, p.y_max,
                      where, s, include_x, include_y);

  string plots;  // plot elements, in drawing order
  auto add_plot = [&](const string& e) {
    if (!plots.empty()) plots += ", \\\n  ";
    plots += e;
  };

  int object = 10;
  for (std::size_t i = 0; i < p.bands.size(); ++i) {
    const auto& b = p.bands[i];
    const string what = str_cat("band ", i, " '", b.label, "'");
    const bool vertical = b.orientation == Orientation::kVertical;
    const bool log = vertical ? p.log_x : p.log_y;
    if (!std::isfinite(b.low) || !std::isfinite(b.high) || !(b.low < b.high)) {
      throw UsageError(
          str_cat(where, ": ", what, " needs finite low < high, got [", b.low, ", ", b.high, "]"));
    }
    if (log && b.low <= 0) {
      throw UsageError(
          str_cat(where, ": ", what, " is on a log axis, so low must be > 0, got ", b.low));
    }
    if (!(b.opacity > 0 && b.opacity <= 1)) {
      throw UsageError(str_cat(where, ": ", what, " opacity must be in (0, 1], got ", b.opacity));
    }
    check_color(b.color, where, what);
    // Clamp to fixed range ends (objects are not clipped); skip when entirely outside.
    const auto& lo_fix = vertical ? p.x_min : p.y_min;
    const auto& hi_fix = vertical ? p.x_max : p.y_max;
    const double lo = lo_fix ? std::max(b.low, *lo_fix) : b.low;
    const double hi = hi_fix ? std::min(b.high, *hi_fix) : b.high;
    if (!(lo < hi)) continue;
    auto& inc = vertical ? include_x : include_y;
    inc.push_back(lo);
    inc.push_back(hi);
    const string fill = str_cat(" fillcolor ", rgb(b.color), " fillstyle transparent solid ",
                                gnuplot_number(b.opacity), " noborder");
    if (vertical) {
      s += str_cat("set object ", object++, " rectangle from first ", gnuplot_number(lo),
                   ", graph 0 to first ", gnuplot_number(hi), ", graph 1 behind", fill, "\n");
    } else {
      s += str_cat("set object ", object++, " rectangle from graph 0, first ", gnuplot_number(lo),
                   " to graph 1, first ", gnuplot_number(hi), " behind", fill, "\n");
    }
    if (!b.label.empty()) {
      add_plot(str_cat("keyentry with boxes fillcolor ", rgb(b.color),
                       " fillstyle transparent solid ", gnuplot_number(b.opacity),
                       " noborder title ", gnuplot_quote(b.label)));
    }
  }

  // Error bands first (behind every line), then lines/points, then error bars.
  std::vector<string> colors;
  for (std::size_t i = 0; i < p.series.size(); ++i) {
    const Series& se = p.series[i];
    colors.push_back(se.color.empty() ? series_color(i) : se.color);
    GnuplotData& d = job.add_data(str_cat("s", i));
    const bool err = !se.y_low.empty();
    for (std::size_t k = 0; k < se.x.size(); ++k) {
      if (err) {
        d.add_row({se.x[k], se.y[k], se.y_low[k], se.y_high[k]});
      } else {
        d.add_row({se.x[k], se.y[k]});
      }
    }
    if (err && se.errors == ErrorStyle::kBand) {
      add_plot(str_cat("$s", i, " using 1:3:4 with filledcurves fillcolor ", rgb(colors[i]),
                       " fillstyle transparent solid 0.2 noborder notitle"));
    }
    if (err && se.errors == ErrorStyle::kBars) add_plot(error_bars(str_cat("$s", i), colors[i]));
  }
  for (std::size_t i = 0; i < p.series.size(); ++i) {
    const Series& se = p.series[i];
    const char* with = se.style == SeriesStyle::kLines    ? "lines"
                       : se.style == SeriesStyle::kPoints ? "points"
                                                          : "linespoints";
    const string title =
        se.name.empty() ? string("notitle") : str_cat("title ", gnuplot_quote(se.name));
    add_plot(str_cat("$s", i, " using 1:2 with ", with, " lc ", rgb(colors[i]), " lw ",
                     gnuplot_number(se.line_width), " dt ", dash_type(se.dash, where, "series"),
                     " pt ", kPointTypes[i % std::size(kPointTypes)], " ps 0.7 ", title));
  }
  s += range_command("x", p.x_min, p.x_max, include_x);
  s += range_command("y", p.y_min, p.y_max, include_y);
  s += "plot " + plots + "\n";
  return render_gnuplot_svg(job);
}

// ---- bar charts
// ------------------------------------------------------------------------------------

std::string bar_chart(const BarChart& c) {
  const string where = figure_name("bar_chart", c);
  check_base(c, where);
  const std::size_t k = c.categories.size();
  if (k == 0) throw UsageError(str_cat(where, ": no categories"));
  if (c.series.empty()) throw UsageError(str_cat(where, ": no series"));
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    const auto& se = c.series[i];
    const string w = str_cat(where, ": series ", i, " '", se.name, "'");
    if (se.values.size() != k) {
      throw UsageError(str_cat(w, " has ", se.values.size(), " values for ", k, " categories"));
    }
    if (se.low.size() != se.high.size() || (!se.low.empty() && se.low.size() != k)) {
      throw UsageError(str_cat(w, " error bars need low and high with one value per category, got ",
                               se.low.size(), " low and ", se.high.size(), " high"));
    }
    check_values(se.values, true, false, w, "values");
    check_values(se.low, true, false, w, "low");
    check_values(se.high, true, false, w, "high");
    if (!se.color.empty()) check_color(se.color, w, "series");
  }
  check_range(c.y_min, c.y_max, false, where, "y");

  GnuplotJob job = start_job(c);
  string& s = job.script;
  s += legend_command(c.legend);
  s += str_cat("set grid ytics back lc ", rgb(kGridColor), " lw 1 dt 1\n");
  s += str_cat("set xrange [-0.5:", gnuplot_number(static_cast<double>(k) - 0.5), "]\n");
  // Rotate category labels when they would not fit under their group.
  double longest = 0;
  for (const auto& cat : c.categories)
    longest = std::max(longest, label_px(cat, font_size(c.font)));
  const bool rotate = longest > 0.8 * (c.width * 0.8 / static_cast<double>(k));
  s += str_cat("set xtics ", category_tics(c.categories), " scale 0",
               rotate ? " rotate by -35 left" : "", "\n");

  std::vector<double> include_x, include_y{0.0};
  add_reference_lines(c.reference_lines, false, false, false, {}, {}, c.y_min, c.y_max, where, s,
                      include_x, include_y);

  const double group = 0.8, w = group / static_cast<double>(c.series.size());
  s += str_cat("set boxwidth ", gnuplot_number(w * 0.92), " absolute\n");
  string plots;
  auto add_plot = [&](const string& e) {
    if (!plots.empty()) plots += ", \\\n  ";
    plots += e;
  };
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    const auto& se = c.series[i];
    const string color = se.color.empty() ? series_color(i) : se.color;
    GnuplotData& d = job.add_data(str_cat("b", i));
    const bool err = !se.low.empty();
    for (std::size_t j = 0; j < k; ++j) {
      const double x = static_cast<double>(j) - group / 2 + (static_cast<double>(i) + 0.5) * w;
      if (err) {
        d.add_row({x, se.values[j], se.low[j], se.high[j]});
      } else {
        d.add_row({x, se.values[j]});
      }
    }
    const string title =
        se.name.empty() ? string("notitle") : str_cat("title ", gnuplot_quote(se.name));
    add_plot(str_cat("$b", i, " using 1:2 with boxes fillcolor ", rgb(color),
                     " fillstyle solid 0.85 noborder ", title));
    if (err) add_plot(error_bars(str_cat("$b", i), "#333333"));
  }
  // Headroom above the tallest bar (and below the lowest negative one) when autoscaled.
  bool any_negative = false;
  for (const auto& se : c.series) {
    for (double v : se.values) any_negative = any_negative || v < 0;
    for (double v : se.low) any_negative = any_negative || v < 0;
  }
  s += str_cat("set offsets 0, 0, graph 0.05, graph ", any_negative ? "0.05" : "0", "\n");
  s += range_command("y", c.y_min, c.y_max, include_y);
  s += "plot " + plots + "\n";
  return render_gnuplot_svg(job);
}

// ---- box plots
// -------------------------------------------------------------------------------------

BoxStats compute_box_stats(std::span<const double> samples, Whiskers rule) {
  if (samples.empty()) throw UsageError("compute_box_stats: no samples");
  std::vector<double> x(samples.begin(), samples.end());
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      throw UsageError(str_cat("compute_box_stats: sample ", i, " is ", x[i]));
    }
    sum += x[i];
  }
  std::sort(x.begin(), x.end());
  const std::size_t n = x.size();
  auto quantile = [&](double p) {
    const double h = p * static_cast<double>(n - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, n - 1);
    return x[lo] + (h - static_cast<double>(lo)) * (x[hi] - x[lo]);
  };
  BoxStats b;
  b.n = n;
  b.min = x.front();
  b.max = x.back();
  b.mean = sum / static_cast<double>(n);
  b.q1 = quantile(0.25);
  b.median = quantile(0.5);
  b.q3 = quantile(0.75);
  if (rule == Whiskers::kMinMax) {
    b.whisker_low = b.min;
    b.whisker_high = b.max;
    return b;
  }
  const double iqr = b.q3 - b.q1;
  const double fence_lo = b.q1 - 1.5 * iqr, fence_hi = b.q3 + 1.5 * iqr;
  b.whisker_low = b.q1;
  b.whisker_high = b.q3;
  for (double v : x) {
    if (v < fence_lo || v > fence_hi) {
      b.outliers.push_back(v);
    } else {
      b.whisker_low = std::min(b.whisker_low, v);
      b.whisker_high = std::max(b.whisker_high, v);
    }
  }
  return b;
}

std::string box_plot(const BoxPlot& p) {
  const string where = figure_name("box_plot", p);
  check_base(p, where);
  const std::size_t k = p.categories.size();
  if (k == 0) throw UsageError(str_cat(where, ": no categories"));
  if (p.samples.size() != k) {
    throw UsageError(str_cat(where, ": ", p.samples.size(), " sample sets for ", k, " categories"));
  }
  if (!p.color.empty()) check_color(p.color, where, "box");
  check_range(p.y_min, p.y_max, p.log_y, where, "y");
  std::vector<BoxStats> stats;
  for (std::size_t i = 0; i < k; ++i) {
    const string w = str_cat(where, ": category ", i, " '", p.categories[i], "'");
    if (p.samples[i].empty()) throw UsageError(str_cat(w, " has no samples"));
    check_values(p.samples[i], false, p.log_y, w, "samples");
    stats.push_back(compute_box_stats(p.samples[i], p.whiskers));
  }

  GnuplotJob job = start_job(p);
  string& s = job.script;
  s += "unset key\n";
  s += str_cat("set grid ytics back lc ", rgb(kGridColor), " lw 1 dt 1\n");
  if (p.log_y) s += "set logscale y\nset format y '%g'\n";
  s += str_cat("set xrange [-0.6:", gnuplot_number(static_cast<double>(k) - 0.4), "]\n");
  double longest = 0;
  for (const auto& cat : p.categories)
    longest = std::max(longest, label_px(cat, font_size(p.font)));
  const bool rotate = longest > 0.8 * (p.width * 0.8 / static_cast<double>(k));
  s += str_cat("set xtics ", category_tics(p.categories), " scale 0",
               rotate ? " rotate by -35 left" : "", "\n");
  s += "set boxwidth 0.5 absolute\n";
  std::vector<double> include_x, include_y;
  add_reference_lines(p.reference_lines, false, false, p.log_y, {}, {}, p.y_min, p.y_max, where, s,
                      include_x, include_y);

  const string color = p.color.empty() ? series_color(0) : p.color;
  GnuplotData& box = job.add_data("box");
  GnuplotData& out = job.add_data("outliers");
  for (std::size_t i = 0; i < k; ++i) {
    const auto& b = stats[i];
    const double x = static_cast<double>(i);
    box.add_row({x, b.q1, b.whisker_low, b.whisker_high, b.q3, b.median});
    if (p.show_outliers) {
      for (double v : b.outliers) out.add_row({x, v});
    }
  }
  string plot = str_cat("plot $box using 1:2:3:4:5 with candlesticks whiskerbars 0.5 lc ",
                        rgb(color), " lw 1.2 fillstyle solid 0.25 border lc ", rgb(color),
                        " notitle, \\\n  $box using 1:6:6:6:6 with candlesticks lc ", rgb(color),
                        " lw 2.5 notitle");
  if (!out.text.empty()) {
    plot +=
        str_cat(", \\\n  $outliers using 1:2 with points pt 6 ps 0.6 lc ", rgb(color), " notitle");
  }
  s += "set offsets 0, 0, graph 0.05, graph 0.05\n";
  s += range_command("y", p.y_min, p.y_max, include_y);
  s += plot + "\n";
  return render_gnuplot_svg(job);
}

}  // namespace attnlab::report
