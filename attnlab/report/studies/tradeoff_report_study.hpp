// attnlab/report/studies/tradeoff_report_study.hpp — the report's long-context trade-off study.
//
// run_tradeoff_report_study runs analysis/tradeoff's report_plan() (quick: quick_plan()) — the
// study on recency, retrieval, MQAR and KJV with the report variants and 3 seeds, the budgeted
// search on retrieval and the StreamingLLM sink test — and returns TradeoffReport::to_json() plus
// {"quick", "from_cache", "cache_key", "seconds"}. Without the KJV corpus (Debian bible-kjv) the kjv
// task and the streaming test are dropped and "kjv_missing" says why.
// Cache: the result is kept in $ATTNLAB_CACHE_DIR/tradeoff/<key>.json (default .cache/tradeoff),
// key = sha256 of the plan, the thread count and the sources of the trainer and of
// analysis/tradeoff at build time, so a re-run of `make report` reuses the trained numbers
// exactly while that code is unchanged (the trainer's cache rule, models/tinylm/default_lm.hpp).
// Budget on 2 cores: ~3 minutes cold (report_plan), ~30 s quick, < 1 s cached.
//
// Usage:
//   nlohmann::json j = run_tradeoff_report_study(options);   // j["study"]["summaries"], ...
#pragma once

#include <nlohmann/json.hpp>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_tradeoff_report_study(const ReportOptions& options);

}  // namespace attnlab::report
