// Progress on a non-terminal: periodic lines (first after the interval, a last one at finish
// when any was printed), nothing for short runs or when off, the bar's carriage returns on a
// terminal, and the ATTNLAB_PROGRESS_SECONDS parsing.
#include "attnlab/core/progress.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace attnlab {
namespace {

// Everything written to a temporary FILE*.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[512];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(Progress, LinesModeWithZeroIntervalPrintsEveryAdvanceAndAFinalLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Progress p("ntk sweep", 4, Progress::Mode::lines, 0.0, f);
    p.set_note("loss 1.25");
    for (int i = 0; i < 4; ++i) p.advance();
    p.finish();
    p.finish();  // idempotent
  }
  const std::string s = contents(f);
  std::fclose(f);
  EXPECT_EQ(count_lines(s), 5) << s;  // 4 advances + the final line
  EXPECT_NE(s.find("ntk sweep: 1/4 (25.0%)"), std::string::npos) << s;
  EXPECT_NE(s.find("ntk sweep: 4/4 (100.0%)"), std::string::npos) << s;
  EXPECT_NE(s.find("s elapsed, ~"), std::string::npos) << s;
  EXPECT_NE(s.find("  loss 1.25\n"), std::string::npos) << s;
  EXPECT_EQ(s.find('\r'), std::string::npos) << "no bar redraws in a log";
}

TEST(Progress, ShortRunsInLinesModeStaySilent) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Progress p("spectrum", 100, Progress::Mode::lines, 3600.0, f);
    for (int i = 0; i < 100; ++i) p.advance();
  }  // the destructor finishes
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

TEST(Progress, OffPrintsNothingAndBarRedrawsInPlace) {
  std::FILE* off = std::tmpfile();
  std::FILE* bar = std::tmpfile();
  ASSERT_NE(off, nullptr);
  ASSERT_NE(bar, nullptr);
  {
    Progress p("x", 3, Progress::Mode::off, 0.0, off);
    EXPECT_FALSE(p.enabled());
    p.advance(3);
    Progress b("train", 3, Progress::Mode::bar, 0.0, bar);
    EXPECT_TRUE(b.enabled());
    b.advance(3);  // done == total always draws
  }
  EXPECT_EQ(contents(off), "");
  const std::string s = contents(bar);
  EXPECT_NE(s.find("\rtrain ["), std::string::npos) << s;
  EXPECT_NE(s.find("100.0%"), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
  std::fclose(off);
  std::fclose(bar);
}

TEST(Progress, IntervalComesFromTheEnvironmentWhenValid) {
  ::setenv("ATTNLAB_PROGRESS_SECONDS", "2.5", 1);
  EXPECT_DOUBLE_EQ(Progress::line_interval_seconds(), 2.5);
  ::setenv("ATTNLAB_PROGRESS_SECONDS", "0", 1);
  EXPECT_DOUBLE_EQ(Progress::line_interval_seconds(), 0.0);
  for (const char* bad : {"-1", "soon", "1e999", "3s", ""}) {
    ::setenv("ATTNLAB_PROGRESS_SECONDS", bad, 1);
    EXPECT_DOUBLE_EQ(Progress::line_interval_seconds(), 10.0) << bad;
  }
  ::unsetenv("ATTNLAB_PROGRESS_SECONDS");
  EXPECT_DOUBLE_EQ(Progress::line_interval_seconds(), 10.0);
}

TEST(Progress, NoProgressEnvironmentTurnsEveryModeOff) {
  ::setenv("ATTNLAB_NO_PROGRESS", "1", 1);
  EXPECT_EQ(Progress::default_mode(Progress::NonTerminal::lines), Progress::Mode::off);
  ::unsetenv("ATTNLAB_NO_PROGRESS");
  // Under ctest stderr is a file or pipe, not a terminal.
  if (!Progress::terminal_attached()) {
    EXPECT_EQ(Progress::default_mode(Progress::NonTerminal::lines), Progress::Mode::lines);
    EXPECT_EQ(Progress::default_mode(Progress::NonTerminal::silent), Progress::Mode::off);
  }
}

}  // namespace
}  // namespace attnlab
