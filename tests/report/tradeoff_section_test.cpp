// Tests for the trade-off report section: it renders from a run_plan JSON alone (a tiny real
// run plus a hand-made streaming block), deterministically, with findings worded from the data.
#include <gtest/gtest.h>

#include "attnlab/analysis/tradeoff/tradeoff_run.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "attnlab/report/sections/tradeoff_section.hpp"

namespace attnlab::report {
namespace {

namespace tr = analysis::tradeoff;

nlohmann::json tiny_result() {
  tr::TradeoffPlan p;
  p.study.tasks = {tr::task_preset(tr::TaskKind::recency, 32),
                   tr::task_preset(tr::TaskKind::retrieval, 32)};
  p.study.variants = {"full", "window-4"};
  p.study.seeds = {1, 2};
  p.study.train.width = 32;
  p.study.train.heads = 2;
  p.study.train.batch = 8;
  p.study.train.steps = 20;
  p.study.train.eval_rows = 16;
  p.search = true;
  p.search_options.candidates = 2;
  p.search_tasks = {tr::TaskKind::retrieval};
  nlohmann::json j = tr::run_plan(p).to_json();
  // A streaming block as run_sink_streaming writes it (no sink anywhere: Sink₁ = 0).
  j["streaming"] = {
      {"context", 32},
      {"tokens", 256},
      {"train", p.study.train.to_json()},
      {"models", {{{"model", "rope"}, {"val_bits", 3.1}, {"sink1", 0.0}, {"layer_mass", {0.1}}}}},
      {"streams",
       {{{"model", "rope"},
         {"policy", "0+32"},
         {"sinks", 0},
         {"window", 32},
         {"recompute", false},
         {"perplexity", 8.8},
         {"mean_nll", 2.17},
         {"bucket_nll", {2.2, 2.1}},
         {"kv_bytes", 1.0},
         {"seconds", 0.1}},
        {{"model", "rope"},
         {"policy", "4+28"},
         {"sinks", 4},
         {"window", 28},
         {"recompute", false},
         {"perplexity", 8.0},
         {"mean_nll", 2.08},
         {"bucket_nll", {2.1, 2.05}},
         {"kv_bytes", 1.0},
         {"seconds", 0.1}}}},
      {"levers", {{{"lever", "base"}, {"val_bits", 3.1}, {"sink1", 0.0}, {"layer_mass", {0.1}}}}},
      {"seconds", 1.0}};
  return j;
}

TEST(TradeoffSection, RendersFromJsonDeterministicallyWithMeasuredFindings) {
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  const nlohmann::json result = tiny_result();
  begin_figure_page();
  const std::string html = render_tradeoff_section(result);
  begin_figure_page();
  EXPECT_EQ(html, render_tradeoff_section(result));
  EXPECT_NE(html.find("accuracy [95% CI]"), std::string::npos);
  EXPECT_NE(html.find("window-4: "), std::string::npos);  // the findings bullet for the window
  EXPECT_NE(html.find("<svg"), std::string::npos);
  // The search's found spec is named with its validation accuracy.
  const std::string best = result.at("searches")[0].at("best_spec").get<std::string>();
  EXPECT_NE(html.find("Found: &quot;" + best), std::string::npos) << best;
  // Streaming: the measured window-only cost (8.8 / 8.0 − 1 = 10%) and the no-sink wording.
  EXPECT_NE(html.find("No first-token sink forms"), std::string::npos);
  EXPECT_NE(html.find("costs at most 10"), std::string::npos);
  EXPECT_NE(html.find("27.87"), std::string::npos);  // StreamingLLM's 160M anchor row
}

TEST(TradeoffSection, WrongShapeIsAnError) {
  EXPECT_ANY_THROW(render_tradeoff_section(nlohmann::json::object()));
}

}  // namespace
}  // namespace attnlab::report
