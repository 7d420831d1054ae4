// attnlab tradeoff — what long-context heuristics cost (analysis/tradeoff, SCIENCE.md §6).
//
//   attnlab tradeoff [--tasks recency,retrieval,mqar,kjv] [--context T] [--variants LIST]
//                    [--seeds N] [--steps N] [--search] [--budget F] [--streaming] [--quick]
//                    [--out-dir DIR] [--json FILE]
//
// Trains a tiny GPT per task × variant × seed with the same steps and seeds, prints the table
// (quality with 95% seed intervals, FLOPs, KV bytes, wall time, frontier marks) and writes the
// result envelope (--json) and CSV/NPY files (--out-dir). A task item NAME:T sets its context.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/attnlab/command.hpp"
#include "attnlab/analysis/tradeoff/tradeoff_outputs.hpp"
#include "attnlab/analysis/tradeoff/tradeoff_run.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"

namespace attnlab::cli {
namespace {

namespace fs = std::filesystem;
using namespace analysis::tradeoff;

struct TradeoffCliOptions {
  CommonOptions common;
  TradeoffPlan plan;
  std::string tasks = "recency,retrieval,mqar,kjv", variants;
  Index context = 64, seeds = 3, stream_tokens = 0;
  bool quick = false, levers = false;
  std::string out_dir;
};

void print_table(const TradeoffReport& r) {
  std::printf("%-12s %-20s %-22s %12s %10s %9s %7s\n", "task", "variant", "quality [95% CI]",
              "fwd MFLOP/seq", "KV KiB", "train s", "front");
  for (const VariantSummary& s : r.study.summaries) {
    char q[64];
    std::snprintf(q, sizeof q, "%.3f [%.3f, %.3f]", s.mean, s.lo, s.hi);
    std::printf("%-12s %-20s %-22s %12.2f %10.1f %9.2f %7s\n",
                std::string(to_string(s.task.kind)).c_str(), s.variant.c_str(), q,
                s.costs.forward_flops / 1e6, s.costs.kv_bytes / 1024.0, s.train_seconds,
                s.on_frontier ? "*" : "");
  }
  for (const SearchOutcome& s : r.searches) {
    std::printf("search %s: best %s (validation %.3f, %.0f%% of full attention's FLOPs)\n",
                std::string(to_string(s.task.kind)).c_str(), s.best_spec.c_str(), s.best_validation,
                100.0 * s.best_flop_fraction);
  }
  if (r.has_streaming) {
    for (const SinkModelRow& m : r.streaming.models)
      std::printf("streaming model %-20s val %.3f bits/char  Sink1 %.3f\n", m.model.c_str(),
                  m.val_bits, m.sink1);
    for (const StreamingRow& row : r.streaming.streams)
      std::printf("streaming %-20s %-14s ppl %.3f\n", row.model.c_str(), row.policy.c_str(),
                  row.perplexity);
    for (const LeverRow& l : r.streaming.levers)
      std::printf("sink lever %-18s Sink1 %.3f  val %.3f bits/char\n", l.lever.c_str(), l.sink1,
                  l.val_bits);
  }
}

void run_tradeoff_cmd(TradeoffCliOptions& o) {
  RunInfo info = begin_run("tradeoff", o.common);
  Timings timings;
  TradeoffPlan plan = o.quick ? quick_plan() : o.plan;
  if (!o.quick) {
    plan.study.tasks = parse_task_list(o.tasks, o.context);
    if (!o.variants.empty()) plan.study.variants = split_variant_names(o.variants);
    plan.study.seeds = seed_range(o.common.seed, o.seeds);
    plan.streaming_options.train = plan.study.train;
    plan.streaming_options.context = o.context;
    plan.streaming_options.tokens = o.stream_tokens > 0 ? o.stream_tokens : 8 * o.context;
    if (o.levers) plan.streaming_options.levers = SinkStreamingOptions::all_levers();
  }
  plan.validate();
  const fs::path out_dir(o.out_dir);
  if (!o.out_dir.empty()) check_output_directory(out_dir, "tradeoff: --out-dir");
  if (!o.common.json_path.empty()) {
    // The JSON's folder must exist and be writable before hours of training.
    const fs::path parent = fs::absolute(fs::path(o.common.json_path)).parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec))
      throw InputError(str_cat("tradeoff: --json '", o.common.json_path, "': the directory '",
                               parent.string(), "' does not exist"));
    check_output_directory(parent, "tradeoff: --json directory");
  }
  const bool tty = Progress::terminal_attached();
  Progress bar("tradeoff", planned_trainings(plan), Progress::NonTerminal::silent);
  TradeoffReport r;
  {
    auto s = timings.scope("study");
    r = run_plan(plan, [tty, &bar](const std::string& line) {
      if (!tty) std::fprintf(stderr, "tradeoff: %s\n", line.c_str());
      bar.set_note(line.size() > 60 ? line.substr(0, 60) : line);
      bar.advance();
    });
  }
  bar.finish();
  OutputSet outs;
  if (!o.out_dir.empty()) add_tradeoff_files(r, out_dir, outs);
  if (!o.common.json_path.empty())
    outs.add(o.common.json_path, dump_json(make_result_envelope(info, timings, r.to_json())));
  outs.commit();
  print_table(r);
}

void register_tradeoff(CLI::App& app) {
  auto opts = std::make_shared<TradeoffCliOptions>();
  TradeoffPlan& p = opts->plan;
  auto* cmd = app.add_subcommand(
      "tradeoff",
      "What long-context heuristics cost: trains tiny GPTs with each attention variant on\n"
      "recency, dense retrieval, MQAR and KJV language modelling (same steps, same seeds);\n"
      "quality with seed intervals, counted FLOPs, KV bytes, wall time, the frontier, a\n"
      "budgeted heuristic search and the StreamingLLM sink test.");
  cmd->add_option("--tasks", opts->tasks,
                  "Comma-separated tasks: recency, retrieval, mqar, kjv; NAME:T sets a context");
  cmd->add_option("--context", opts->context, "Context T of tasks without :T")
      ->check(positive_number());
  cmd->add_option("--variants", opts->variants,
                  "Comma-separated variants (default: the study's 12): full, window-W, "
                  "sinks-S-window-W, decay-retnet, decay-R, alibi, topk-K, linear, sparsemax, "
                  "learned-decay, learnable-sink");
  cmd->add_option("--seeds", opts->seeds, "Seeds per variant (--seed, --seed + 1, ...)")
      ->check(positive_number());
  cmd->add_option("--steps", p.study.train.steps, "Training steps of every model")
      ->check(positive_number());
  cmd->add_option("--batch", p.study.train.batch, "Sequences per step")->check(positive_number());
  cmd->add_option("--layers", p.study.train.layers, "Transformer blocks")->check(positive_number());
  cmd->add_option("--width", p.study.train.width, "Model width C")->check(positive_number());
  cmd->add_option("--heads", p.study.train.heads, "Attention heads")->check(positive_number());
  cmd->add_option("--lr", p.study.train.lr, "Peak learning rate")->check(positive_number());
  cmd->add_option("--eval-rows", p.study.train.eval_rows, "Held-out sequences per evaluation")
      ->check(positive_number());
  cmd->add_flag("--search", p.search, "Run the budgeted heuristic search per recall task");
  cmd->add_option("--budget", p.search_options.flop_budget,
                  "Search: largest forward FLOPs allowed, as a fraction of full attention's")
      ->check(positive_number());
  cmd->add_option("--search-candidates", p.search_options.candidates,
                  "Search: specs sampled for the first round")
      ->check(positive_number());
  cmd->add_flag("--streaming", p.streaming, "Run the StreamingLLM sink test on KJV models");
  cmd->add_flag("--levers", opts->levers,
                "Streaming: retrain with 4x steps, wd 0.5, 3x lr, 2x context and measure Sink1");
  cmd->add_option("--stream-tokens", opts->stream_tokens,
                  "Streaming: validation tokens decoded per model (default 8 x --context)")
      ->check(positive_number());
  cmd->add_flag("--quick", opts->quick,
                "The report's quick budget (two tasks, three variants, ~30 s on 2 cores)");
  cmd->add_option("--out-dir", opts->out_dir,
                  "Also write summaries.csv, runs.csv and per-task NPY curves here");
  add_common_options(cmd, opts->common);
  cmd->callback([opts]() { run_tradeoff_cmd(*opts); });
}

const CommandRegistrar registrar(75, register_tradeoff);

}  // namespace
}  // namespace attnlab::cli
