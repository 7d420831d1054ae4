// attnlab/report/figures.hpp — the report's figure types, each rendered by gnuplot to inline SVG.
//
// Every builder takes a plain options struct (derived from FigureBase: title, axis labels, size,
// font), validates it, writes a gnuplot script (gnuplot.hpp) and returns one SVG string that can
// be dropped into an HtmlPage (html.hpp: figure(svg, caption)). The only exception is
// heatmap_grid(), which returns an HTML <figure> laying several heatmap SVGs out on a CSS grid.
//
//   heatmap(values, HeatmapOptions)  matrix as colored cells, row 0 at the TOP (like a matrix)
//   heatmap_panels / heatmap_grid    small multiples of heatmaps sharing one color range
//   line_plot(LinePlot)              series with optional error bands/bars, log axes,
//                                    labelled reference lines, shaded bands
//   bar_chart(BarChart)              grouped bars with optional error bars
//   box_plot(BoxPlot)                box-and-whisker per category from raw samples
//
// Invariants and conventions:
//   - All text (titles, labels, token strings) is literal: no gnuplot "enhanced text" markup, so
//     "attn_sink" keeps its underscore. UTF-8 is fine ("6%·L", "²"); control characters and
//     invalid UTF-8 bytes (partial tokens of a byte-level BPE) are shown as "\n", "\xNN".
//   - Colors are "#rrggbb" strings. Series without a color take the next color of a fixed
//     colorblind-safe cycle (Okabe–Ito): the same series order gives the same colors everywhere.
//   - Invalid input throws attnlab::UsageError naming the builder, the figure title and the
//     series or cell: empty or mismatched series, non-finite values where none are allowed,
//     non-positive values on a log axis, min >= max ranges, malformed colors.
//   - Non-finite values that ARE allowed: NaN in a line/bar series (the point or bar is skipped;
//     a line breaks there) and NaN/±inf cells of a heatmap (drawn in masked_color).
//
// How heatmaps are drawn (measured on gnuplot 5.4's svg terminal): `with image` embeds ONE PNG
// bitmap with one pixel per cell (data:image/png;base64 inside <image>), so a 64×64 map costs
// ~6 KB of PNG and the whole SVG stays ~40 KB; `with image pixels` instead emits one <path> per
// cell (~120 bytes each: ~480 KB for 64×64), so it is not used. The <image> gets
// image-rendering:pixelated so cells stay crisp when the browser scales the bitmap. NaN cells are
// transparent in the PNG and a rectangle in masked_color behind the plot shows through.
// Matrices with a single row or column (gnuplot's image needs 2×2) are drawn as vector boxes.
//
// Usage:
//   LinePlot p;
//   p.title = "selectivity vs L";  p.x_label = "L";  p.y_label = "max attention";  p.log_x = true;
//   p.series.push_back({.name = "softmax", .x = ls, .y = mean, .y_low = lo, .y_high = hi});
//   p.reference_lines.push_back(ReferenceLine::at_y(0.06, "paper anchor 6%·L"));
//   p.bands.push_back(ShadedBand::y_between(0.70, 0.85, "paper band 70–85%"));
//   std::string svg = line_plot(p);
//
//   HeatmapOptions h;
//   h.title = "head 3.1";  h.x_label = "key";  h.y_label = "query";  h.color_min = 0;
//   h.col_labels = tokens;  h.row_labels = tokens;
//   std::string svg2 = heatmap(attn /*[N, M]*/, h);
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::report {

// What every figure has. Sizes are the SVG's natural size in CSS pixels (it shrinks to fit).
struct FigureBase {
  std::string title{};    // shown above the plot and used in error messages
  std::string x_label{};  // empty = no axis label
  std::string y_label{};
  int width = 640;
  int height = 420;
  std::string font = "sans-serif,11";  // gnuplot "family,size"; a CSS generic family is safest
};

// ---- heatmaps -----------------------------------------------------------------------------------

enum class Palette {
  kSequential,  // viridis-like dark purple → blue → green → yellow (perceptually ordered)
  kDiverging,   // blue → white → red, white at `diverging_center`
  kGrays,       // near-white → near-black
};

struct HeatmapOptions : FigureBase {
  Palette palette = Palette::kSequential;
  // Color range. Unset ends come from the finite cells (kDiverging: symmetric around
  // diverging_center, so the center is always white). With log_color the lower end defaults to
  // the smallest positive cell.
  std::optional<double> color_min{}, color_max{};
  double diverging_center = 0.0;
  // Log color scale. Cells <= 0 are drawn in the lowest color (clamped to the range's lower end,
  // which must be > 0), so exact zeros of sparsemax-like maps stay visible.
  bool log_color = false;
  std::string color_label{};              // colorbox label
  std::vector<std::string> row_labels{};  // empty, or one per row (e.g. query tokens)
  std::vector<std::string> col_labels{};  // empty, or one per column (e.g. key tokens)
  int max_tick_labels = 0;  // per axis; 0 = as many as fit. Labels are thinned to every k-th.
  std::string masked_color = "#c8c8c8";  // NaN / ±inf cells
  bool square_cells = true;  // equal units on both axes (only when rows/cols is in [1/4, 4])
  bool show_colorbox = true;
};

// Renders values [rows, cols] as a heatmap, row 0 at the top, column 0 at the left.
// A float map or a Tensor3 slice: heatmap(a.cast<double>(), o) / heatmap(MatrixD(t.slice(h)), o).
std::string heatmap(const MatrixD& values, const HeatmapOptions& options);

struct HeatmapPanel {
  std::string title{};                    // panel title (e.g. the attention variant)
  MatrixD values{};                       // [rows, cols]; panels may differ in shape
  std::vector<std::string> row_labels{};  // overrides the common options when non-empty
  std::vector<std::string> col_labels{};
};

// One heatmap SVG per panel, all with the SAME color range (the union of the panels' ranges,
// unless `common` fixes it) so colors compare across panels. common.title only names the group in
// error messages; each SVG is titled with its panel's title.
std::vector<std::string> heatmap_panels(const std::vector<HeatmapPanel>& panels,
                                        const HeatmapOptions& common);

// Small multiples: heatmap_panels() laid out by html.hpp's figure_grid() as one HTML <figure>
// (a CSS grid, columns as many as fit at min_panel_px each, shrinking on narrow screens) with
// `caption` below. Panel SVGs keep their own colorboxes (same range everywhere). Chosen over one
// gnuplot multiplot so the layout reflows with the window and each panel stays a plain SVG.
// min_panel_px <= 0 means 80% of common.width, so text never shrinks much below its design
// size; pick common.width/height around 300-400 px for grids.
std::string heatmap_grid(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& common,
                         std::string_view caption, int min_panel_px = 0);

// ---- line plots ---------------------------------------------------------------------------------

enum class SeriesStyle { kLines, kPoints, kLinesPoints };
enum class ErrorStyle { kBand, kBars };  // how y_low/y_high are drawn
enum class Orientation { kHorizontal, kVertical };
enum class LegendPosition {
  kTopRight,
  kTopLeft,
  kBottomRight,
  kBottomLeft,
  kOutsideRight,
  kBelow,
  kHidden
};

struct Series {
  std::string name{};                     // legend entry; empty = not in the legend
  std::vector<double> x{};                // [n], finite
  std::vector<double> y{};                // [n], NaN = missing point
  std::vector<double> y_low{}, y_high{};  // both empty, or both [n]: absolute lower/upper bounds
  SeriesStyle style = SeriesStyle::kLinesPoints;
  ErrorStyle errors = ErrorStyle::kBand;
  int dash = 0;         // 0 or 1 solid; 2 dashed, 3 dotted, 4 dash-dot, 5 dash-dot-dot
  std::string color{};  // "#rrggbb"; empty = next color of the cycle
  double line_width = 1.5;
};

// A straight line across the plot at a data value, labelled next to the line.
struct ReferenceLine {
  Orientation orientation = Orientation::kHorizontal;  // kHorizontal: y = value
  double value = 0.0;
  std::string label{};
  std::string color = "#555555";
  int dash = 2;

  static ReferenceLine at_y(double y, std::string label) {
    return {Orientation::kHorizontal, y, std::move(label)};
  }
  static ReferenceLine at_x(double x, std::string label) {
    return {Orientation::kVertical, x, std::move(label)};
  }
};

// A translucent band between two data values, behind the data, with a legend entry.
struct ShadedBand {
  Orientation orientation = Orientation::kHorizontal;  // kHorizontal: low <= y <= high
  double low = 0.0, high = 0.0;
  std::string label{};  // legend entry; empty = none
  std::string color = "#e69f00";
  double opacity = 0.18;

  static ShadedBand y_between(double low, double high, std::string label) {
    return {Orientation::kHorizontal, low, high, std::move(label)};
  }
  static ShadedBand x_between(double low, double high, std::string label) {
    return {Orientation::kVertical, low, high, std::move(label)};
  }
};

struct LinePlot : FigureBase {
  std::vector<Series> series{};  // at least one
  bool log_x = false, log_y = false;
  // Fixed axis ends; unset ends autoscale to the data, the reference lines and the bands.
  std::optional<double> x_min{}, x_max{}, y_min{}, y_max{};
  std::vector<ReferenceLine> reference_lines{};
  std::vector<ShadedBand> bands{};
  LegendPosition legend = LegendPosition::kTopRight;
  bool grid = true;
};

std::string line_plot(const LinePlot& plot);

// ---- bar charts ---------------------------------------------------------------------------------

struct BarSeries {
  std::string name{};                 // legend entry
  std::vector<double> values{};       // [categories]; NaN = no bar
  std::vector<double> low{}, high{};  // both empty, or both [categories]: error bar ends (absolute)
  std::string color{};                // "#rrggbb"; empty = next color of the cycle
};

// Grouped bars: one group per category, one bar per series inside each group. The y axis always
// includes 0 (bars start there).
struct BarChart : FigureBase {
  std::vector<std::string> categories{};  // x-axis groups; long labels are rotated automatically
  std::vector<BarSeries> series{};        // at least one
  std::optional<double> y_min{}, y_max{};
  std::vector<ReferenceLine> reference_lines{};  // horizontal ones only
  LegendPosition legend = LegendPosition::kTopRight;
};

std::string bar_chart(const BarChart& chart);

// ---- box plots ----------------------------------------------------------------------------------

enum class Whiskers {
  kTukey,   // whiskers reach the furthest sample within 1.5·IQR of the box; others are outliers
  kMinMax,  // whiskers reach the minimum and maximum; no outliers
};

// Five-number summary of one sample. Quartiles use linear interpolation between order statistics
// (Hyndman–Fan type 7, the default of R and NumPy): q(p) at position p·(n−1) of the sorted sample.
struct BoxStats {
  std::size_t n = 0;
  double min = 0, q1 = 0, median = 0, q3 = 0, max = 0, mean = 0;
  double whisker_low = 0, whisker_high = 0;  // per the Whiskers rule
  std::vector<double> outliers{};            // ascending; empty for kMinMax
};

// UsageError when `samples` is empty or holds a non-finite value.
BoxStats compute_box_stats(std::span<const double> samples, Whiskers rule = Whiskers::kTukey);

struct BoxPlot : FigureBase {
  std::vector<std::string> categories{};       // [k]
  std::vector<std::vector<double>> samples{};  // [k][n_k], each non-empty and finite
  Whiskers whiskers = Whiskers::kTukey;
  bool show_outliers = true;
  bool log_y = false;
  std::optional<double> y_min{}, y_max{};
  std::vector<ReferenceLine> reference_lines{};  // horizontal ones only
  std::string color{};                           // box color; empty = first color of the cycle
};

// Boxes from q1 to q3 with a median bar, whiskers per `whiskers`, outliers as open circles.
std::string box_plot(const BoxPlot& plot);

// The i-th color of the qualitative cycle used for series without an explicit color.
std::string series_color(std::size_t i);

}  // namespace attnlab::report
