// Tests for attnlab/report/html.hpp: escaping, number formatting, tables, callouts and the page.
#include "attnlab/report/html.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <set>
#include <string>

#include "attnlab/core/error.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/gnuplot.hpp"

namespace attnlab::report {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(HtmlEscape, EscapesAllFiveSpecialCharacters) {
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain · UTF-8 ²"), "plain · UTF-8 ²");
  EXPECT_EQ(html_escape(""), "");
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");  // not idempotent: escape exactly once
}

TEST(FormatNumber, FixedScientificAndNonFinite) {
  EXPECT_EQ(format_number(0.0), "0");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(1.0), "1");
  EXPECT_EQ(format_number(0.5), "0.5");
  EXPECT_EQ(format_number(3.14159265), "3.142");
  EXPECT_EQ(format_number(-2.71828, 3), "-2.72");
  EXPECT_EQ(format_number(1234.5678), "1235");
  EXPECT_EQ(format_number(123456.0), "123456");  // integer digits never dropped
  EXPECT_EQ(format_number(0.0123456), "0.01235");
  EXPECT_EQ(format_number(0.001), "0.001");
  EXPECT_EQ(format_number(9.99996), "10");  // rounding carries, trailing zeros trimmed
  EXPECT_EQ(format_number(1.0e6), "1e6");
  EXPECT_EQ(format_number(1234567.0), "1.235e6");
  EXPECT_EQ(format_number(999999.7), "1e6");  // would print as "1000000" in fixed notation
  EXPECT_EQ(format_number(4.2e-5), "4.2e-5");
  EXPECT_EQ(format_number(-6.02e23, 3), "-6.02e23");
  EXPECT_EQ(format_number(1.5e-300), "1.5e-300");
  EXPECT_EQ(format_number(std::nan("")), "—");
  EXPECT_EQ(format_number(kInf), "∞");
  EXPECT_EQ(format_number(-kInf), "-∞");
  EXPECT_EQ(format_number(1.0 / 3.0, 1), "0.3");
  EXPECT_EQ(format_number(2.0 / 3.0, 17).substr(0, 10), "0.66666666");
  EXPECT_THROW(format_number(1.0, 0), UsageError);
  EXPECT_THROW(format_number(1.0, 18), UsageError);
}

TEST(FormatNumber, Percent) {
  EXPECT_EQ(format_percent(0.7321), "73.2%");
  EXPECT_EQ(format_percent(0.06), "6%");
  EXPECT_EQ(format_percent(1.0), "100%");
  EXPECT_EQ(format_percent(std::nan("")), "—");
}

TEST(HtmlTable, EscapesCellsAndRightAlignsNumericColumns) {
  const std::string t = html_table(
      {"variant", "max weight", "note"},
      {{"soft<max>", "0.0613", "a & b"}, {"sparsemax", "—", ""}, {"ssmax", "1.2e-5", "ok"}},
      {.caption = "Selectivity at L = 1024"});
  EXPECT_NE(t.find("<caption>Selectivity at L = 1024</caption>"), std::string::npos);
  EXPECT_NE(t.find("soft&lt;max&gt;"), std::string::npos);
  EXPECT_NE(t.find("a &amp; b"), std::string::npos);
  EXPECT_NE(t.find("<th class=\"num\">max weight</th>"), std::string::npos);
  EXPECT_NE(t.find("<td class=\"num\">0.0613</td>"), std::string::npos);
  EXPECT_NE(t.find("<td class=\"num\">—</td>"), std::string::npos);
  EXPECT_NE(t.find("<td>ok</td>"), std::string::npos);  // "note" column is text
  EXPECT_EQ(count(t, "<tr>"), 4u);
}

TEST(HtmlTable, ExplicitNumericColumnsAndHtmlCells) {
  const std::string t =
      html_table({"a", "b"}, {{"<b>x</b>", "y"}}, {.numeric_columns = {1}, .cells_are_html = true});
  EXPECT_NE(t.find("<td><b>x</b></td>"), std::string::npos);
  EXPECT_NE(t.find("<td class=\"num\">y</td>"), std::string::npos);
}

TEST(HtmlTable, RaggedRowsAndBadColumnsAreUsageErrors) {
  EXPECT_THROW(html_table({"a", "b"}, {{"1", "2"}, {"3"}}), UsageError);
  EXPECT_THROW(html_table({}, {}), UsageError);
  EXPECT_THROW(html_table({"a"}, {{"1"}}, {.numeric_columns = {1}}), UsageError);
}

TEST(HtmlFragments, FigureCalloutsParagraphs) {
  const std::string f = figure("<svg></svg>", "Fig. 1 <caption>");
  EXPECT_NE(f.find("<figure class=\"fig\">"), std::string::npos);
  EXPECT_NE(f.find("<svg></svg>"), std::string::npos);
  EXPECT_NE(f.find("<figcaption>Fig. 1 &lt;caption&gt;</figcaption>"), std::string::npos);
  EXPECT_EQ(figure("<svg></svg>", "").find("figcaption"), std::string::npos);

  const std::string g = figure_grid({"<svg>1</svg>", "<svg>2</svg>"}, "two", 300);
  EXPECT_EQ(count(g, "class=\"panel\""), 2u);
  EXPECT_NE(g.find("--panel-min:300px"), std::string::npos);
  EXPECT_THROW(figure_grid({}, "", 10), UsageError);

  const std::string d = callout(CalloutKind::kDisagrees, "", "we measure 9%·L <not 6%>");
  EXPECT_NE(d.find("callout disagrees"), std::string::npos);
  EXPECT_NE(d.find("Disagrees with the paper"), std::string::npos);
  EXPECT_NE(d.find("&lt;not 6%&gt;"), std::string::npos);
  EXPECT_NE(warning("careful").find("callout warning"), std::string::npos);
  EXPECT_NE(note("aside").find("callout note"), std::string::npos);
  EXPECT_NE(callout(CalloutKind::kAgrees, "Reproduced", "x").find(">Reproduced<"),
            std::string::npos);
  EXPECT_EQ(paragraph("a<b"), "<p>a&lt;b</p>\n");
  EXPECT_EQ(preformatted("x  y\n"), "<pre>x  y\n</pre>\n");
  EXPECT_EQ(count(bullet_list({"a", "b&c"}), "<li>"), 2u);
}

TEST(HtmlPage, RendersTocWithAnchorsForEverySection) {
  HtmlPage page("attnlab <report>");
  page.add_section("selectivity", "Selectivity & L", paragraph("body one"));
  page.add_subsection("selectivity-anchor", "Paper anchor", paragraph("sub"));
  page.add_section("ntk", "Kernel regime", paragraph("body two"));
  page.set_generated_at("2026-01-02T03:04:05Z");
  page.set_footer_note("attnlab report --out report/");
  const std::string html = page.render();

  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<html"), 1u);
  EXPECT_EQ(count(html, "</html>"), 1u);
  EXPECT_EQ(count(html, "<body>"), 1u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<title>attnlab &lt;report&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  for (const std::string id : {"selectivity", "selectivity-anchor", "ntk"}) {
    EXPECT_NE(html.find("<a href=\"#" + id + "\">"), std::string::npos) << id;  // TOC entry
    EXPECT_NE(html.find("<section id=\"" + id + "\">"), std::string::npos) << id;
  }
  EXPECT_NE(html.find("Selectivity &amp; L"), std::string::npos);
  // TOC lists sections in order, before the sections themselves.
  const std::size_t toc = html.find("<nav class=\"toc\"");
  ASSERT_NE(toc, std::string::npos);
  EXPECT_LT(toc, html.find("<section id=\"selectivity\">"));
  EXPECT_LT(html.find("href=\"#selectivity\""), html.find("href=\"#ntk\""));
  // Footer: version, revision, timestamp, note.
  EXPECT_NE(html.find(attnlab_version()), std::string::npos);
  EXPECT_NE(html.find(html_escape(git_revision())), std::string::npos);
  EXPECT_NE(html.find("2026-01-02T03:04:05Z"), std::string::npos);
  EXPECT_NE(html.find("attnlab report --out report/"), std::string::npos);
  // All ids unique.
  static const std::regex id_re(R"re(\sid\s*=\s*["']([^"']*)["'])re");
  std::set<std::string> ids;
  for (std::sregex_iterator it(html.begin(), html.end(), id_re), end; it != end; ++it) {
    EXPECT_TRUE(ids.insert((*it)[1].str()).second) << (*it)[1].str();
  }
}

TEST(HtmlPage, RejectsBadAndDuplicateIds) {
  HtmlPage page;
  EXPECT_THROW(page.add_subsection("orphan", "x", ""), UsageError);
  EXPECT_THROW(page.add_section("", "x", ""), UsageError);
  EXPECT_THROW(page.add_section("1abc", "x", ""), UsageError);
  EXPECT_THROW(page.add_section("has space", "x", ""), UsageError);
  EXPECT_THROW(page.add_section("top", "x", ""), UsageError);  // reserved by the page
  page.add_section("a", "A", "");
  EXPECT_THROW(page.add_section("a", "again", ""), UsageError);
  page.add_subsection("b", "B", "");
  EXPECT_THROW(page.add_section("b", "B again", ""), UsageError);
  EXPECT_EQ(page.section_count(), 1u);
}

// The page must be self-contained: no src=/href= pointing anywhere but inside the page (or a
// data: URI), no @import / url(http...) in CSS. The xmlns attributes of inline SVG are fine.
void expect_self_contained(const std::string& html) {
  static const std::regex ref_re(
      R"re(\b(src|href|xlink:href|action|srcset)\s*=\s*["']([^"']*)["'])re", std::regex::icase);
  std::size_t refs = 0;
  for (std::sregex_iterator it(html.begin(), html.end(), ref_re), end; it != end; ++it) {
    const std::string target = (*it)[2].str();
    ++refs;
    EXPECT_TRUE(target.rfind("#", 0) == 0 || target.rfind("data:", 0) == 0)
        << (*it)[1].str() << "=\"" << target << "\" points outside the page";
  }
  EXPECT_GT(refs, 0u);
  static const std::regex css_re(R"re((@import|url\(\s*['"]?(https?:|//)))re", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, css_re));
  // Any other "http" must be an XML namespace declaration.
  std::string stripped = std::regex_replace(
      html, std::regex(R"re(xmlns(:\w+)?\s*=\s*["']http://www\.w3\.org/[^"']*["'])re"), "");
  EXPECT_EQ(stripped.find("http://"), std::string::npos);
  EXPECT_EQ(stripped.find("https://"), std::string::npos);
}

TEST(HtmlPage, IsOneSelfContainedDocument) {
  HtmlPage page("self-contained");
  page.add_section("text", "Text", paragraph("no figures") + note("n"));
  expect_self_contained(page.render());
}

TEST(HtmlPage, WithFiguresIsSelfContained) {
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  LinePlot p;
  p.title = "tiny";
  p.series.push_back({.name = "a", .x = {1, 2, 3}, .y = {1, 4, 9}});
  HeatmapOptions h;
  h.title = "map";
  MatrixD m(3, 3);
  m << 1, NAN, NAN, 0.5, 0.5, NAN, 0.2, 0.3, 0.5;
  HtmlPage page("with figures");
  page.add_section("figs", "Figures",
                   figure(line_plot(p), "line") + heatmap_grid({{"A", m}, {"B", m}}, h, "grid"));
  const std::string html = page.render();
  expect_self_contained(html);
  EXPECT_EQ(count(html, "<svg"), 3u);
  EXPECT_EQ(count(html, "<?xml"), 0u);
  // Every id on the page (sections + three figures) is unique.
  static const std::regex id_re(R"re(\sid\s*=\s*["']([^"']*)["'])re");
  std::set<std::string> ids;
  std::size_t n = 0;
  for (std::sregex_iterator it(html.begin(), html.end(), id_re), end; it != end; ++it, ++n) {
    EXPECT_TRUE(ids.insert((*it)[1].str()).second) << "duplicate id " << (*it)[1].str();
  }
  EXPECT_GT(n, 20u);
}

TEST(ReportCss, HasTheClassesTheHelpersUse) {
  const std::string css(report_css());
  for (const char* cls :
       {".fig-grid", "td.num", ".callout.disagrees", "nav.toc", "figcaption", "svg.attnlab-svg"}) {
    EXPECT_NE(css.find(cls), std::string::npos) << cls;
  }
}

}  // namespace
}  // namespace attnlab::report
