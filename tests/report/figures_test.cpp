// Tests for attnlab/report/figures.hpp: every figure type renders, validates its input, and its
// SVG can share a page with the others.
#include "attnlab/report/figures.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>
#include <string>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "attnlab/report/html.hpp"

namespace attnlab::report {
namespace {

#define REQUIRE_GNUPLOT() \
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed (Debian package gnuplot-nox)"

std::vector<std::string> ids_in(const std::string& svg) {
  static const std::regex re(R"re(\sid\s*=\s*["']([^"']*)["'])re");
  std::vector<std::string> ids;
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) {
    ids.push_back((*it)[1].str());
  }
  return ids;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

void expect_inlinable(const std::string& svg, const std::string& title) {
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.find("<?xml"), std::string::npos);
  EXPECT_EQ(svg.find("<!DOCTYPE"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find(title), std::string::npos) << "title '" << title << "' missing";
}

// The y coordinate of the translate() of the <g> holding the first <text> equal to `label`.
double text_y(const std::string& svg, const std::string& label) {
  const std::size_t t = svg.find(">" + label + "<");
  if (t == std::string::npos) return NAN;
  const std::size_t tr = svg.rfind("translate(", t);
  if (tr == std::string::npos) return NAN;
  const std::size_t comma = svg.find(',', tr);
  return std::atof(svg.c_str() + comma + 1);
}

LinePlot sample_line_plot() {
  LinePlot p;
  p.title = "max attention vs L";
  p.x_label = "sequence length L";
  p.y_label = "max weight";
  p.log_x = true;
  Series a{.name = "softmax"}, b{.name = "ssmax", .style = SeriesStyle::kLines, .dash = 2};
  for (int i = 0; i < 8; ++i) {
    const double L = std::pow(2.0, 4 + i);
    a.x.push_back(L);
    a.y.push_back(1.0 / std::sqrt(L));
    a.y_low.push_back(0.8 / std::sqrt(L));
    a.y_high.push_back(1.2 / std::sqrt(L));
    b.x.push_back(L);
    b.y.push_back(0.5 + 0.01 * i);
  }
  p.series = {a, b};
  p.reference_lines.push_back(ReferenceLine::at_y(0.06, "paper anchor 6%·L"));
  p.reference_lines.push_back(ReferenceLine::at_x(1000, "L = 1000"));
  p.bands.push_back(ShadedBand::y_between(0.70, 0.85, "paper band 70–85%"));
  return p;
}

MatrixD causal_attention(Index n) {
  MatrixD a(n, n);
  for (Index i = 0; i < n; ++i) {
    double sum = 0;
    for (Index j = 0; j < n; ++j) {
      a(i, j) = j <= i ? std::exp(-0.1 * double(i - j)) + 0.3 * double(j == 0) : NAN;
      if (j <= i) sum += a(i, j);
    }
    for (Index j = 0; j <= i; ++j) a(i, j) /= sum;
  }
  return a;
}

TEST(LinePlot, RendersTitleSeriesReferencesAndBand) {
  REQUIRE_GNUPLOT();
  const std::string svg = line_plot(sample_line_plot());
  expect_inlinable(svg, "max attention vs L");
  EXPECT_NE(svg.find("softmax"), std::string::npos);
  EXPECT_NE(svg.find("paper anchor 6%·L"), std::string::npos);
  EXPECT_NE(svg.find("paper band 70–85%"), std::string::npos);
  EXPECT_NE(svg.find("L = 1000"), std::string::npos);
  EXPECT_NE(svg.find("sequence length L"), std::string::npos);
}

TEST(Figures, TwoFiguresOnOnePageShareNoId) {
  REQUIRE_GNUPLOT();
  HeatmapOptions h;
  h.title = "causal map";
  const std::string a = line_plot(sample_line_plot());
  const std::string b = heatmap(causal_attention(8), h);
  const auto ids_a = ids_in(a), ids_b = ids_in(b);
  ASSERT_FALSE(ids_a.empty());
  ASSERT_FALSE(ids_b.empty());
  std::set<std::string> all;
  for (const auto* ids : {&ids_a, &ids_b}) {
    for (const auto& id : *ids) EXPECT_TRUE(all.insert(id).second) << "duplicate id " << id;
  }
  // The same figure rendered twice gets fresh ids too.
  for (const auto& id : ids_in(heatmap(causal_attention(8), h))) {
    EXPECT_TRUE(all.insert(id).second) << "duplicate id " << id;
  }
}

TEST(Heatmap, Full64x64StaysSmallAndUsesOneBitmap) {
  REQUIRE_GNUPLOT();
  MatrixD m(64, 64);
  for (Index i = 0; i < 64; ++i)
    for (Index j = 0; j < 64; ++j) m(i, j) = std::sin(0.37 * i * j) + 0.01 * i;  // noisy, no runs
  std::vector<std::string> tokens;
  for (int i = 0; i < 64; ++i) tokens.push_back("tok" + std::to_string(i));
  HeatmapOptions h;
  h.title = "64x64";
  h.col_labels = tokens;
  h.row_labels = tokens;
  const std::string svg = heatmap(m, h);
  expect_inlinable(svg, "64x64");
  EXPECT_LT(svg.size(), 300u * 1024u) << "heatmap SVG too large: " << svg.size() << " bytes";
  EXPECT_EQ(count(svg, "<image"), 1u);  // one embedded PNG, not 4096 cell rectangles
  EXPECT_NE(svg.find("image-rendering:pixelated"), std::string::npos);
  EXPECT_LT(count(svg, "<path") + count(svg, "<polygon"), 1000u);
}

TEST(Heatmap, RowZeroIsAtTheTopAndMaskedCellsUseMaskColor) {
  REQUIRE_GNUPLOT();
  MatrixD m = causal_attention(6);
  HeatmapOptions h;
  h.title = "orientation";
  h.row_labels = {"first", "r1", "r2", "r3", "r4", "last"};
  const std::string svg = heatmap(m, h);
  const double y_first = text_y(svg, "first"), y_last = text_y(svg, "last");
  ASSERT_TRUE(std::isfinite(y_first) && std::isfinite(y_last));
  EXPECT_LT(y_first, y_last);  // SVG y grows downwards: row 0 is drawn above the last row
  EXPECT_NE(svg.find("rgb(200, 200, 200)"), std::string::npos);  // default masked_color #c8c8c8
}

TEST(Heatmap, SingleRowFallsBackToBoxes) {
  REQUIRE_GNUPLOT();
  MatrixD m(1, 5);
  m << 0.1, 0.2, NAN, 0.4, 0.3;
  HeatmapOptions h;
  h.title = "one row";
  h.col_labels = {"a", "b_c", "<d>", "e's", "f"};
  const std::string svg = heatmap(m, h);
  expect_inlinable(svg, "one row");
  EXPECT_EQ(count(svg, "<image"), 0u);
  EXPECT_NE(svg.find("b_c"), std::string::npos);  // literal, not a subscript
  EXPECT_NE(svg.find("&lt;d"), std::string::npos);
}

TEST(Heatmap, DivergingRangeIsSymmetricAndLogColorAcceptsZeros) {
  REQUIRE_GNUPLOT();
  MatrixD m(3, 3);
  m << -1, 0, 1, 2, 3, 0.5, 0, 0, 1;
  HeatmapOptions h;
  h.title = "diverging";
  h.palette = Palette::kDiverging;
  const std::string svg = heatmap(m, h);
  EXPECT_NE(svg.find(">-3<"), std::string::npos);  // colorbox runs from -3 (= -max|v|) to 3
  HeatmapOptions lg;
  lg.title = "log";
  lg.log_color = true;
  EXPECT_NO_THROW(heatmap(m, lg));  // zeros/negatives clamp to the lowest color
  lg.color_min = 0.0;
  EXPECT_THROW(heatmap(m, lg), UsageError);
  MatrixD constant = MatrixD::Constant(4, 4, 0.25);
  HeatmapOptions c;
  c.title = "constant";
  EXPECT_NO_THROW(heatmap(constant, c));
  MatrixD all_masked = MatrixD::Constant(3, 3, NAN);
  EXPECT_NO_THROW(heatmap(all_masked, c));
}

TEST(Heatmap, ValidatesInput) {
  HeatmapOptions h;
  h.title = "bad";
  EXPECT_THROW(heatmap(MatrixD(0, 3), h), UsageError);
  h.row_labels = {"a", "b"};
  EXPECT_THROW(heatmap(MatrixD::Zero(3, 3), h), UsageError);
  h.row_labels.clear();
  h.color_min = 2.0;
  h.color_max = 1.0;
  EXPECT_THROW(heatmap(MatrixD::Zero(3, 3), h), UsageError);
  h.color_min.reset();
  h.color_max.reset();
  h.masked_color = "grey";
  try {
    heatmap(MatrixD::Zero(3, 3), h);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("heatmap 'bad'"), std::string::npos) << e.what();
  }
}

TEST(HeatmapGrid, PanelsShareOneColorRange) {
  REQUIRE_GNUPLOT();
  HeatmapOptions h;
  h.title = "variants";
  h.width = 300;
  h.height = 280;
  MatrixD small = MatrixD::Constant(4, 4, 0.1), large = MatrixD::Constant(4, 4, 0.1);
  large(0, 0) = 5.0;
  const auto svgs = heatmap_panels({{"softmax", small}, {"sparsemax", large}}, h);
  ASSERT_EQ(svgs.size(), 2u);
  // Both colorboxes end at 5 although the first panel's data stops at 0.1.
  EXPECT_NE(svgs[0].find(">5<"), std::string::npos);
  EXPECT_NE(svgs[1].find(">5<"), std::string::npos);
  EXPECT_NE(svgs[0].find("softmax"), std::string::npos);
  const std::string html = heatmap_grid({{"softmax", small}, {"sparsemax", large}}, h, "caption!");
  EXPECT_NE(html.find("fig-grid"), std::string::npos);
  EXPECT_EQ(count(html, "<svg"), 2u);
  EXPECT_NE(html.find("caption!"), std::string::npos);
  EXPECT_THROW(heatmap_panels({}, h), UsageError);
}

TEST(LinePlot, LogAxisWithNonPositiveValueIsUsageError) {
  LinePlot p = sample_line_plot();
  p.series[0].x[3] = 0.0;
  try {
    line_plot(p);
    FAIL();
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("max attention vs L"), std::string::npos) << msg;
    EXPECT_NE(msg.find("softmax"), std::string::npos) << msg;
    EXPECT_NE(msg.find("x[3]"), std::string::npos) << msg;
  }
  LinePlot q = sample_line_plot();
  q.log_y = true;
  q.series[1].y[0] = -1.0;
  EXPECT_THROW(line_plot(q), UsageError);
  LinePlot r = sample_line_plot();
  r.log_y = true;
  r.reference_lines.push_back(ReferenceLine::at_y(0.0, "zero"));
  EXPECT_THROW(line_plot(r), UsageError);
}

TEST(LinePlot, MismatchedOrEmptyOrNonFiniteSeriesIsUsageError) {
  LinePlot p = sample_line_plot();
  p.series[1].y.pop_back();
  try {
    line_plot(p);
    FAIL();
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("ssmax"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8 x values but 7 y values"), std::string::npos) << msg;
  }
  LinePlot e = sample_line_plot();
  e.series[1].x.clear();
  e.series[1].y.clear();
  EXPECT_THROW(line_plot(e), UsageError);
  LinePlot none = sample_line_plot();
  none.series.clear();
  EXPECT_THROW(line_plot(none), UsageError);
  LinePlot inf = sample_line_plot();
  inf.series[1].y[2] = INFINITY;
  EXPECT_THROW(line_plot(inf), UsageError);
  LinePlot nanx = sample_line_plot();
  nanx.series[1].x[2] = NAN;
  EXPECT_THROW(line_plot(nanx), UsageError);
  LinePlot half = sample_line_plot();
  half.series[0].y_high.pop_back();
  EXPECT_THROW(line_plot(half), UsageError);
  LinePlot range = sample_line_plot();
  range.y_min = 1.0;
  range.y_max = 0.5;
  EXPECT_THROW(line_plot(range), UsageError);
}

TEST(LinePlot, NanPointsAndErrorBarsAndFixedRangesRender) {
  REQUIRE_GNUPLOT();
  LinePlot p = sample_line_plot();
  p.log_x = false;
  p.series[0].errors = ErrorStyle::kBars;
  p.series[1].y[3] = NAN;  // a gap
  p.x_min = 0;
  p.x_max = 5000;
  p.y_min = 0;
  p.y_max = 1;
  p.legend = LegendPosition::kBelow;
  p.reference_lines.push_back(ReferenceLine::at_y(7.0, "off the chart"));  // skipped
  const std::string svg = line_plot(p);
  expect_inlinable(svg, "max attention vs L");
  EXPECT_EQ(svg.find("off the chart"), std::string::npos);
}

TEST(BarChart, GroupedBarsWithErrorBars) {
  REQUIRE_GNUPLOT();
  BarChart c;
  c.title = "cost per variant";
  c.y_label = "ms";
  c.categories = {"softmax", "window", "top-k"};
  c.series = {
      {.name = "N=512", .values = {1, 2, 3}, .low = {0.9, 1.8, 2.7}, .high = {1.1, 2.2, 3.3}},
      {.name = "N=1024", .values = {2, 4, NAN}}};
  c.reference_lines.push_back(ReferenceLine::at_y(2.5, "budget"));
  const std::string svg = bar_chart(c);
  expect_inlinable(svg, "cost per variant");
  EXPECT_NE(svg.find("N=1024"), std::string::npos);
  EXPECT_NE(svg.find("top-k"), std::string::npos);
  EXPECT_NE(svg.find("budget"), std::string::npos);

  BarChart bad = c;
  bad.series[1].values.pop_back();
  EXPECT_THROW(bar_chart(bad), UsageError);
  BarChart vertical = c;
  vertical.reference_lines.push_back(ReferenceLine::at_x(1, "nope"));
  EXPECT_THROW(bar_chart(vertical), UsageError);
}

TEST(BoxStats, QuartilesWhiskersAndOutliers) {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 100};
  const BoxStats t = compute_box_stats(x, Whiskers::kTukey);
  EXPECT_EQ(t.n, 10u);
  EXPECT_DOUBLE_EQ(t.q1, 3.25);  // type 7: position 0.25 * 9 = 2.25
  EXPECT_DOUBLE_EQ(t.median, 5.5);
  EXPECT_DOUBLE_EQ(t.q3, 7.75);
  EXPECT_DOUBLE_EQ(t.min, 1);
  EXPECT_DOUBLE_EQ(t.max, 100);
  EXPECT_DOUBLE_EQ(t.mean, 14.5);
  EXPECT_DOUBLE_EQ(t.whisker_low, 1);   // fence 3.25 - 6.75 = -3.5
  EXPECT_DOUBLE_EQ(t.whisker_high, 9);  // fence 7.75 + 6.75 = 14.5
  ASSERT_EQ(t.outliers.size(), 1u);
  EXPECT_DOUBLE_EQ(t.outliers[0], 100);
  const BoxStats m = compute_box_stats(x, Whiskers::kMinMax);
  EXPECT_DOUBLE_EQ(m.whisker_high, 100);
  EXPECT_TRUE(m.outliers.empty());
  const std::vector<double> one = {4.0};
  const BoxStats s = compute_box_stats(one);
  EXPECT_DOUBLE_EQ(s.q1, 4.0);
  EXPECT_DOUBLE_EQ(s.q3, 4.0);
  EXPECT_THROW(compute_box_stats(std::vector<double>{}), UsageError);
  EXPECT_THROW(compute_box_stats(std::vector<double>{1.0, NAN}), UsageError);
}

TEST(BoxPlot, RendersAndValidates) {
  REQUIRE_GNUPLOT();
  BoxPlot p;
  p.title = "entropy per head";
  p.categories = {"layer 0", "layer 1"};
  p.samples = {{0.1, 0.2, 0.3, 0.25, 0.22, 3.0}, {1.0, 1.1, 1.2}};
  p.log_y = true;
  const std::string svg = box_plot(p);
  expect_inlinable(svg, "entropy per head");
  EXPECT_NE(svg.find("layer 1"), std::string::npos);
  BoxPlot empty = p;
  empty.samples[1].clear();
  EXPECT_THROW(box_plot(empty), UsageError);
  BoxPlot neg = p;
  neg.samples[0][0] = -1.0;
  EXPECT_THROW(box_plot(neg), UsageError);  // log axis
  BoxPlot ragged = p;
  ragged.samples.pop_back();
  EXPECT_THROW(box_plot(ragged), UsageError);
}

// Writes a page with every figure type for eyeballing. Not run by default:
//   ATTNLAB_DEMO_PAGE=/tmp/demo.html test_report --gtest_also_run_disabled_tests
//     --gtest_filter='*DemoPage*'
TEST(Figures, DISABLED_WriteDemoPage) {
  REQUIRE_GNUPLOT();
  const char* out = std::getenv("ATTNLAB_DEMO_PAGE");
  const std::string path = out ? out : "/tmp/attnlab-report-demo.html";
  HtmlPage page("attnlab report — figure demo");
  page.set_intro_html(paragraph("Every figure type of attnlab/report/figures.hpp."));
  std::string lines = figure(line_plot(sample_line_plot()),
                             "Line plot: log x, error band, "
                             "reference lines, shaded band.");
  LinePlot bars = sample_line_plot();
  bars.log_x = false;
  bars.series[0].errors = ErrorStyle::kBars;
  bars.series[1].y[3] = NAN;
  bars.legend = LegendPosition::kOutsideRight;
  lines += figure(line_plot(bars), "Error bars, a NaN gap, legend outside.");
  page.add_section("lines", "Line plots", lines);

  std::vector<std::string> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back(i % 3 ? "Ġtok" + std::to_string(i) : "<|x|>_^");
  HeatmapOptions h;
  h.title = "causal attention, 24 tokens";
  h.x_label = "key";
  h.y_label = "query";
  h.row_labels = tokens;
  h.col_labels = tokens;
  h.color_label = "weight";
  std::string maps = figure(heatmap(causal_attention(24), h), "Single heatmap with token labels.");
  HeatmapOptions g;
  g.title = "variants";
  g.width = 360;
  g.height = 320;
  MatrixD diff = causal_attention(64);
  for (Index i = 0; i < 64; ++i)
    for (Index j = 0; j <= i; ++j) diff(i, j) = std::sin(0.2 * i) * std::cos(0.3 * j);
  maps += heatmap_grid({{"softmax", causal_attention(64)},
                        {"window 16", causal_attention(64).array().sqrt().matrix()},
                        {"sinks", causal_attention(16)},
                        {"row", MatrixD::Random(1, 12).cwiseAbs()}},
                       g, "Small multiples with a shared color range.");
  HeatmapOptions d;
  d.title = "diverging, 64x64";
  d.palette = Palette::kDiverging;
  maps += figure(heatmap(diff, d), "Diverging palette; masked cells grey.");
  page.add_section("maps", "Heatmaps", maps);

  BarChart c;
  c.title = "cost per variant";
  c.y_label = "ms";
  c.categories = {"softmax", "sliding window", "top-k", "linear attention"};
  c.series = {{.name = "N=512",
               .values = {1, 2, 3, 1.5},
               .low = {0.9, 1.8, 2.7, 1.4},
               .high = {1.1, 2.2, 3.3, 1.6}},
              {.name = "N=1024", .values = {2, 4, NAN, 2.5}}};
  c.reference_lines.push_back(ReferenceLine::at_y(2.5, "budget"));
  BoxPlot b;
  b.title = "entropy per layer";
  b.categories = {"layer 0", "layer 1", "layer 2"};
  b.samples = {{0.1, 0.2, 0.3, 0.25, 0.22, 0.9}, {1.0, 1.1, 1.2, 0.95}, {0.5, 0.7, 0.6, 0.65}};
  page.add_section("bars", "Bars and boxes",
                   figure_grid({bar_chart(c), box_plot(b)}, "Bar chart and box plot.", 420) +
                       html_table({"variant", "max weight", "share"},
                                  {{"softmax", format_number(0.0613), format_percent(0.7321)},
                                   {"sparsemax", format_number(NAN), format_percent(0.05)}},
                                  {.caption = "A table"}) +
                       callout(CalloutKind::kDisagrees, "", "We measure 9%·L, the paper 6%·L."));
  write_file_atomic(path, page.render());
  std::printf("wrote %s\n", path.c_str());
}

}  // namespace
}  // namespace attnlab::report
