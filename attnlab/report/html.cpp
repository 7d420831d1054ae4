#include "attnlab/report/html.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "attnlab/core/error.hpp"
#include "attnlab/core/result_json.hpp"

namespace attnlab::report {

namespace {

constexpr std::string_view kCss = R"css(
:root {
  --fg: #1d2125; --muted: #5f6b76; --bg: #ffffff; --rule: #d8dde3; --accent: #0b5cad;
  --panel: #f6f8fa;
  --note-bg: #eef4fb; --note-edge: #4a86c5;
  --warn-bg: #fff7e6; --warn-edge: #d9900b;
  --bad-bg: #fdeeee; --bad-edge: #c23b3b;
  --good-bg: #ecf7ef; --good-edge: #2f8f4e;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0 auto; padding: 1.5rem 1.25rem 3rem; max-width: 78rem;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 16px; line-height: 1.55; color: var(--fg); background: var(--bg);
}
h1, h2, h3 { line-height: 1.25; font-weight: 650; }
h1 { font-size: 1.9rem; margin: 0.5rem 0 0.75rem; }
h2 { font-size: 1.45rem; margin: 2.5rem 0 0.75rem; padding-bottom: 0.3rem;
     border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.15rem; margin: 1.75rem 0 0.5rem; }
p, ul, ol { max-width: 48rem; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
a.anchor { color: var(--rule); margin-left: 0.4rem; font-weight: 400; }
a.anchor:hover { color: var(--accent); text-decoration: none; }
section { scroll-margin-top: 1rem; }
nav.toc { background: var(--panel); border: 1px solid var(--rule); border-radius: 6px;
          padding: 0.75rem 1.25rem; margin: 1.25rem 0 2rem; max-width: 48rem; }
nav.toc h2 { font-size: 1rem; margin: 0 0 0.4rem; border: 0; padding: 0; }
nav.toc ol { margin: 0; padding-left: 1.4rem; }
nav.toc ol ol { padding-left: 1.2rem; font-size: 0.95em; }
figure.fig { margin: 1.25rem 0 1.75rem; }
figure.fig > svg, figure.fig .panel > svg, svg.attnlab-svg {
  display: block; max-width: 100%; height: auto; }
figure.fig > svg { margin: 0 auto; }
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 0.5rem; max-width: 48rem; }
.fig-grid { display: grid; gap: 0.75rem 1rem; align-items: start;
            grid-template-columns: repeat(auto-fill, minmax(min(100%, var(--panel-min, 280px)), 1fr)); }
.fig-grid .panel { min-width: 0; }
.fig-grid .panel > svg { width: 100%; }
table { border-collapse: collapse; margin: 1rem 0 1.5rem; font-size: 0.93rem; }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 0.35rem; }
th, td { padding: 0.3rem 0.75rem; border-bottom: 1px solid var(--rule); vertical-align: top;
         text-align: left; }
th { border-bottom: 2px solid #b9c1ca; font-weight: 600; background: var(--panel); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #fafbfc; }
.table-wrap { overflow-x: auto; max-width: 100%; }
.callout { border-left: 4px solid var(--note-edge); background: var(--note-bg);
           padding: 0.6rem 1rem; margin: 1rem 0; border-radius: 0 6px 6px 0; max-width: 48rem; }
.callout .callout-title { font-weight: 650; margin-right: 0.4rem; }
.callout.warning { border-color: var(--warn-edge); background: var(--warn-bg); }
.callout.disagrees { border-color: var(--bad-edge); background: var(--bad-bg); }
.callout.agrees { border-color: var(--good-edge); background: var(--good-bg); }
pre { background: var(--panel); border: 1px solid var(--rule); border-radius: 6px;
      padding: 0.6rem 0.9rem; overflow-x: auto; font-size: 0.88rem; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
footer { margin-top: 3rem; padding-top: 0.75rem; border-top: 1px solid var(--rule);
         color: var(--muted); font-size: 0.85rem; }
@media print {
  body { max-width: none; padding: 0; }
  nav.toc { break-after: page; }
  figure, table, .callout { break-inside: avoid; }
  a.anchor { display: none; }
}
)css";

bool valid_html_id(std::string_view id) {
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

// Whether a table cell reads as a number (for right alignment).
bool looks_numeric(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s == "—" || s == "∞" || s == "-∞" || s == "n/a") return true;
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  if (s.empty()) return false;
  double v = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

// Drops trailing zeros after a decimal point ("1.2300" → "1.23", "5.000" → "5").
void trim_zeros(std::string& s) {
  if (s.find('.') == std::string::npos) return;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_number(double v, int significant) {
  if (significant < 1 || significant > 17) {
    throw UsageError(
        str_cat("format_number: significant digits must be in 1..17, got ", significant));
  }
  if (std::isnan(v)) return "—";
  if (std::isinf(v)) return v > 0 ? "∞" : "-∞";
  if (v == 0.0) return "0";
  const double a = std::fabs(v);
  char buf[64];
  if (a >= 1e-3 && a < 1e6) {
    const int magnitude = static_cast<int>(std::floor(std::log10(a)));
    const int decimals = std::max(0, significant - 1 - magnitude);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    std::string s = buf;
    trim_zeros(s);
    // Rounding may push a value just under 1e6 to "1000000": switch to scientific then.
    const std::string_view digits = s[0] == '-' ? std::string_view(s).substr(1) : s;
    if (digits.size() < 7 || digits.find('.') != std::string_view::npos) {
      return s == "-0" ? "0" : s;
    }
  }
  std::snprintf(buf, sizeof buf, "%.*e", significant - 1, v);
  std::string s = buf;
  const std::size_t e = s.find('e');
  std::string mantissa = s.substr(0, e);
  trim_zeros(mantissa);
  const int exponent = std::atoi(s.c_str() + e + 1);
  return str_cat(mantissa, "e", exponent);
}

std::string format_percent(double fraction, int significant) {
  if (!std::isfinite(fraction)) return format_number(fraction, significant);
  return format_number(100.0 * fraction, significant) + "%";
}

std::string html_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const TableOptions& options) {
  const std::size_t ncol = headers.size();
  if (ncol == 0) throw UsageError("html_table: a table needs at least one header");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != ncol) {
      throw UsageError(str_cat("html_table (",
                               options.caption.empty() ? "untitled" : options.caption, "): row ", r,
                               " has ", rows[r].size(), " cells, headers have ", ncol));
    }
  }
  std::vector<bool> numeric(ncol, false);
  if (!options.numeric_columns.empty()) {
    for (std::size_t c : options.numeric_columns) {
      if (c >= ncol) {
        throw UsageError(
            str_cat("html_table: numeric column ", c, " out of range (", ncol, " columns)"));
      }
      numeric[c] = true;
    }
  } else if (options.auto_numeric && !rows.empty()) {
    for (std::size_t c = 0; c < ncol; ++c) {
      bool all = true, any = false;
      for (const auto& row : rows) {
        if (row[c].empty()) continue;
        any = true;
        if (!looks_numeric(row[c])) {
          all = false;
          break;
        }
      }
      numeric[c] = all && any;
    }
  }
  auto cell = [&](const std::string& s) { return options.cells_are_html ? s : html_escape(s); };
  std::string out = "<div class=\"table-wrap\"><table>\n";
  if (!options.caption.empty())
    out += str_cat("<caption>", html_escape(options.caption), "</caption>\n");
  out += "<thead><tr>";
  for (std::size_t c = 0; c < ncol; ++c) {
    out += numeric[c] ? "<th class=\"num\">" : "<th>";
    out += cell(headers[c]);
    out += "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (std::size_t c = 0; c < ncol; ++c) {
      out += numeric[c] ? "<td class=\"num\">" : "<td>";
      out += cell(row[c]);
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n";
  return out;
}

std::string figure(std::string_view svg_html, std::string_view caption) {
  std::string out = "<figure class=\"fig\">\n";
  out += svg_html;
  if (!caption.empty()) out += str_cat("\n<figcaption>", html_escape(caption), "</figcaption>");
  out += "\n</figure>\n";
  return out;
}

std::string figure_grid(const std::vector<std::string>& svgs_html, std::string_view caption,
                        int min_panel_px) {
  if (min_panel_px < 50 || min_panel_px > 4000) {
    throw UsageError(str_cat("figure_grid: min_panel_px must be in 50..4000, got ", min_panel_px));
  }
  std::string out =
      str_cat("<figure class=\"fig\">\n<div class=\"fig-grid\" style=\"--panel-min:", min_panel_px,
              "px\">\n");
  for (const auto& svg : svgs_html) {
    out += "<div class=\"panel\">\n";
    out += svg;
    out += "\n</div>\n";
  }
  out += "</div>";
  if (!caption.empty()) out += str_cat("\n<figcaption>", html_escape(caption), "</figcaption>");
  out += "\n</figure>\n";
  return out;
}

std::string callout(CalloutKind kind, std::string_view title, std::string_view text) {
  const char* cls = "note";
  const char* label = "Note";
  switch (kind) {
    case CalloutKind::kNote:
      break;
    case CalloutKind::kWarning:
      cls = "warning";
      label = "Warning";
      break;
    case CalloutKind::kDisagrees:
      cls = "disagrees";
      label = "Disagrees with the paper";
      break;
    case CalloutKind::kAgrees:
      cls = "agrees";
      label = "Agrees with the paper";
      break;
  }
  const std::string shown = title.empty() ? std::string(label) : std::string(title);
  return str_cat("<div class=\"callout ", cls, "\" role=\"note\"><span class=\"callout-title\">",
                 html_escape(shown), "</span> ", html_escape(text), "</div>\n");
}

std::string note(std::string_view text) {
  return callout(CalloutKind::kNote, "", text);
}
std::string warning(std::string_view text) {
  return callout(CalloutKind::kWarning, "", text);
}

std::string paragraph(std::string_view text) {
  return str_cat("<p>", html_escape(text), "</p>\n");
}

std::string preformatted(std::string_view text) {
  return str_cat("<pre>", html_escape(text), "</pre>\n");
}

std::string bullet_list(const std::vector<std::string>& items) {
  std::string out = "<ul>\n";
  for (const auto& item : items) out += str_cat("<li>", html_escape(item), "</li>\n");
  out += "</ul>\n";
  return out;
}

std::string_view report_css() {
  return kCss;
}

// ---- HtmlPage ----------------------------------------------------------------------------------

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::set_title(std::string title) {
  title_ = std::move(title);
}
void HtmlPage::set_intro_html(std::string html) {
  intro_html_ = std::move(html);
}
void HtmlPage::set_generated_at(std::string timestamp) {
  generated_at_ = std::move(timestamp);
}
void HtmlPage::set_footer_note(std::string text) {
  footer_note_ = std::move(text);
}

void HtmlPage::check_new_id(const std::string& id, const char* fn) const {
  if (!valid_html_id(id)) {
    throw UsageError(str_cat("HtmlPage::", fn, ": section id '", id,
                             "' must be a letter followed by letters, digits, '-' or '_'"));
  }
  if (id == "top" || id == "contents") {
    throw UsageError(str_cat("HtmlPage::", fn, ": section id '", id, "' is reserved by the page"));
  }
  for (const auto& s : sections_) {
    bool dup = s.id == id;
    for (const auto& sub : s.subsections) dup = dup || sub.id == id;
    if (dup) throw UsageError(str_cat("HtmlPage::", fn, ": section id '", id, "' is used twice"));
  }
}

void HtmlPage::add_section(std::string id, std::string title, std::string body_html) {
  check_new_id(id, "add_section");
  sections_.push_back({std::move(id), std::move(title), std::move(body_html), {}});
}

void HtmlPage::add_subsection(std::string id, std::string title, std::string body_html) {
  if (sections_.empty()) {
    throw UsageError(
        str_cat("HtmlPage::add_subsection: subsection '", id, "' needs a section before it"));
  }
  check_new_id(id, "add_subsection");
  sections_.back().subsections.push_back({std::move(id), std::move(title), std::move(body_html)});
}

std::string HtmlPage::render() const {
  std::string out;
  std::size_t body_size = 0;
  for (const auto& s : sections_) {
    body_size += s.body_html.size();
    for (const auto& sub : s.subsections) body_size += sub.body_html.size();
  }
  out.reserve(body_size + kCss.size() + 4096);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"attnlab " + html_escape(attnlab_version()) + "\">\n";
  out += str_cat("<title>", html_escape(title_), "</title>\n<style>", kCss, "</style>\n");
  out += "</head>\n<body>\n<header id=\"top\">\n";
  out += str_cat("<h1>", html_escape(title_), "</h1>\n");
  out += intro_html_;
  out += "</header>\n";

  if (!sections_.empty()) {
    out += "<nav class=\"toc\" id=\"contents\" aria-label=\"Contents\">\n<h2>Contents</h2>\n<ol>\n";
    for (const auto& s : sections_) {
      out += str_cat("<li><a href=\"#", s.id, "\">", html_escape(s.title), "</a>");
      if (!s.subsections.empty()) {
        out += "\n<ol>\n";
        for (const auto& sub : s.subsections) {
          out += str_cat("<li><a href=\"#", sub.id, "\">", html_escape(sub.title), "</a></li>\n");
        }
        out += "</ol>\n";
      }
      out += "</li>\n";
    }
    out += "</ol>\n</nav>\n";
  }

  out += "<main>\n";
  for (const auto& s : sections_) {
    out += str_cat("<section id=\"", s.id, "\">\n<h2>", html_escape(s.title),
                   "<a class=\"anchor\" href=\"#", s.id,
                   "\" aria-label=\"link to this section\">#</a></h2>\n");
    out += s.body_html;
    for (const auto& sub : s.subsections) {
      out += str_cat("<section id=\"", sub.id, "\">\n<h3>", html_escape(sub.title),
                     "<a class=\"anchor\" href=\"#", sub.id,
                     "\" aria-label=\"link to this section\">#</a></h3>\n");
      out += sub.body_html;
      out += "</section>\n";
    }
    out += "</section>\n";
  }
  out += "</main>\n";

  const std::string when = generated_at_.empty() ? utc_timestamp() : generated_at_;
  out += str_cat("<footer>Generated by attnlab ", html_escape(attnlab_version()), " (git revision ",
                 html_escape(git_revision()), ") at ", html_escape(when), ".");
  if (!footer_note_.empty()) out += str_cat("<br>", html_escape(footer_note_));
  out += " <a href=\"#top\">Back to top</a></footer>\n</body>\n</html>\n";
  return out;
}

}  // namespace attnlab::report
