#include "attnlab/analysis/tradeoff/tradeoff_outputs.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

namespace fs = std::filesystem;

std::string num(double v) {
  if (!std::isfinite(v)) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string summaries_csv(const TradeoffResult& r) {
  std::string s =
      "task,context,variant,family,metric,mean,ci_lo,ci_hi,seeds,forward_flops,training_flops,"
      "attention_pairs,kv_bytes,prunable_pairs,train_seconds,on_frontier\n";
  for (const auto& v : r.summaries) {
    s += str_cat(to_string(v.task.kind), ",", v.task.context, ",", v.variant, ",", v.family, ",",
                 v.higher_is_better ? "accuracy" : "bits_per_char", ",", num(v.mean), ",",
                 num(v.lo), ",", num(v.hi), ",", v.per_seed.size(), ",", num(v.costs.forward_flops),
                 ",", num(v.costs.training_flops), ",", num(v.costs.attention_pairs), ",",
                 num(v.costs.kv_bytes), ",", num(v.costs.prunable_pairs), ",", num(v.train_seconds),
                 ",", v.on_frontier ? 1 : 0, "\n");
  }
  return s;
}

std::string runs_csv(const TradeoffResult& r) {
  std::string s = "task,context,variant,seed,quality,eval_nll,scored,train_seconds\n";
  for (const auto& x : r.runs)
    s += str_cat(to_string(x.task.kind), ",", x.task.context, ",", x.variant, ",", x.seed, ",",
                 num(run_quality(x)), ",", num(x.eval_nll), ",", x.scored, ",",
                 num(x.train_seconds), "\n");
  return s;
}

}  // namespace

void add_tradeoff_files(const TradeoffReport& rep, const fs::path& dir, OutputSet& outs) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(str_cat("tradeoff: cannot create '", dir.string(), "': ", ec.message()));
  outs.add(dir / "summaries.csv", summaries_csv(rep.study));
  outs.add(dir / "runs.csv", runs_csv(rep.study));
  for (std::size_t ti = 0; ti < rep.study.options.tasks.size(); ++ti) {
    const TaskConfig& t = rep.study.options.tasks[ti];
    std::vector<const VariantSummary*> rows;
    for (const auto& s : rep.study.summaries)
      if (s.task.kind == t.kind && s.task.context == t.context) rows.push_back(&s);
    if (rows.empty()) continue;
    const Index B = static_cast<Index>(rows.front()->bucket_mean.size());
    std::vector<double> data;
    for (const auto* s : rows)
      data.insert(data.end(), s->bucket_mean.begin(), s->bucket_mean.end());
    const Index shape[] = {static_cast<Index>(rows.size()), B};
    outs.add(dir / str_cat(to_string(t.kind), "_", t.context, "_by_distance.npy"),
             io::encode_npy(data.data(), shape));
  }
  for (const auto& s : rep.searches) {
    std::string csv = "round,steps,spec,flop_fraction,validation\n";
    for (std::size_t r = 0; r < s.rounds.size(); ++r)
      for (const auto& c : s.rounds[r].candidates)
        csv += str_cat(r, ",", s.rounds[r].steps, ",\"", c.spec, "\",", num(c.flop_fraction), ",",
                       num(c.validation), "\n");
    outs.add(dir / str_cat("search_", to_string(s.task.kind), "_", s.task.context, ".csv"), csv);
  }
  if (rep.has_streaming) {
    std::string csv = "model,policy,sinks,window,recompute,perplexity,kv_bytes\n";
    for (const auto& r : rep.streaming.streams)
      csv += str_cat(r.model, ",", r.policy, ",", r.sinks, ",", r.window, ",", r.recompute ? 1 : 0,
                     ",", num(r.perplexity), ",", num(r.kv_bytes), "\n");
    outs.add(dir / "streaming.csv", csv);
  }
}

}  // namespace attnlab::analysis::tradeoff
