#include "attnlab/analysis/tradeoff/sink_streaming_study.hpp"

#include <algorithm>
#include <cmath>

#include "attnlab/analysis/tradeoff/streaming.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/tinylm/sink_metrics.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

using models::gpt2::PositionMode;

struct ModelRecipe {
  std::string name;
  PositionMode positions;
  bool learnable_sink = false;
};

struct TrainedLm {
  models::gpt2::Gpt2Weights weights;
  double val_bits = 0;
};

TrainedLm train_kjv(const TaskTrainOptions& t, Index context, const ModelRecipe& m,
                    const models::tinylm::LmDataset& kjv) {
  TaskConfig task;
  task.kind = TaskKind::kjv;
  task.context = context;
  Variant v;
  v.name = m.name;
  v.family = "streaming";
  v.positions = m.positions;
  v.attention.learnable_sink = m.learnable_sink;
  TaskRun r = train_on_task(task, v, t, &kjv);
  return {std::move(r.weights), r.eval_nll / std::log(2.0)};
}

models::tinylm::SinkMetrics sinks_of(const models::gpt2::Gpt2Model& model,
                                     const models::tinylm::LmDataset& kjv) {
  models::tinylm::SinkOptions so;
  so.seq = std::min<Index>(64, model.config().n_positions);
  return models::tinylm::measure_sinks(model, kjv.val, so);
}

}  // namespace

std::vector<std::string> SinkStreamingOptions::all_levers() {
  return {"steps x4", "weight decay 0.5", "lr x3", "context x2"};
}

void SinkStreamingOptions::validate() const {
  train.validate();
  const auto all = all_levers();
  for (const auto& l : levers)
    if (std::find(all.begin(), all.end(), l) == all.end())
      throw UsageError(str_cat("tradeoff streaming: unknown lever '", l, "'"));
  if (2 * context > 4096 && std::find(levers.begin(), levers.end(), "context x2") != levers.end())
    throw UsageError("tradeoff streaming: the context x2 lever needs context <= 2048");
  if (context < 8 || context > 4096)
    throw UsageError(str_cat("tradeoff streaming: context ", context, " outside [8, 4096]"));
  if (tokens < 2 || tokens > 1'000'000)
    throw UsageError(str_cat("tradeoff --stream-tokens ", tokens, " outside [2, 10^6]"));
  for (Index s : sinks)
    if (s < 0 || s >= context)
      throw UsageError(
          str_cat("tradeoff streaming: sinks ", s, " outside [0, context = ", context, ")"));
}

nlohmann::json SinkStreamingOutcome::to_json() const {
  nlohmann::json ms = nlohmann::json::array(), ss = nlohmann::json::array(),
                 ls = nlohmann::json::array();
  for (const auto& m : models) {
    nlohmann::json j = {{"model", m.model},
                        {"val_bits", m.val_bits},
                        {"sink1", m.sink1},
                        {"layer_mass", m.layer_mass}};
    if (m.slot_sink >= 0) j["slot_sink"] = m.slot_sink;
    ms.push_back(j);
  }
  for (const auto& s : streams)
    ss.push_back({{"model", s.model},
                  {"policy", s.policy},
                  {"sinks", s.sinks},
                  {"window", s.window},
                  {"recompute", s.recompute},
                  {"perplexity", s.perplexity},
                  {"mean_nll", s.mean_nll},
                  {"bucket_nll", s.bucket_nll},
                  {"kv_bytes", s.kv_bytes},
                  {"seconds", s.seconds}});
  for (const auto& l : levers)
    ls.push_back({{"lever", l.lever},
                  {"val_bits", l.val_bits},
                  {"sink1", l.sink1},
                  {"layer_mass", l.layer_mass}});
  return {{"context", options.context},
          {"tokens", options.tokens},
          {"train", options.train.to_json()},
          {"models", ms},
          {"streams", ss},
          {"levers", ls},
          {"seconds", seconds}};
}

SinkStreamingOutcome run_sink_streaming(const SinkStreamingOptions& o,
                                        const models::tinylm::LmDataset& kjv,
                                        const std::function<void(const std::string&)>& on_line) {
  o.validate();
  if (static_cast<Index>(kjv.val.size()) < std::max(o.tokens, Index{64})) {
    throw UsageError(str_cat("tradeoff streaming: the validation split has ", kjv.val.size(),
                             " tokens, fewer than --stream-tokens ", o.tokens));
  }
  Timer timer;
  SinkStreamingOutcome out;
  out.options = o;
  const std::span<const std::int32_t> stream(kjv.val.data(), static_cast<std::size_t>(o.tokens));
  const ModelRecipe recipes[] = {{"rope", PositionMode::rope},
                                 {"alibi", PositionMode::alibi},
                                 {"none", PositionMode::none},
                                 {"rope+learnable-sink", PositionMode::rope, true},
                                 {"learned", PositionMode::learned}};
  for (const ModelRecipe& m : recipes) {
    if (on_line) on_line(str_cat("streaming: training the ", m.name, " model"));
    TrainedLm lm = train_kjv(o.train, o.context, m, kjv);
    const models::gpt2::Gpt2Model model(std::move(lm.weights));
    const models::tinylm::SinkMetrics sm = sinks_of(model, kjv);
    SinkModelRow row;
    row.model = m.name;
    row.val_bits = lm.val_bits;
    row.sink1 = sm.sink1;
    row.layer_mass = sm.layer_mass;
    if (sm.has_slot) row.slot_sink = sm.slot_sink;
    out.models.push_back(row);
    std::vector<StreamPolicy> policies;
    if (m.positions != PositionMode::learned)
      for (Index s : o.sinks) policies.push_back({s, o.context - s, false});
    policies.push_back({0, o.context, true});
    for (const StreamPolicy& p : policies) {
      const StreamResult r = stream_perplexity(model, stream, p, 64);
      StreamingRow sr;
      sr.model = m.name;
      sr.policy = p.label();
      sr.sinks = p.sinks;
      sr.window = p.window;
      sr.recompute = p.recompute;
      sr.perplexity = r.perplexity;
      sr.mean_nll = r.mean_nll;
      sr.bucket_nll = r.bucket_nll;
      sr.kv_bytes = static_cast<double>(r.kv_bytes);
      sr.seconds = r.seconds;
      out.streams.push_back(std::move(sr));
    }
  }
  if (!o.levers.empty()) {
    const SinkModelRow& base = out.models.front();  // the rope model
    out.levers.push_back({"base", base.val_bits, base.sink1, base.layer_mass});
    for (const std::string& name : o.levers) {
      TaskTrainOptions t = o.train;
      Index context = o.context;
      if (name == "steps x4") {
        t.steps *= 4;
      } else if (name == "weight decay 0.5") {
        t.weight_decay = 0.5;
      } else if (name == "lr x3") {
        t.lr = std::min(1.0, 3 * t.lr);
      } else if (name == "context x2") {
        context *= 2;
      }
      if (on_line) on_line(str_cat("streaming: sink lever '", name, "'"));
      TrainedLm lm = train_kjv(t, context, {"rope", PositionMode::rope}, kjv);
      const models::gpt2::Gpt2Model model(std::move(lm.weights));
      const models::tinylm::SinkMetrics sm = sinks_of(model, kjv);
      out.levers.push_back({name, lm.val_bits, sm.sink1, sm.layer_mass});
    }
  }
  out.seconds = timer.seconds();
  return out;
}

}  // namespace attnlab::analysis::tradeoff
