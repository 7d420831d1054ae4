#include "attnlab/analysis/tradeoff/tradeoff_run.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/models/tinylm/lm_corpus.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    std::string_view item = s.substr(start, at == s.npos ? s.npos : at - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    out.push_back(item);
    if (at == s.npos) break;
    start = at + 1;
  }
  return out;
}

bool needs_kjv(const TradeoffPlan& p) {
  if (p.streaming) return true;
  for (const auto& t : p.study.tasks)
    if (t.kind == TaskKind::kjv) return true;
  return false;
}

}  // namespace

std::vector<TaskConfig> parse_task_list(std::string_view list, Index context) {
  std::vector<TaskConfig> out;
  for (std::string_view item : split(list, ',')) {
    if (item.empty()) throw UsageError(str_cat("--tasks: empty item in '", list, "'"));
    const std::vector<std::string_view> parts = split(item, ':');
    if (parts.size() > 3)
      throw UsageError(str_cat("--tasks: '", item, "' is not NAME[:T][:untyped]"));
    const TaskKind kind = parse_task_kind(parts[0]);
    Index T = context;
    if (parts.size() >= 2) {
      const auto [ptr, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), T);
      if (ec != std::errc() || ptr != parts[1].data() + parts[1].size()) {
        throw UsageError(
            str_cat("--tasks: context '", parts[1], "' of '", item, "' is not an integer"));
      }
    }
    TaskConfig t = task_preset(kind, T);
    if (parts.size() == 3) {
      if (parts[2] != "untyped" || kind == TaskKind::kjv)
        throw UsageError(str_cat("--tasks: '", item,
                                 "': the third part can only be 'untyped' "
                                 "(recency, retrieval, mqar)"));
      t.typed = false;
    }
    t.validate();
    out.push_back(t);
  }
  return out;
}

std::vector<std::string> split_variant_names(std::string_view list) {
  std::vector<std::string> out;
  for (std::string_view item : split(list, ',')) {
    if (item.empty()) throw UsageError(str_cat("--variants: empty item in '", list, "'"));
    out.emplace_back(item);
  }
  return out;
}

std::vector<std::uint64_t> seed_range(std::uint64_t base, Index count) {
  if (count < 1 || count > 64)
    throw UsageError(str_cat("tradeoff --seeds ", count, " outside [1, 64]"));
  if (base > UINT64_MAX - static_cast<std::uint64_t>(count - 1))
    throw UsageError(str_cat("tradeoff --seed ", base, " + --seeds ", count, " overflows"));
  std::vector<std::uint64_t> s;
  for (Index i = 0; i < count; ++i) s.push_back(base + static_cast<std::uint64_t>(i));
  return s;
}

void TradeoffPlan::validate() const {
  study.validate();
  if (search) search_options.validate();
  if (streaming) streaming_options.validate();
}

Index planned_trainings(const TradeoffPlan& p) {
  Index n = 0;
  for (std::size_t i = 0; i < p.study.tasks.size(); ++i) {
    const TaskConfig& t = p.study.tasks[i];
    Index variants = static_cast<Index>(variants_for(p.study, i).size());
    const bool searched =
        p.search && t.kind != TaskKind::kjv &&
        (p.search_tasks.empty() ||
         std::find(p.search_tasks.begin(), p.search_tasks.end(), t.kind) != p.search_tasks.end());
    if (searched) {
      Index feasible = 0;
      for (const auto& c : search_space(t, p.study.train))
        if (c.flop_fraction <= p.search_options.flop_budget) ++feasible;
      for (Index alive = std::min(p.search_options.candidates, feasible); alive > 0;
           alive = alive == 1 ? 0 : (alive + 1) / 2)
        n += alive;
      variants += 1;
    }
    n += variants * static_cast<Index>(p.study.seeds.size());
  }
  if (p.streaming) n += 5 + static_cast<Index>(p.streaming_options.levers.size());
  return n;
}

TradeoffPlan quick_plan() {
  TradeoffPlan p;
  p.study.tasks = {task_preset(TaskKind::recency, 32), task_preset(TaskKind::retrieval, 32)};
  p.study.variants = {"full", "window-8", "decay-retnet"};
  p.study.seeds = {1, 2, 3};
  p.study.train.steps = 200;
  p.study.train.batch = 16;
  p.study.train.eval_rows = 128;
  return p;
}

TradeoffPlan report_plan() {
  TradeoffPlan p;
  const Index T = 32;
  p.study.tasks = {task_preset(TaskKind::recency, T), task_preset(TaskKind::retrieval, T),
                   task_preset(TaskKind::mqar, T), task_preset(TaskKind::kjv, T)};
  for (const auto& v : report_variants(T, p.study.train.heads)) p.study.variants.push_back(v.name);
  const std::string w = str_cat("window-", T / 4);
  p.study.task_variants = {
      {}, {}, {"full", w, "decay-retnet", "linear"}, {"full", w, "alibi", "linear"}};
  p.study.seeds = {1, 2, 3};
  p.study.train.steps = 250;
  p.study.train.eval_rows = 128;
  p.search = true;
  p.search_options.candidates = 8;
  p.search_tasks = {TaskKind::retrieval};
  p.streaming = true;
  p.streaming_options.train = p.study.train;
  p.streaming_options.train.steps = 300;
  p.streaming_options.context = 64;
  p.streaming_options.tokens = 512;
  p.streaming_options.levers = {"steps x4", "weight decay 0.5"};
  return p;
}

nlohmann::json TradeoffReport::to_json() const {
  nlohmann::json s = nlohmann::json::array();
  for (const auto& x : searches) s.push_back(x.to_json());
  nlohmann::json j = {{"study", study.to_json()}, {"searches", s}, {"seconds", seconds}};
  if (has_streaming) j["streaming"] = streaming.to_json();
  return j;
}

TradeoffReport run_plan(const TradeoffPlan& plan_in,
                        const std::function<void(const std::string&)>& on_line) {
  plan_in.validate();
  Timer timer;
  TradeoffPlan plan = plan_in;
  std::optional<models::tinylm::LmCorpus> corpus;
  if (needs_kjv(plan)) corpus = models::tinylm::load_lm_corpus("kjv", "bytes");
  const models::tinylm::LmDataset* kjv = corpus ? &corpus->dataset : nullptr;
  TradeoffReport rep;
  if (plan.search) {
    plan.study.extra_variants.assign(plan.study.tasks.size(), {});
    for (std::size_t i = 0; i < plan.study.tasks.size(); ++i) {
      const TaskConfig& t = plan.study.tasks[i];
      if (t.kind == TaskKind::kjv) continue;
      if (!plan.search_tasks.empty() &&
          std::find(plan.search_tasks.begin(), plan.search_tasks.end(), t.kind) ==
              plan.search_tasks.end())
        continue;
      SearchOptions so = plan.search_options;
      so.seed = plan.study.seeds.front();
      rep.searches.push_back(search_heuristic(
          t, plan.study.train, so, [&](const std::string& spec, std::int64_t steps) {
            if (on_line)
              on_line(str_cat("search ", t.describe(), ": ", spec, " for ", steps, " steps"));
          }));
      plan.study.extra_variants[i].push_back("searched:" + rep.searches.back().best_spec);
    }
  }
  rep.study = run_tradeoff(plan.study, kjv, [&](Index k, Index total, const TaskRun& r) {
    if (on_line)
      on_line(str_cat("trained ", k, "/", total, ": ", to_string(r.task.kind), " ", r.variant,
                      " seed ", r.seed, " -> ", run_quality(r)));
  });
  if (plan.streaming) {
    SinkStreamingOptions so = plan.streaming_options;
    so.train.seed = plan.study.seeds.front();
    rep.streaming = run_sink_streaming(so, *kjv, on_line);
    rep.has_streaming = true;
  }
  rep.seconds = timer.seconds();
  return rep;
}

}  // namespace attnlab::analysis::tradeoff
