#include "attnlab/analysis/tradeoff/heuristic_search.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

// Shortest text that reads back as the same double (0.05, not 0.050000000000000003).
std::string rate_text(double r) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, r);
  return std::string(buf, res.ptr);
}

// The spec text of one grid point (empty parts omitted; "full" when nothing is set).
std::string spec_text(Index window, Index sinks, const std::vector<double>& decay, Index topk) {
  std::string s;
  auto add = [&](const std::string& item) { s += (s.empty() ? "" : ",") + item; };
  if (window > 0) add(str_cat("window=", window));
  if (sinks > 0) add(str_cat("sinks=", sinks));
  if (!decay.empty()) {
    std::string d = "decay=";
    for (std::size_t h = 0; h < decay.size(); ++h) d += (h ? ":" : "") + rate_text(decay[h]);
    add(d);
  }
  if (topk > 0) add(str_cat("topk=", topk));
  return s.empty() ? "full" : s;
}

double attention_flops(const TaskConfig& task, const TaskTrainOptions& train,
                       const std::string& spec) {
  const Variant v = parse_variant("searched:" + spec, train.heads);
  const models::gpt2::Gpt2Config c = task_model_config(task, v, train, task.vocab_size());
  return count_costs(c, task.context).attention_flops;
}

}  // namespace

void SearchOptions::validate() const {
  if (!(flop_budget > 0 && flop_budget <= 1))
    throw UsageError(str_cat("tradeoff --budget ", flop_budget, " outside (0, 1]"));
  if (candidates < 1 || candidates > 256)
    throw UsageError(str_cat("tradeoff --search-candidates ", candidates, " outside [1, 256]"));
}

nlohmann::json SearchOutcome::to_json() const {
  nlohmann::json rs = nlohmann::json::array();
  for (const auto& r : rounds) {
    nlohmann::json cs = nlohmann::json::array();
    for (const auto& c : r.candidates)
      cs.push_back(
          {{"spec", c.spec}, {"flop_fraction", c.flop_fraction}, {"validation", c.validation}});
    rs.push_back({{"steps", r.steps}, {"candidates", cs}});
  }
  return {{"task", task.to_json()},
          {"flop_budget", options.flop_budget},
          {"candidates", options.candidates},
          {"seed", options.seed},
          {"feasible", feasible},
          {"rounds", rs},
          {"best_spec", best_spec},
          {"best_validation", best_validation},
          {"best_flop_fraction", best_flop_fraction},
          {"total_steps", total_steps}};
}

std::vector<SearchCandidate> search_space(const TaskConfig& task, const TaskTrainOptions& train) {
  const Index T = task.context;
  std::vector<Index> windows = {0};
  for (Index div : {16, 8, 4, 2})
    if (T / div >= 2) windows.push_back(T / div);
  const std::vector<std::vector<double>> decays = {{}, retnet_rates(train.heads), {0.05}, {0.25}};
  const double full = attention_flops(task, train, "full");
  std::vector<SearchCandidate> out;
  for (Index w : windows)
    for (Index s : {Index{0}, Index{1}, Index{4}}) {
      if (w == 0 && s > 0) continue;
      for (const auto& d : decays)
        for (Index k : {Index{0}, Index{4}, Index{8}}) {
          SearchCandidate c;
          c.spec = spec_text(w, s, d, k);
          c.flop_fraction = attention_flops(task, train, c.spec) / full;
          out.push_back(std::move(c));
        }
    }
  return out;
}

SearchOutcome search_heuristic(
    const TaskConfig& task, const TaskTrainOptions& train, const SearchOptions& o,
    const std::function<void(const std::string&, std::int64_t)>& on_train) {
  o.validate();
  train.validate();
  task.validate();
  if (task.kind == TaskKind::kjv)
    throw UsageError("tradeoff --search: the search ranks by recall accuracy; kjv has none");
  std::vector<SearchCandidate> feasible;
  for (auto& c : search_space(task, train))
    if (c.flop_fraction <= o.flop_budget) feasible.push_back(std::move(c));
  if (feasible.empty()) {
    throw UsageError(str_cat("tradeoff --search: no spec of the grid fits --budget ", o.flop_budget,
                             " (the cheapest needs more attention FLOPs)"));
  }
  SearchOutcome out;
  out.task = task;
  out.options = o;
  out.feasible = static_cast<Index>(feasible.size());
  Rng rng = Rng::stream(o.seed, 0x5ea5c4);
  const std::vector<Index> order = rng.permutation(static_cast<Index>(feasible.size()));
  std::vector<SearchCandidate> alive;
  for (Index i = 0; i < std::min<Index>(o.candidates, out.feasible); ++i)
    alive.push_back(feasible[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
  const Index n0 = static_cast<Index>(alive.size());
  Index rounds = 1;
  while ((Index{1} << (rounds - 1)) < n0) ++rounds;
  for (Index r = 0; r < rounds; ++r) {
    SearchRound round;
    round.steps = std::max<std::int64_t>(1, train.steps >> (rounds - 1 - r));
    TaskTrainOptions t = train;
    t.steps = round.steps;
    t.seed = o.seed;
    t.eval_offset = kValidationOffset;
    for (auto& c : alive) {
      if (on_train) on_train(c.spec, round.steps);
      const TaskRun run = train_on_task(task, parse_variant("searched:" + c.spec, train.heads), t);
      c.validation = run.accuracy;
      out.total_steps += round.steps;
      round.candidates.push_back(c);
    }
    std::stable_sort(alive.begin(), alive.end(), [](const auto& a, const auto& b) {
      if (a.validation != b.validation) return a.validation > b.validation;
      if (a.flop_fraction != b.flop_fraction) return a.flop_fraction < b.flop_fraction;
      return a.spec < b.spec;
    });
    out.rounds.push_back(std::move(round));
    if (r + 1 < rounds) alive.resize(std::max<std::size_t>(1, (alive.size() + 1) / 2));
  }
  out.best_spec = alive.front().spec;
  out.best_validation = alive.front().validation;
  out.best_flop_fraction = alive.front().flop_fraction;
  return out;
}

}  // namespace attnlab::analysis::tradeoff
