// attnlab/report/gnuplot.hpp — run gnuplot on a script and get back SVG text ready to inline.
//
// This is the lowest layer of the report's figures: figures.hpp builds scripts on top of it, and
// a study section that needs a plot type figures.hpp lacks can write its own GnuplotJob.
//
// What render_gnuplot_svg() does with a job:
//   1. Prepends `set terminal svg size W,H font "F" background rgb "white" noenhanced` (no mouse
//      JavaScript, no external references) and `set output` to a file in a private temp dir
//      (mkdtemp, removed afterwards), then the data blocks as gnuplot datablocks ($name << EOD),
//      then the job's script body.
//   2. Runs gnuplot WITHOUT a shell (posix_spawn, argv {gnuplot, -d, script}; -d skips ~/.gnuplot
//   so
//      the user's init file cannot change figures), stdin from /dev/null, stderr captured through a
//      pipe, and kills it after `timeout_s`.
//   3. Makes the SVG inlinable (make_svg_inlinable): drops the XML declaration / DOCTYPE, prefixes
//      every id and every reference to it (href="#X", xlink:href="#X", url(#X)) with a prefix that
//      is unique per figure, keeps viewBox and width/height (the natural size in CSS pixels) and
//      adds class="attnlab-svg" style="max-width:100%;height:auto" so the figure shrinks to fit its
//      container but never grows beyond its natural size. Embedded bitmaps (`with image`) get
//      image-rendering:pixelated so heatmap cells stay crisp when scaled.
//
// Invariants of the returned text: starts with "<svg"; contains no "<?xml", no "<!DOCTYPE", no
// <script>; every id="..." in it starts with the figure's prefix, so any number of figures can
// share one HTML page. Labels and titles are literal text (the terminal is noenhanced: "_" and "^"
// are not sub/superscripts); the svg terminal escapes <, & itself.
//
// Which gnuplot: $ATTNLAB_GNUPLOT if set (a path, or a name searched on PATH), else "gnuplot" on
// PATH. Not found → GnuplotNotFoundError ("gnuplot not found: install the Debian package
// gnuplot-nox (scripts/bootstrap.sh does it) ..."). gnuplot exiting nonzero, timing out, or writing
// no SVG → attnlab::Error naming the figure title and quoting the first lines of gnuplot's stderr.
// Thread-safe: concurrent calls use separate temp dirs and distinct id prefixes.
//
// Usage:
//   GnuplotJob job;
//   job.title = "loss curve";
//   job.width = 640;  job.height = 400;
//   GnuplotData& d = job.add_data("loss");            // becomes $loss in the script
//   for (int i = 0; i < n; ++i) d.add_row({double(i), loss[i]});
//   job.script = "set xlabel 'step'\nplot $loss using 1:2 with lines title 'train'\n";
//   std::string svg = render_gnuplot_svg(job);        // "<svg ...>...</svg>"
#pragma once

#include <deque>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "attnlab/core/error.hpp"

namespace attnlab::report {

// Thrown when no gnuplot executable can be found. Subclass of Error (CLI exit code 1).
class GnuplotNotFoundError : public Error {
 public:
  using Error::Error;
};

// One named inline data set, written into the script as a gnuplot datablock `$name << EOD`.
struct GnuplotData {
  std::string name{};  // without '$'; letters, digits, '_', not starting with a digit
  std::string text{};  // rows of whitespace-separated fields, each ending in '\n'

  // Appends one row of numbers formatted by gnuplot_number() (NaN and ±inf become "NaN").
  GnuplotData& add_row(std::initializer_list<double> values);
  GnuplotData& add_row(std::span<const double> values);
  // An empty line: separates scans (e.g. for pm3d) or breaks a `with lines` curve.
  GnuplotData& add_blank_line();
};

struct GnuplotJob {
  std::string title{};             // names the figure in error messages and in the SVG <title>
  std::string script{};            // plot commands; no `set terminal` / `set output` lines
  std::deque<GnuplotData> data{};  // deque: references from add_data() stay valid
  int width = 640;                 // SVG size in pixels, 16..8192
  int height = 420;
  std::string font = "sans-serif,11";  // gnuplot font spec "family,size"
  double timeout_s = 60.0;             // gnuplot is killed after this long
  std::string id_prefix{};             // prefix for SVG ids; empty = a fresh unique one per render

  // Adds an empty data block named `name` and returns it (valid for the job's lifetime).
  GnuplotData& add_data(std::string name);
};

// Runs gnuplot on `job` and returns inlinable SVG (see the header comment for the guarantees).
std::string render_gnuplot_svg(const GnuplotJob& job);

// The gnuplot executable that render_gnuplot_svg() would run ($ATTNLAB_GNUPLOT or PATH);
// GnuplotNotFoundError when there is none.
std::string find_gnuplot();
// True when find_gnuplot() would succeed (tests skip, the report degrades to text).
bool gnuplot_available();

// Makes standalone SVG text inlinable in HTML: strips the XML declaration, DOCTYPE and comments
// before the root element, rewrites every id="X" to id="<prefix>X" together with the references
// href="#X", xlink:href="#X" and url(#X), sets the root <title> to `title` when non-empty, adds
// class/style for responsive scaling and pixelated rendering of embedded bitmaps. An id the input
// defines twice (gnuplot repeats gnuplot_plot_N when it redraws an opaque key) gets "-2", "-3"...
// on its later copies; references keep pointing at the first. FormatError when the text has no
// complete <svg> element.
std::string make_svg_inlinable(std::string_view svg, std::string_view id_prefix,
                               std::string_view title = {});

// Deterministic per-figure prefix (the default): a hash of the SVG text and title
// ("f1a2b3c4d-"), with a counter added when the same figure is rendered again on the same page
// (since the last begin_figure_page()). Re-rendering a report from saved data therefore
// reproduces it byte for byte (apart from the footer timestamp).
std::string content_id_prefix(std::string_view svg, std::string_view title);
// Starts a new page for content_id_prefix: forgets which figures were rendered, so a page built
// after this (report, or its re-render in the same process) gets the same prefixes as if it were
// the first. Call before rendering a page's figures, not while another page is being rendered.
void begin_figure_page();
// A new process-unique id prefix such as "f3a9c1e-2-" (never repeats within a process; the middle
// part differs between processes, so pages assembled from several runs stay collision-free).
std::string unique_id_prefix();

// Number text for gnuplot data and scripts: "%.9g" style (shortest of fixed/scientific), always
// with '.' as decimal point whatever the locale; NaN and ±inf become "NaN" (gnuplot skips them).
std::string gnuplot_number(double v);

// A gnuplot single-quoted string literal for `text` (only '' is special inside single quotes).
// Control characters and invalid UTF-8 bytes are replaced by visible escapes like "\n" or "\xff",
// so token strings from a byte-level BPE can be used as labels safely.
std::string gnuplot_quote(std::string_view text);

// `text` with control characters and invalid UTF-8 made visible ("\n", "\t", "\xNN"); valid
// UTF-8 (e.g. "Ġthe", "·", "²") passes unchanged.
std::string sanitize_label(std::string_view text);

}  // namespace attnlab::report
