#include "attnlab/analysis/tradeoff/tradeoff_study.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

nlohmann::json nan_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

}  // namespace

std::vector<Variant> variants_for(const TradeoffOptions& o, std::size_t task) {
  const TaskConfig& t = o.tasks[task];
  std::vector<Variant> out;
  const std::vector<std::string>& names =
      task < o.task_variants.size() && !o.task_variants[task].empty() ? o.task_variants[task]
                                                                      : o.variants;
  if (names.empty()) {
    out = default_variants(t.context, o.train.heads);
  } else {
    for (const auto& n : names) out.push_back(parse_variant(n, o.train.heads));
  }
  if (task < o.extra_variants.size())
    for (const auto& n : o.extra_variants[task]) out.push_back(parse_variant(n, o.train.heads));
  return out;
}

double t_quantile_975(Index n) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (n < 2) return kNaN;
  const Index df = n - 1;
  return df <= 30 ? table[df - 1] : 1.96;
}

double run_quality(const TaskRun& r) {
  return r.task.kind == TaskKind::kjv ? r.eval_nll / std::log(2.0) : r.accuracy;
}

void TradeoffOptions::validate() const {
  if (tasks.empty()) throw UsageError("tradeoff: no task to run");
  if (seeds.empty() || seeds.size() > 64)
    throw UsageError(str_cat("tradeoff: ", seeds.size(), " seeds outside [1, 64]"));
  for (std::size_t i = 0; i < seeds.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (seeds[i] == seeds[j]) throw UsageError(str_cat("tradeoff: seed ", seeds[i], " twice"));
  train.validate();
  if (extra_variants.size() > tasks.size() || task_variants.size() > tasks.size())
    throw UsageError("tradeoff: more per-task variant lists than tasks");
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const TaskConfig& t = tasks[i];
    t.validate();
    const std::vector<Variant> vs = variants_for(*this, i);
    for (std::size_t a = 0; a < vs.size(); ++a)
      for (std::size_t b = 0; b < a; ++b)
        if (vs[a].name == vs[b].name)
          throw UsageError(
              str_cat("tradeoff: variant '", vs[a].name, "' twice for task ", t.describe()));
    for (const auto& v : vs) {
      // Builds the config: UsageError for a variant the model cannot be trained with.
      (void)task_model_config(t, v, train, t.kind == TaskKind::kjv ? 256 : t.vocab_size());
    }
  }
}

VariantSummary summarize(const std::vector<const TaskRun*>& runs) {
  if (runs.empty()) throw UsageError("summarize: no runs");
  VariantSummary s;
  const TaskRun& first = *runs.front();
  s.task = first.task;
  s.variant = first.variant;
  s.family = first.family;
  s.higher_is_better = first.task.kind != TaskKind::kjv;
  s.costs = first.costs;
  s.bucket_width = first.bucket_width;
  const std::size_t B = first.bucket_quality.size();
  std::vector<double> bsum(B, 0.0);
  std::vector<Index> bn(B, 0);
  double sum = 0;
  for (const TaskRun* r : runs) {
    const double q = run_quality(*r);
    s.per_seed.push_back(q);
    sum += q;
    s.train_seconds += r->train_seconds / static_cast<double>(runs.size());
    s.eval_seconds_per_sequence += r->eval_seconds_per_sequence / static_cast<double>(runs.size());
    for (std::size_t b = 0; b < B && b < r->bucket_quality.size(); ++b) {
      if (std::isfinite(r->bucket_quality[b])) {
        bsum[b] += r->bucket_quality[b];
        bn[b] += 1;
      }
    }
    if (!r->learned_decay.empty()) s.learned_decay.push_back(r->learned_decay);
  }
  const auto n = static_cast<Index>(runs.size());
  s.mean = sum / static_cast<double>(n);
  s.lo = s.hi = s.mean;
  if (n >= 2) {
    double ss = 0;
    for (double q : s.per_seed) ss += (q - s.mean) * (q - s.mean);
    const double half = t_quantile_975(n) * std::sqrt(ss / static_cast<double>(n - 1)) /
                        std::sqrt(static_cast<double>(n));
    s.lo = s.mean - half;
    s.hi = s.mean + half;
    if (s.higher_is_better) {  // accuracy: the interval is clipped to [0, 1]
      s.lo = std::max(0.0, s.lo);
      s.hi = std::min(1.0, s.hi);
    }
  }
  s.bucket_mean.assign(B, kNaN);
  for (std::size_t b = 0; b < B; ++b)
    if (bn[b] > 0) s.bucket_mean[b] = bsum[b] / static_cast<double>(bn[b]);
  return s;
}

void mark_frontier(std::vector<VariantSummary*>& all) {
  for (VariantSummary* a : all) {
    a->on_frontier = true;
    for (const VariantSummary* b : all) {
      if (a == b) continue;
      const double qa = a->higher_is_better ? a->mean : -a->mean;
      const double qb = b->higher_is_better ? b->mean : -b->mean;
      const bool cheaper_or_equal = b->costs.forward_flops <= a->costs.forward_flops;
      const bool better_or_equal = qb >= qa;
      const bool strictly = b->costs.forward_flops < a->costs.forward_flops || qb > qa;
      if (cheaper_or_equal && better_or_equal && strictly) {
        a->on_frontier = false;
        break;
      }
    }
  }
}

nlohmann::json VariantSummary::to_json() const {
  nlohmann::json b = nlohmann::json::array();
  for (double v : bucket_mean) b.push_back(nan_null(v));
  nlohmann::json j = {{"task", task.to_json()},
                      {"variant", variant},
                      {"family", family},
                      {"metric", higher_is_better ? "accuracy" : "bits_per_char"},
                      {"per_seed", per_seed},
                      {"mean", nan_null(mean)},
                      {"ci95", {nan_null(lo), nan_null(hi)}},
                      {"bucket_width", bucket_width},
                      {"bucket_mean", b},
                      {"costs", costs.to_json()},
                      {"train_seconds", train_seconds},
                      {"eval_seconds_per_sequence", eval_seconds_per_sequence},
                      {"on_frontier", on_frontier}};
  if (!learned_decay.empty()) j["learned_decay"] = learned_decay;
  return j;
}

nlohmann::json TradeoffResult::to_json() const {
  nlohmann::json tasks = nlohmann::json::array(), runs_j = nlohmann::json::array(),
                 sums = nlohmann::json::array();
  for (const auto& t : options.tasks) tasks.push_back(t.to_json());
  for (const auto& r : runs) runs_j.push_back(r.to_json());
  for (const auto& s : summaries) sums.push_back(s.to_json());
  return {{"tasks", tasks},         {"variants", options.variants},
          {"seeds", options.seeds}, {"train", options.train.to_json()},
          {"summaries", sums},      {"runs", runs_j},
          {"seconds", seconds}};
}

TradeoffResult run_tradeoff(const TradeoffOptions& o, const models::tinylm::LmDataset* kjv,
                            const std::function<void(Index, Index, const TaskRun&)>& on_run) {
  o.validate();
  Timer timer;
  TradeoffResult res;
  res.options = o;
  Index total = 0;
  for (std::size_t i = 0; i < o.tasks.size(); ++i)
    total += static_cast<Index>(variants_for(o, i).size() * o.seeds.size());
  Index k = 0;
  for (std::size_t ti = 0; ti < o.tasks.size(); ++ti) {
    const TaskConfig& t = o.tasks[ti];
    const std::vector<Variant> vs = variants_for(o, ti);
    const std::size_t first = res.summaries.size();
    for (const auto& v : vs) {
      std::vector<std::size_t> idx;
      for (std::uint64_t seed : o.seeds) {
        TaskTrainOptions to = o.train;
        to.seed = seed;
        TaskRun r = train_on_task(t, v, to, kjv);
        r.weights = {};  // the study keeps numbers, not models
        idx.push_back(res.runs.size());
        res.runs.push_back(std::move(r));
        ++k;
        if (on_run) on_run(k, total, res.runs.back());
      }
      std::vector<const TaskRun*> mine;
      for (std::size_t i : idx) mine.push_back(&res.runs[i]);
      res.summaries.push_back(summarize(mine));
    }
    std::vector<VariantSummary*> group;
    for (std::size_t i = first; i < res.summaries.size(); ++i) group.push_back(&res.summaries[i]);
    mark_frontier(group);
  }
  res.seconds = timer.seconds();
  return res;
}

}  // namespace attnlab::analysis::tradeoff
