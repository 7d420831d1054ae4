// attnlab/analysis/tradeoff/tradeoff_run.hpp — one `attnlab tradeoff` run: the study, the
// heuristic search and the sink streaming test, planned together (the CLI and the report both
// call run_plan).
//
// Order: (1) with search on, search_heuristic per recall task (validation stream), and its best
// spec joins that task's variants as "searched:<spec>"; (2) run_tradeoff over every task ×
// variant × seed (test stream); (3) with streaming on, run_sink_streaming on KJV models with the
// study's recipe and first seed. The KJV corpus is loaded once when a kjv task or the streaming
// test needs it (models/tinylm/lm_corpus.hpp: Debian bible-kjv; InputError naming the package
// when it is missing).
//
// Budgets (2 cores): quick_plan() — recency and retrieval at T = 32, full / window-8 /
// decay-retnet, 3 seeds, 200 steps of 16 sequences: about 30 s. report_plan() — T = 32, 250
// steps of 32 sequences, 3 seeds: recency and retrieval with report_variants (+ the searched
// spec on retrieval), MQAR with full / window / decay-retnet / linear, KJV with full / window /
// ALiBi / linear, and the streaming test on T = 64 models over 512 characters with two sink
// levers (4× steps, weight decay 0.5): about 3.8 minutes.
//
// Usage:
//   TradeoffPlan p = report_plan();
//   TradeoffReport r = run_plan(p, [](const std::string& line) { log(line); });
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/analysis/tradeoff/heuristic_search.hpp"
#include "attnlab/analysis/tradeoff/sink_streaming_study.hpp"
#include "attnlab/analysis/tradeoff/tradeoff_study.hpp"

namespace attnlab::analysis::tradeoff {

struct TradeoffPlan {
  TradeoffOptions study;
  bool search = false;
  SearchOptions search_options;
  std::vector<TaskKind> search_tasks;  // empty = every recall task of the study
  bool streaming = false;
  SinkStreamingOptions streaming_options;
  void validate() const;  // UsageError naming the field
};

struct TradeoffReport {
  TradeoffResult study;
  std::vector<SearchOutcome> searches;
  bool has_streaming = false;
  SinkStreamingOutcome streaming;
  double seconds = 0;
  nlohmann::json to_json() const;
};

// "recency,retrieval:256,mqar,kjv": tasks at `context` unless NAME:T; NAME:T:untyped turns a
// recall task's values untyped (tasks.hpp). UsageError naming the item.
std::vector<TaskConfig> parse_task_list(std::string_view list, Index context);
// "full, window-16" -> {"full", "window-16"} (checked by parse_variant at validate()).
std::vector<std::string> split_variant_names(std::string_view list);
// base, base + 1, ..., base + count − 1; UsageError for count outside [1, 64] or overflow.
std::vector<std::uint64_t> seed_range(std::uint64_t base, Index count);

// Trainings run_plan will run (search rounds, study runs, streaming and lever models): the
// progress bar's total. run_plan calls on_line exactly once per training.
Index planned_trainings(const TradeoffPlan& plan);

TradeoffPlan quick_plan();
TradeoffPlan report_plan();

TradeoffReport run_plan(const TradeoffPlan& plan,
                        const std::function<void(const std::string&)>& on_line = {});

}  // namespace attnlab::analysis::tradeoff
