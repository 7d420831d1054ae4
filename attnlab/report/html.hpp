// attnlab/report/html.hpp — the report page: one self-contained HTML5 file, and the fragments
// (tables, figures, callouts, numbers) that study sections are built from.
//
// The page needs nothing from outside: CSS is inline, there are no scripts, no fonts, no images
// other than inline SVG (figures.hpp) — it opens the same from a laptop, an e-mail attachment or
// a CI artifact. HtmlPage collects sections in order, renders a table of contents linking to each
// section's anchor, and a footer naming the attnlab version, git revision and time of rendering.
//
// Conventions:
//   - Functions taking text escape it (html_escape); parameters named *_html are inserted as-is
//     and must be well-formed HTML (typically the output of the helpers below, concatenated).
//   - Section ids are HTML ids: a letter, then letters, digits, '-' or '_'; unique in the page.
//     Figure SVG ids are prefixed per figure (gnuplot.hpp) and never collide with them.
//   - Numbers in tables go through format_number() so every section prints them the same way.
//   - Errors: bad ids, duplicate ids, ragged table rows → attnlab::UsageError.
//
// Usage:
//   HtmlPage page("attnlab report");
//   std::string body = paragraph("Softmax loses selectivity as L grows.");
//   body += figure(line_plot(p), "Max attention weight vs sequence length L.");
//   body += heatmap_grid(panels, h, "Attention maps of head 0 per variant (shared color scale).");
//   body += html_table({"variant", "max weight"}, {{"softmax", format_number(0.0613)}},
//                      {.caption = "Selectivity at L = 1024"});
//   body += warning("Disagrees with the paper: the anchor is 6%·L, we measure 9%·L.");
//   page.add_section("selectivity", "Selectivity", body);
//   write_file_atomic("report/index.html", page.render());
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::report {

// Escapes & < > " ' for use in HTML text and attribute values.
std::string html_escape(std::string_view text);

// A number for people: `significant` significant digits (1..17), trailing zeros trimmed.
// Fixed notation for 1e-3 <= |v| < 1e6 (all integer digits kept: 123456 → "123456"),
// otherwise scientific with a short exponent ("1.235e6", "4.2e-5"); 0 → "0";
// NaN → "—" (em dash: not defined); +inf → "∞", -inf → "-∞". UsageError on a bad `significant`.
std::string format_number(double v, int significant = 4);
// A fraction as a percentage: 0.7321 → "73.2%" (format_number of 100·fraction, then "%").
std::string format_percent(double fraction, int significant = 3);

struct TableOptions {
  std::string caption{};                       // plain text above the table; empty = none
  std::vector<std::size_t> numeric_columns{};  // right-aligned, tabular digits
  // When numeric_columns is empty: a column is numeric if every non-empty cell parses as a
  // number or is one of format_number's "—", "∞", "-∞" (an optional trailing '%' is allowed).
  bool auto_numeric = true;
  bool cells_are_html = false;  // insert cells as HTML instead of escaping them
};

// A table with a header row. Every row must have headers.size() cells (UsageError otherwise).
std::string html_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const TableOptions& options = {});

// <figure> holding one inline SVG (or any HTML) with a caption below; empty caption = none.
std::string figure(std::string_view svg_html, std::string_view caption);

// <figure> laying out several SVGs on a responsive CSS grid: as many columns as fit with each
// panel at least min_panel_px wide (one column on narrow screens), caption below the grid.
std::string figure_grid(const std::vector<std::string>& svgs_html, std::string_view caption,
                        int min_panel_px = 280);

enum class CalloutKind {
  kNote,       // neutral aside
  kWarning,    // something to be careful about (a caveat, a degraded run)
  kDisagrees,  // our measurement disagrees with the paper / a prior claim
  kAgrees,     // our measurement reproduces the claim
};

// A boxed, colored aside: `title` in bold (empty = the kind's default label such as "Note" or
// "Disagrees with the paper"), then `text`.
std::string callout(CalloutKind kind, std::string_view title, std::string_view text);
std::string note(std::string_view text);     // callout(kNote, "", text)
std::string warning(std::string_view text);  // callout(kWarning, "", text)
std::string paragraph(std::string_view text);
// Monospace block (logs, command lines), whitespace preserved.
std::string preformatted(std::string_view text);
// Bulleted list of plain-text items.
std::string bullet_list(const std::vector<std::string>& items);

class HtmlPage {
 public:
  explicit HtmlPage(std::string title = "attnlab report");

  void set_title(std::string title);
  // HTML shown under the page title, before the table of contents.
  void set_intro_html(std::string html);
  // Appends a top-level section: <section id=id><h2>title</h2>body_html</section>, listed in
  // the table of contents.
  void add_section(std::string id, std::string title, std::string body_html);
  // Appends a subsection to the last section (UsageError when there is none); nested in the TOC.
  void add_subsection(std::string id, std::string title, std::string body_html);
  // Footer timestamp; default: utc_timestamp() at render time. Set it for reproducible output.
  void set_generated_at(std::string timestamp);
  // Plain text appended to the footer (e.g. the command line that produced the report).
  void set_footer_note(std::string text);

  std::size_t section_count() const { return sections_.size(); }
  // The complete HTML5 document.
  std::string render() const;

 private:
  struct Sub {
    std::string id, title, body_html;
  };
  struct Section {
    std::string id, title, body_html;
    std::vector<Sub> subsections;
  };
  void check_new_id(const std::string& id, const char* fn) const;

  std::string title_;
  std::string intro_html_;
  std::string generated_at_;
  std::string footer_note_;
  std::vector<Section> sections_;
};

// The page's stylesheet (also usable to preview fragments).
std::string_view report_css();

}  // namespace attnlab::report
