// Tests for attnlab/report/gnuplot.hpp: executable lookup, error messages, SVG post-processing.
#include "attnlab/report/gnuplot.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <string>

namespace attnlab::report {
namespace {

// Sets an environment variable for the scope of a test, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::vector<std::string> ids_in(const std::string& svg) {
  static const std::regex re(R"re(\sid\s*=\s*["']([^"']*)["'])re");
  std::vector<std::string> ids;
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) {
    ids.push_back((*it)[1].str());
  }
  return ids;
}

#define REQUIRE_GNUPLOT() \
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed (Debian package gnuplot-nox)"

TEST(GnuplotNumber, PrecisionAndNonFinite) {
  EXPECT_EQ(gnuplot_number(0.5), "0.5");
  EXPECT_EQ(gnuplot_number(1.0 / 3.0), "0.333333333");
  EXPECT_EQ(gnuplot_number(123456789.0), "123456789");
  EXPECT_EQ(gnuplot_number(1.5e-12), "1.5e-12");
  EXPECT_EQ(gnuplot_number(-2.0), "-2");
  EXPECT_EQ(gnuplot_number(std::nan("")), "NaN");
  EXPECT_EQ(gnuplot_number(std::numeric_limits<double>::infinity()), "NaN");
  EXPECT_EQ(gnuplot_number(-std::numeric_limits<double>::infinity()), "NaN");
}

TEST(GnuplotData, RowsAndBlankLines) {
  GnuplotJob job;
  GnuplotData& d = job.add_data("pts");
  d.add_row({1.0, 2.5});
  job.add_data("other");  // references stay valid (deque)
  d.add_blank_line().add_row({3.0, std::nan("")});
  EXPECT_EQ(job.data.front().text, "1 2.5\n\n3 NaN\n");
  EXPECT_EQ(job.data.size(), 2u);
}

TEST(GnuplotQuote, EscapesQuotesAndControlCharacters) {
  EXPECT_EQ(gnuplot_quote("it's"), "'it''s'");
  EXPECT_EQ(gnuplot_quote("a\nb\tc"), "'a\\nb\\tc'");
  EXPECT_EQ(gnuplot_quote("\xC4\xA0the"), "'\xC4\xA0the'");      // "Ġthe": valid UTF-8 kept
  EXPECT_EQ(sanitize_label("x\xff"), "x\\xff");                  // invalid byte made visible
  EXPECT_EQ(sanitize_label("\xE2\x82"), "\\xe2\\x82");           // truncated 3-byte sequence
  EXPECT_EQ(sanitize_label("6%\xC2\xB7L"), "6%\xC2\xB7L");       // "6%·L"
  EXPECT_EQ(sanitize_label("\xED\xA0\x80"), "\\xed\\xa0\\x80");  // UTF-16 surrogate: invalid
}

TEST(MakeSvgInlinable, StripsPrologAndPrefixesIdsAndReferences) {
  const std::string svg =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x.dtd\">\n"
      "<svg width=\"600\" height=\"400\" viewBox=\"0 0 600 400\" "
      "xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
      "<title>Gnuplot</title>\n"
      "<defs><circle id='gpDot' r='1'/><clipPath id=\"clip1\"><rect/></clipPath>"
      "<linearGradient id='grad'/></defs>\n"
      "<use xlink:href='#gpDot' x='1'/><use href=\"#gpDot\"/>\n"
      "<g clip-path=\"url(#clip1)\" fill='url(#grad)'><text>id='gpDot' url(#grad)</text></g>\n"
      "<use xlink:href='#unknown'/>\n"
      "<image x='0' y='0' xlink:href='data:image/png;base64,AAAA'/>\n"
      "</svg>\n";
  const std::string out = make_svg_inlinable(svg, "p1-", "My <fig>");
  EXPECT_EQ(out.rfind("<svg", 0), 0u) << out;
  EXPECT_EQ(out.find("<?xml"), std::string::npos);
  EXPECT_EQ(out.find("<!DOCTYPE"), std::string::npos);
  EXPECT_NE(out.find("id='p1-gpDot'"), std::string::npos);
  EXPECT_NE(out.find("id=\"p1-clip1\""), std::string::npos);
  EXPECT_NE(out.find("xlink:href='#p1-gpDot'"), std::string::npos);
  EXPECT_NE(out.find("href=\"#p1-gpDot\""), std::string::npos);
  EXPECT_NE(out.find("clip-path=\"url(#p1-clip1)\""), std::string::npos);
  EXPECT_NE(out.find("fill='url(#p1-grad)'"), std::string::npos);
  // Text content and references to ids that do not exist are left alone.
  EXPECT_NE(out.find("<text>id='gpDot' url(#grad)</text>"), std::string::npos);
  EXPECT_NE(out.find("xlink:href='#unknown'"), std::string::npos);
  // Root: responsive, titled; bitmap: pixelated.
  EXPECT_NE(out.find("class=\"attnlab-svg\""), std::string::npos);
  EXPECT_NE(out.find("viewBox=\"0 0 600 400\""), std::string::npos);
  EXPECT_NE(out.find("max-width:100%"), std::string::npos);
  EXPECT_NE(out.find("<title>My &lt;fig&gt;</title>"), std::string::npos);
  EXPECT_EQ(out.find("Gnuplot"), std::string::npos);
  EXPECT_NE(out.find("image-rendering:pixelated"), std::string::npos);
  for (const auto& id : ids_in(out)) EXPECT_EQ(id.rfind("p1-", 0), 0u) << id;
  EXPECT_EQ(out.substr(out.size() - 6), "</svg>");
}

TEST(MakeSvgInlinable, RepeatedIdsBecomeUnique) {
  // gnuplot repeats <g id="gnuplot_plot_N"> when it redraws an opaque key.
  const std::string out =
      make_svg_inlinable("<svg><g id='a'/><g id='a'/><g id='a-2'/><use href='#a'/></svg>", "z-");
  const auto ids = ids_in(out);
  ASSERT_EQ(ids.size(), 3u) << out;
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u) << out;
  EXPECT_EQ(ids[0], "z-a");
  EXPECT_NE(out.find("href='#z-a'"), std::string::npos) << out;
}

TEST(MakeSvgInlinable, AddsViewBoxWhenMissing) {
  const std::string out = make_svg_inlinable("<svg width='30' height='20'><g/></svg>", "q-");
  EXPECT_NE(out.find("viewBox=\"0 0 30 20\""), std::string::npos) << out;
}

TEST(MakeSvgInlinable, RejectsTextWithoutSvg) {
  EXPECT_THROW(make_svg_inlinable("<html></html>", "x-"), FormatError);
  EXPECT_THROW(make_svg_inlinable("<svg width='3'><g/>", "x-"), FormatError);  // truncated
}

TEST(UniqueIdPrefix, NeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string p = unique_id_prefix();
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(p[0]))) << p;
    EXPECT_TRUE(seen.insert(p).second) << p;
  }
}

TEST(FindGnuplot, MissingExecutableGivesInstallHint) {
  ScopedEnv env("ATTNLAB_GNUPLOT", "/nonexistent");
  EXPECT_FALSE(gnuplot_available());
  GnuplotJob job;
  job.title = "any";
  job.script = "plot x\n";
  try {
    render_gnuplot_svg(job);
    FAIL() << "expected GnuplotNotFoundError";
  } catch (const GnuplotNotFoundError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gnuplot not found: install the Debian package gnuplot-nox "
                       "(scripts/bootstrap.sh does it)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("/nonexistent"), std::string::npos) << msg;
  }
}

TEST(FindGnuplot, NameNotOnPathIsNotFound) {
  ScopedEnv env("ATTNLAB_GNUPLOT", "attnlab-no-such-gnuplot");
  EXPECT_THROW(find_gnuplot(), GnuplotNotFoundError);
}

TEST(RenderGnuplot, ProducesInlinableSvg) {
  REQUIRE_GNUPLOT();
  GnuplotJob job;
  job.title = "squares";
  job.width = 320;
  job.height = 240;
  GnuplotData& d = job.add_data("sq");
  for (int i = 0; i < 5; ++i) d.add_row({double(i), double(i * i)});
  job.script = "set title 'squares & <cubes>'\nplot $sq using 1:2 with linespoints title 'x^2'\n";
  const std::string svg = render_gnuplot_svg(job);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.find("<?xml"), std::string::npos);
  EXPECT_EQ(svg.find("<!DOCTYPE"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("viewBox=\"0 0 320 240\""), std::string::npos);
  EXPECT_NE(svg.find("squares &amp; &lt;cubes"), std::string::npos);  // gnuplot escapes & and <
  EXPECT_NE(svg.find("x^2"), std::string::npos);                      // noenhanced: literal caret
  EXPECT_FALSE(ids_in(svg).empty());
}

TEST(RenderGnuplot, QuotedLabelsAreLiteralNeverCommands) {
  REQUIRE_GNUPLOT();
  const std::string marker = "/tmp/attnlab-report-test-backquote-" + std::to_string(::getpid());
  std::remove(marker.c_str());
  GnuplotJob job;
  job.title = "quoting";
  const std::string label = "a `touch " + marker + "` @foo $0 it's";
  job.script = "foo = 'MACRO'\nset title " + gnuplot_quote(label) + "\nplot x notitle\n";
  const std::string svg = render_gnuplot_svg(job);
  EXPECT_NE(svg.find("a `touch " + marker + "` @foo $0 it's"), std::string::npos);
  EXPECT_EQ(svg.find("MACRO"), std::string::npos);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "backquote command was executed";
  std::remove(marker.c_str());
}

TEST(RenderGnuplot, BrokenScriptQuotesGnuplotMessageAndTitle) {
  REQUIRE_GNUPLOT();
  GnuplotJob job;
  job.title = "deliberately broken";
  job.script = "set notanoption 3\nplot x\n";
  try {
    render_gnuplot_svg(job);
    FAIL() << "expected Error";
  } catch (const GnuplotNotFoundError&) {
    FAIL() << "wrong error type";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("deliberately broken"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nrecognized option"), std::string::npos) << msg;  // gnuplot's own words
    EXPECT_NE(msg.find("notanoption"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("attnlab-gnuplot-"), std::string::npos) << msg;  // no temp paths
  }
}

TEST(RenderGnuplot, TimeoutKillsGnuplot) {
  REQUIRE_GNUPLOT();
  GnuplotJob job;
  job.title = "slow";
  job.script = "pause 20\nplot x\n";
  job.timeout_s = 0.3;
  try {
    render_gnuplot_svg(job);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
}

TEST(RenderGnuplot, ValidatesJob) {
  GnuplotJob job;
  job.script = "plot x\n";
  job.add_data("1bad");
  EXPECT_THROW(render_gnuplot_svg(job), UsageError);
  job.data.clear();
  job.add_data("ok").text = "1 2\nEOD\n3 4\n";
  EXPECT_THROW(render_gnuplot_svg(job), UsageError);
  job.data.clear();
  job.width = 5;
  EXPECT_THROW(render_gnuplot_svg(job), UsageError);
}

}  // namespace
}  // namespace attnlab::report
