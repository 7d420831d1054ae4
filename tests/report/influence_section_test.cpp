// Tests for the influence report section: it renders from a study's JSON alone (tiny synthetic
// run), deterministically, names the paper's anchors and the measured ratios, and rejects JSON
// without tasks.
#include <gtest/gtest.h>

#include "attnlab/analysis/influence/malleability.hpp"
#include "attnlab/analysis/influence/poisoning.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "attnlab/report/sections/influence_section.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::report {
namespace {

namespace inf = analysis::influence;

TEST(InfluenceSection, RendersFromJsonDeterministically) {
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  testing::TempDir dir;
  MatrixD x(60, 12);
  Rng rng(7);
  rng.fill_uniform(x.data(), x.size(), 0.0, 1.0);
  std::vector<std::int64_t> y(60);
  for (Index i = 0; i < 60; ++i) {
    y[static_cast<std::size_t>(i)] = i % 2;
    x(i, i % 2) = 1.0;
  }
  io::save_npy(dir / "x.npy", x);
  const std::vector<Index> shape = {60};
  io::save_npy(dir / "y.npy", y.data(), shape);
  io::DataOptions base;
  base.x_path = dir / "x.npy";
  base.y_path = dir / "y.npy";
  inf::MalleabilityOptions mo;
  mo.seeds = 2;
  mo.width = 16;
  mo.epochs_a = 2;
  mo.steps_b = 10;
  mo.epsilons = {0.1, 0.3};
  mo.m3_points = 1;
  inf::PoisonOptions po;
  po.seeds = 2;
  po.epsilons = {0.1};
  po.steps = 2;
  po.width = 16;
  po.steps_b = 10;
  const nlohmann::json result = {
      {"budget", "quick"},
      {"tasks",
       {{{"id", "binary"},
         {"label", "binary test"},
         {"malleability", inf::to_json(inf::run_malleability(base, 30, 6, mo))},
         {"poison", inf::to_json(inf::run_poisoning(base, 24, 9, 12, po))}}}}};
  begin_figure_page();  // figure ids restart per page, as in build_report
  const std::string html = render_influence_section(result);
  EXPECT_NE(html.find("attn / ReLU"), std::string::npos);
  EXPECT_NE(html.find("3–5×"), std::string::npos);  // the paper's binary anchor
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("flip-rate intervals reach"), std::string::npos);
  begin_figure_page();
  EXPECT_EQ(html, render_influence_section(result));
}

TEST(InfluenceSection, MissingTasksIsAFormatError) {
  EXPECT_THROW(render_influence_section(nlohmann::json::object()), FormatError);
  EXPECT_THROW(render_influence_section(nlohmann::json{{"tasks", {{{"label", "x"}}}}}),
               FormatError);
}

}  // namespace
}  // namespace attnlab::report
