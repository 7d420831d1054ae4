// attnlab/analysis/tradeoff/tradeoff_outputs.hpp — the files `attnlab tradeoff --out-dir DIR`
// writes, all through one OutputSet (written together, atomically):
//   summaries.csv       task, variant, family, metric, mean, ci_lo, ci_hi, seeds, forward/training
//                       FLOPs per sequence, attention pairs, KV bytes, prunable pairs, train s,
//                       on_frontier
//   runs.csv            one row per task × variant × seed (quality, NLL, costs, seconds)
//   <task>_by_distance.npy   float64 [variants, buckets]: accuracy per key–query distance bucket
//                       (kjv: NLL per position bucket), rows in summaries order for that task
//   search_<task>.csv   every search round's candidates (when searched)
//   streaming.csv       model, policy, sinks, window, perplexity, KV bytes (when run)
// (check_output_directory, core/atomic_file.hpp, fails before any work when DIR cannot be used.)
//
// Usage:
//   check_output_directory(dir, "tradeoff: --out-dir");
//   OutputSet outs;  add_tradeoff_files(report, dir, outs);  outs.commit();
#pragma once

#include <filesystem>
#include <string_view>

#include "attnlab/analysis/tradeoff/tradeoff_run.hpp"
#include "attnlab/core/atomic_file.hpp"

namespace attnlab::analysis::tradeoff {

void add_tradeoff_files(const TradeoffReport& report, const std::filesystem::path& dir,
                        OutputSet& outs);

}  // namespace attnlab::analysis::tradeoff
