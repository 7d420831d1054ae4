#include "attnlab/report/report_builder.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::report {
namespace {
namespace fs = std::filesystem;

std::string without_timestamps(std::string html) {
  return std::regex_replace(html, std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), "T");
}

TEST(ReportBuilder, WritesPageAndDataAndReRendersFromData) {
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  testing::TempDir dir;
  ReportOptions o;
  o.out_dir = dir / "rep";
  o.quick = true;
  const ReportSummary s = build_report(o);
  ASSERT_TRUE(fs::exists(s.index_html));
  const std::string html = read_file(s.index_html);
  EXPECT_NE(html.find("id=\"variants\""), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  const auto env = nlohmann::json::parse(read_file(dir / "rep/data/variants.json"));
  EXPECT_EQ(env["kind"], "variants");
  EXPECT_EQ(env["quick"], true);

  ReportOptions again;
  again.out_dir = dir / "rerender";
  again.from_dir = dir / "rep";
  build_report(again);
  EXPECT_EQ(without_timestamps(read_file(dir / "rerender/index.html")), without_timestamps(html));
  EXPECT_FALSE(fs::exists(dir / "rerender/data/variants.json"));  // nothing recomputed
}

TEST(ReportBuilder, MissingOrBrokenDataIsAnInputErrorAndWritesNothing) {
  testing::TempDir dir;
  ReportOptions o;
  o.out_dir = dir / "out";
  o.from_dir = dir / "nothing-here";
  EXPECT_THROW(build_report(o), InputError);
  EXPECT_FALSE(fs::exists(dir / "out/index.html"));
  fs::create_directories(dir / "bad/data");
  write_file_atomic(dir / "bad/data/variants.json", "{\"schema\": \"attnlab.result\"");
  o.from_dir = dir / "bad";
  EXPECT_THROW(build_report(o), FormatError);
  write_file_atomic(
      dir / "bad/data/variants.json",
      R"({"schema": "attnlab.result", "schema_version": 1, "kind": "ntk", "result": {}})");
  EXPECT_THROW(build_report(o), FormatError);
  EXPECT_FALSE(fs::exists(dir / "out/index.html"));
}

TEST(ReportBuilder, UnknownSectionIsUsageError) {
  ReportOptions o;
  o.only = {"no-such-section"};
  EXPECT_THROW(build_report(o), UsageError);
}

}  // namespace
}  // namespace attnlab::report
