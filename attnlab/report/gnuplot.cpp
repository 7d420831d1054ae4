#include "attnlab/report/gnuplot.hpp"

#include "attnlab/core/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace attnlab::report {
namespace fs = std::filesystem;

namespace {

constexpr const char* kNotFoundMessage =
    "gnuplot not found: install the Debian package gnuplot-nox (scripts/bootstrap.sh does it)";

bool valid_datablock_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
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

// A private directory under the system temp dir, removed with everything in it at scope exit.
class PrivateTempDir {
 public:
  PrivateTempDir() {
    std::string templ = (fs::temp_directory_path() / "attnlab-gnuplot-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      throw InputError(str_cat("render_gnuplot_svg: cannot create a temp dir from ", templ, ": ",
                               std::strerror(errno)));
    }
    path_ = templ;
  }
  ~PrivateTempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string quote_stderr(std::string text, const std::string& script_path, int max_lines) {
  for (std::size_t pos; (pos = text.find(script_path)) != std::string::npos;) {
    text.replace(pos, script_path.size(), "figure.gp");
  }
  std::istringstream in(text);
  std::string line, out;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (n == max_lines) {
      out += "\n    ...";
      break;
    }
    out += "\n    ";
    out += line;
    ++n;
  }
  if (out.empty()) out = "\n    (gnuplot printed nothing on stderr)";
  return out;
}

void check_job(const GnuplotJob& job) {
  const std::string where = str_cat("render_gnuplot_svg (figure '", job.title, "')");
  if (job.width < 16 || job.width > 8192 || job.height < 16 || job.height > 8192) {
    throw UsageError(
        str_cat(where, ": size must be within 16..8192 pixels, got ", job.width, "x", job.height));
  }
  if (!(job.timeout_s > 0) || !std::isfinite(job.timeout_s)) {
    throw UsageError(str_cat(where, ": timeout_s must be > 0, got ", job.timeout_s));
  }
  std::set<std::string> names;
  for (const auto& d : job.data) {
    if (!valid_datablock_name(d.name)) {
      throw UsageError(str_cat(where, ": data block name '", d.name,
                               "' must be letters, digits and '_', not starting with a digit"));
    }
    if (!names.insert(d.name).second) {
      throw UsageError(str_cat(where, ": data block name '", d.name, "' is used twice"));
    }
    std::istringstream in(d.text);
    for (std::string line; std::getline(in, line);) {
      if (line == "EOD" || line == "EOD\r") {
        throw UsageError(str_cat(where, ": data block '", d.name,
                                 "' contains a line 'EOD', which would end the block early"));
      }
    }
  }
  for (char c : job.id_prefix) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      throw UsageError(str_cat(where, ": id_prefix must be letters, digits, '-' or '_', got '",
                               job.id_prefix, "'"));
    }
  }
}

// ---- SVG rewriting -------------------------------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Rewrites url(#X) → url(#<prefix>X) inside an attribute value, for ids we know.
std::string rewrite_urls(std::string_view value, const std::set<std::string, std::less<>>& ids,
                         std::string_view prefix) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value.compare(i, 5, "url(#") == 0) {
      std::size_t end = value.find(')', i + 5);
      if (end != std::string_view::npos) {
        const std::string_view name = value.substr(i + 5, end - (i + 5));
        if (ids.count(name)) {
          out += "url(#";
          out += prefix;
          out += name;
          out += ')';
          i = end + 1;
          continue;
        }
      }
    }
    out += value[i++];
  }
  return out;
}

struct Attr {
  std::string_view name;
  std::size_t value_begin, value_end;  // offsets into the tag text (inside the quotes)
};

// Parses the attributes of one start tag `<name a='x' b="y" ...>` (tag = text from '<' to '>').
std::vector<Attr> parse_attrs(std::string_view tag) {
  std::vector<Attr> attrs;
  std::size_t i = 1;
  while (i < tag.size() && !is_space(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;  // element
  while (i < tag.size()) {
    while (i < tag.size() && is_space(tag[i])) ++i;
    const std::size_t name_begin = i;
    while (i < tag.size() && !is_space(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/')
      ++i;
    const std::string_view name = tag.substr(name_begin, i - name_begin);
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') {
      if (name.empty()) ++i;
      continue;
    }
    ++i;
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    const char q = tag[i++];
    const std::size_t vb = i;
    while (i < tag.size() && tag[i] != q) ++i;
    attrs.push_back({name, vb, i});
    ++i;
  }
  return attrs;
}

// End of the tag starting at `lt` (position of '>'), respecting quoted attribute values.
std::size_t find_tag_end(std::string_view s, std::size_t lt) {
  char q = 0;
  for (std::size_t i = lt + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (q) {
      if (c == q) q = 0;
    } else if (c == '"' || c == '\'') {
      q = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

bool starts_element(std::string_view s, std::size_t i, std::string_view name) {
  if (s.compare(i, name.size() + 1, str_cat("<", name)) != 0) return false;
  const std::size_t after = i + name.size() + 1;
  return after < s.size() && (is_space(s[after]) || s[after] == '>' || s[after] == '/');
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

// ---- data helpers ----------------------------------------------------------------------------

std::string gnuplot_number(double v) {
  if (!std::isfinite(v)) return "NaN";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 9);
  return std::string(buf, res.ptr);
}

GnuplotData& GnuplotData::add_row(std::initializer_list<double> values) {
  return add_row(std::span<const double>(values.begin(), values.size()));
}

GnuplotData& GnuplotData::add_row(std::span<const double> values) {
  bool first = true;
  for (double v : values) {
    if (!first) text += ' ';
    text += gnuplot_number(v);
    first = false;
  }
  text += '\n';
  return *this;
}

GnuplotData& GnuplotData::add_blank_line() {
  text += '\n';
  return *this;
}

GnuplotData& GnuplotJob::add_data(std::string name) {
  data.push_back(GnuplotData{std::move(name), {}});
  return data.back();
}

std::string sanitize_label(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto escape_byte = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c < 0x20 || c == 0x7f) {
        escape_byte(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: lead byte determines length and the allowed range of the 2nd byte.
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      ok = b >= l && b <= h;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      escape_byte(c);
      ++i;
    }
  }
  return out;
}

std::string gnuplot_quote(std::string_view text) {
  const std::string clean = sanitize_label(text);
  std::string out = "'";
  for (char c : clean) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// ---- executable lookup ---------------------------------------------------------------------

std::string find_gnuplot() {
  const char* env = std::getenv("ATTNLAB_GNUPLOT");
  if (env && *env) {
    const std::string name = env;
    if (name.find('/') != std::string::npos) {
      if (!find_executable(name).empty()) return name;
      throw GnuplotNotFoundError(
          str_cat(kNotFoundMessage, "; ATTNLAB_GNUPLOT=", name, " is not an executable file"));
    }
    std::string found = find_executable(name);
    if (!found.empty()) return found;
    throw GnuplotNotFoundError(
        str_cat(kNotFoundMessage, "; ATTNLAB_GNUPLOT=", name, " is not on PATH"));
  }
  std::string found = find_executable("gnuplot");
  if (!found.empty()) return found;
  throw GnuplotNotFoundError(str_cat(kNotFoundMessage, "; no 'gnuplot' on PATH"));
}

bool gnuplot_available() {
  try {
    find_gnuplot();
    return true;
  } catch (const GnuplotNotFoundError&) {
    return false;
  }
}

std::string unique_id_prefix() {
  static const std::string process_token = [] {
    const auto now = std::chrono::system_clock::now().time_since_epoch().count();
    std::uint64_t h = fnv1a(std::to_string(::getpid()));
    h = fnv1a(std::to_string(now), h);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06llx", static_cast<unsigned long long>(h & 0xffffffull));
    return std::string(buf);
  }();
  static std::atomic<std::uint64_t> counter{0};
  return str_cat("f", process_token, "-", counter.fetch_add(1) + 1, "-");
}

namespace {
struct FigurePageRegistry {
  std::mutex mutex;
  std::map<std::string, int, std::less<>> seen;  // content hash → figures rendered with it
};
FigurePageRegistry& figure_page_registry() {
  static FigurePageRegistry registry;
  return registry;
}
}  // namespace

void begin_figure_page() {
  FigurePageRegistry& r = figure_page_registry();
  std::lock_guard lock(r.mutex);
  r.seen.clear();
}

std::string content_id_prefix(std::string_view svg, std::string_view title) {
  FigurePageRegistry& r = figure_page_registry();
  std::uint64_t h = fnv1a(svg);
  h = fnv1a(title, h);
  char buf[24];
  std::snprintf(buf, sizeof buf, "f%08llx", static_cast<unsigned long long>(h & 0xffffffffull));
  std::lock_guard lock(r.mutex);
  const int n = ++r.seen[buf];
  return n == 1 ? str_cat(buf, "-") : str_cat(buf, "-", n, "-");
}

// ---- SVG post-processing -------------------------------------------------------------------

std::string make_svg_inlinable(std::string_view svg, std::string_view id_prefix,
                               std::string_view title) {
  std::size_t root = std::string_view::npos;
  for (std::size_t pos = svg.find("<svg"); pos != std::string_view::npos;
       pos = svg.find("<svg", pos + 1)) {
    if (starts_element(svg, pos, "svg")) {
      root = pos;
      break;
    }
  }
  const std::size_t close = svg.rfind("</svg>");
  if (root == std::string_view::npos || close == std::string_view::npos || close < root) {
    throw FormatError(str_cat("make_svg_inlinable: no complete <svg> element in ", svg.size(),
                              " bytes of text (figure '", title, "')"));
  }
  const std::string_view body = svg.substr(root, close + 6 - root);

  // Pass 1: every id defined anywhere in the document.
  std::set<std::string, std::less<>> ids;
  for (std::size_t i = body.find('<'); i != std::string_view::npos; i = body.find('<', i + 1)) {
    if (i + 1 >= body.size() || body[i + 1] == '/' || body[i + 1] == '!' || body[i + 1] == '?')
      continue;
    const std::size_t end = find_tag_end(body, i);
    if (end == std::string_view::npos) break;
    const std::string_view tag = body.substr(i, end + 1 - i);
    for (const Attr& a : parse_attrs(tag)) {
      if (a.name == "id") ids.emplace(tag.substr(a.value_begin, a.value_end - a.value_begin));
    }
    i = end;
  }

  // Pass 2: copy, rewriting start tags.
  std::string out;
  out.reserve(body.size() + ids.size() * 16 + 256);
  bool root_done = false;
  std::map<std::string, int> seen;  // id → copies emitted so far
  std::size_t i = 0;
  while (i < body.size()) {
    const std::size_t lt = body.find('<', i);
    if (lt == std::string_view::npos) {
      out.append(body.substr(i));
      break;
    }
    out.append(body.substr(i, lt - i));
    if (body.compare(lt, 4, "<!--") == 0) {
      std::size_t end = body.find("-->", lt + 4);
      end = end == std::string_view::npos ? body.size() : end + 3;
      out.append(body.substr(lt, end - lt));
      i = end;
      continue;
    }
    if (lt + 1 < body.size() &&
        (body[lt + 1] == '/' || body[lt + 1] == '!' || body[lt + 1] == '?')) {
      std::size_t end = body.find('>', lt);
      end = end == std::string_view::npos ? body.size() : end + 1;
      out.append(body.substr(lt, end - lt));
      i = end;
      continue;
    }
    const std::size_t gt = find_tag_end(body, lt);
    if (gt == std::string_view::npos) {
      throw FormatError(str_cat("make_svg_inlinable: unterminated tag at byte ", root + lt,
                                " (figure '", title, "')"));
    }
    const std::string_view tag = body.substr(lt, gt + 1 - lt);
    const std::vector<Attr> attrs = parse_attrs(tag);
    std::string rewritten;
    std::size_t copied = 0;
    bool has_style = false, has_viewbox = false;
    std::string width_attr, height_attr;
    for (const Attr& a : attrs) {
      const std::string_view value = tag.substr(a.value_begin, a.value_end - a.value_begin);
      if (a.name == "style") has_style = true;
      if (a.name == "viewBox") has_viewbox = true;
      if (a.name == "width") width_attr = value;
      if (a.name == "height") height_attr = value;
      std::string new_value;
      if (a.name == "id") {
        // gnuplot itself repeats some ids (e.g. gnuplot_plot_N when an opaque key is redrawn):
        // later copies get a suffix so the page's ids stay unique; references keep pointing at
        // the first copy, as getElementById would.
        std::string unique(value);
        for (int n = ++seen[unique]; n > 1; ++n) {
          const std::string candidate = str_cat(value, "-", n);
          if (!ids.count(candidate) && !seen.count(candidate)) {
            unique = candidate;
            seen[unique] = 1;
            break;
          }
        }
        new_value = str_cat(id_prefix, unique);
      } else if ((a.name == "href" || a.name == "xlink:href") && value.size() > 1 &&
                 value[0] == '#' && ids.count(value.substr(1))) {
        new_value = str_cat("#", id_prefix, value.substr(1));
      } else if (value.find("url(#") != std::string_view::npos) {
        new_value = rewrite_urls(value, ids, id_prefix);
      } else {
        continue;
      }
      rewritten.append(tag.substr(copied, a.value_begin - copied));
      rewritten += new_value;
      copied = a.value_end;
    }
    rewritten.append(tag.substr(copied));

    // Extra attributes go right after the element name.
    std::string extra;
    if (!root_done && starts_element(tag, 0, "svg")) {
      extra = " class=\"attnlab-svg\" role=\"img\"";
      if (!title.empty()) extra += str_cat(" aria-label=\"", xml_escape(title), "\"");
      if (!has_style) extra += " style=\"max-width:100%;height:auto\"";
      if (!has_viewbox && !width_attr.empty() && !height_attr.empty()) {
        extra += str_cat(" viewBox=\"0 0 ", width_attr, " ", height_attr, "\"");
      }
    } else if (starts_element(tag, 0, "image")) {
      extra = " image-rendering=\"optimizeSpeed\"";
      if (!has_style) extra += " style=\"image-rendering:pixelated\"";
    }
    if (!extra.empty()) {
      std::size_t name_end = 1;
      while (name_end < rewritten.size() && !is_space(rewritten[name_end]) &&
             rewritten[name_end] != '>' && rewritten[name_end] != '/')
        ++name_end;
      rewritten.insert(name_end, extra);
    }
    out += rewritten;
    i = gt + 1;

    if (!root_done && starts_element(tag, 0, "svg")) {
      root_done = true;
      // The root <title> (gnuplot writes "Gnuplot") becomes the figure title.
      if (!title.empty()) {
        std::size_t j = i;
        while (j < body.size() && is_space(body[j])) ++j;
        const std::string new_title = str_cat("<title>", xml_escape(title), "</title>");
        if (body.compare(j, 7, "<title>") == 0) {
          const std::size_t end = body.find("</title>", j);
          if (end != std::string_view::npos) {
            out.append(body.substr(i, j - i));
            out += new_title;
            i = end + 8;
          }
        } else {
          out += new_title;
        }
      }
    }
  }
  return out;
}

// ---- running -------------------------------------------------------------------------------

std::string render_gnuplot_svg(const GnuplotJob& job) {
  check_job(job);
  const std::string exe = find_gnuplot();
  PrivateTempDir dir;
  const fs::path script_path = dir.path() / "figure.gp";
  const fs::path svg_path = dir.path() / "figure.svg";

  std::string script;
  script.reserve(1024 + job.script.size());
  script += "set encoding utf8\n";
  script += str_cat("set terminal svg size ", job.width, ",", job.height, " font ",
                    gnuplot_quote(job.font), " background rgb 'white' noenhanced\n");
  script += str_cat("set output ", gnuplot_quote(svg_path.string()), "\n");
  for (const auto& d : job.data) {
    script += str_cat("$", d.name, " << EOD\n");
    script += d.text;
    if (!d.text.empty() && d.text.back() != '\n') script += '\n';
    script += "EOD\n";
  }
  script += job.script;
  if (!job.script.empty() && job.script.back() != '\n') script += '\n';
  script += "unset output\n";
  {
    std::ofstream f(script_path, std::ios::binary);
    f << script;
    if (!f) {
      throw InputError(str_cat("render_gnuplot_svg: cannot write ", script_path.string(),
                               " for figure '", job.title, "'"));
    }
  }

  ProcessOptions popts;
  popts.timeout_s = job.timeout_s;
  popts.max_output = std::size_t{1} << 16;
  const ProcessResult pr = run_process({exe, "-d", script_path.string()}, popts);
  const std::string output = pr.out + pr.err;
  if (!pr.started) {
    if (pr.start_errno == ENOENT || pr.start_errno == EACCES) {
      throw GnuplotNotFoundError(
          str_cat(kNotFoundMessage, "; cannot execute ", exe, ": ", std::strerror(pr.start_errno)));
    }
    throw Error(str_cat("render_gnuplot_svg: cannot start ", exe, " for figure '", job.title,
                        "': ", std::strerror(pr.start_errno)));
  }
  if (pr.timed_out) {
    throw Error(str_cat("render_gnuplot_svg: gnuplot (", exe, ") timed out after ", job.timeout_s,
                        " s on figure '", job.title,
                        "'; its output:", quote_stderr(output, script_path.string(), 8)));
  }
  if (pr.exit_code != 0) {
    const std::string how =
        pr.signal == 0 ? str_cat("exit status ", pr.exit_code) : str_cat("signal ", pr.signal);
    throw Error(str_cat("render_gnuplot_svg: gnuplot failed (", how, ") on figure '", job.title,
                        "':", quote_stderr(output, script_path.string(), 8)));
  }
  std::string svg;
  {
    std::ifstream f(svg_path, std::ios::binary);
    if (f) {
      std::ostringstream ss;
      ss << f.rdbuf();
      svg = ss.str();
    }
  }
  if (svg.find("<svg") == std::string::npos || svg.find("</svg>") == std::string::npos) {
    throw Error(str_cat("render_gnuplot_svg: gnuplot wrote no SVG (", svg.size(),
                        " bytes) for figure '", job.title,
                        "':", quote_stderr(output, script_path.string(), 8)));
  }
  const std::string prefix =
      job.id_prefix.empty() ? content_id_prefix(svg, job.title) : job.id_prefix;
  return make_svg_inlinable(svg, prefix, job.title);
}

}  // namespace attnlab::report
