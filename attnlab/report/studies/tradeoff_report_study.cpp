#include "attnlab/report/studies/tradeoff_report_study.hpp"

#include <cstdlib>
#include <filesystem>

#include "attnlab/analysis/tradeoff/tradeoff_run.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/sha256.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/models/tinylm/lm_corpus.hpp"
#include "attnlab/report/report_builder.hpp"

namespace attnlab::report {
namespace {

namespace fs = std::filesystem;
using namespace analysis::tradeoff;

constexpr const char* kSourceRevision =
#include "tradeoff_source_hash.inc"
    ;

nlohmann::json plan_json(const TradeoffPlan& p) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : p.study.tasks) tasks.push_back(t.to_json());
  nlohmann::json j = {{"tasks", tasks},         {"variants", p.study.variants},
                      {"seeds", p.study.seeds}, {"train", p.study.train.to_json()},
                      {"search", p.search},     {"streaming", p.streaming}};
  if (p.search)
    j["search_options"] = {{"flop_budget", p.search_options.flop_budget},
                           {"candidates", p.search_options.candidates}};
  if (p.streaming)
    j["streaming_options"] = {{"context", p.streaming_options.context},
                              {"tokens", p.streaming_options.tokens},
                              {"sinks", p.streaming_options.sinks},
                              {"levers", p.streaming_options.levers},
                              {"train", p.streaming_options.train.to_json()}};
  return j;
}

fs::path cache_root() {
  const char* root = std::getenv("ATTNLAB_CACHE_DIR");
  const fs::path base = root && *root ? fs::path(root) : fs::path(".cache");
  return base / "tradeoff";
}

}  // namespace

nlohmann::json run_tradeoff_report_study(const ReportOptions& options) {
  Timer timer;
  TradeoffPlan plan = options.quick ? quick_plan() : report_plan();
  std::string kjv_missing;
  try {
    (void)models::tinylm::load_lm_corpus("kjv", "bytes");
  } catch (const InputError& e) {
    kjv_missing = e.what();
  }
  if (!kjv_missing.empty()) {
    plan.streaming = false;
    std::erase_if(plan.study.tasks, [](const TaskConfig& t) { return t.kind == TaskKind::kjv; });
  }
  const nlohmann::json key_json = {
      {"plan", plan_json(plan)}, {"threads", num_threads()}, {"source", kSourceRevision}};
  const std::string key = sha256_hex(key_json.dump()).substr(0, 24);
  const fs::path file = cache_root() / (key + ".json");
  nlohmann::json result;
  bool from_cache = false;
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) {
    try {
      result = nlohmann::json::parse(read_file(file, "trade-off cache"));
      from_cache = result.is_object() && result.contains("study");
    } catch (const std::exception&) {
      from_cache = false;  // a damaged entry is recomputed and replaced
    }
  }
  if (!from_cache) {
    result = run_plan(plan).to_json();
    fs::create_directories(file.parent_path(), ec);
    if (!ec) {
      OutputSet outs;
      outs.add(file, result.dump() + "\n");
      try {
        outs.commit();
      } catch (const Error&) {
        // An unwritable cache only costs the next run its time.
      }
    }
  }
  result["quick"] = options.quick;
  result["from_cache"] = from_cache;
  result["cache_key"] = key;
  if (!kjv_missing.empty()) result["kjv_missing"] = kjv_missing;
  result["study_seconds"] = timer.seconds();
  return result;
}

}  // namespace attnlab::report
