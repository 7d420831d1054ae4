#include <gtest/gtest.h>

#include <fstream>

#include <filesystem>

#include "attnlab/report/gnuplot.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {
namespace fs = std::filesystem;

TEST(ReportCli, QuickReportPrintsIndexPath) {
  if (!report::gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  testing::TempDir dir;
  const auto r = testing::run_cli({"report", "--quick", "--out", (dir / "r").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("index.html"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "r/index.html"));
}

TEST(ReportCli, BadArgumentsGiveUsageAndInputErrors) {
  testing::TempDir dir;
  auto r = testing::run_cli({"report", "--only", "nope", "--out", (dir / "r").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = testing::run_cli(
      {"report", "--from", (dir / "missing").string(), "--out", (dir / "r").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("missing"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "r/index.html"));
}

TEST(ReportCli, OutputThatCannotBeWrittenFailsBeforeAnyStudyRuns) {
  testing::TempDir dir;
  { std::ofstream(dir / "file") << "x"; }
  // Every section would take minutes; the check must come first (exit 3, the path named, and
  // no study output anywhere).
  auto r = testing::run_cli({"report", "--out", (dir / "file").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("report: --out"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
  r = testing::run_cli({"report", "--out", (dir / "file" / "sub").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("cannot be created"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "data"));
}

}  // namespace
}  // namespace attnlab
