#include "attnlab/models/tinylm/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/interrupt.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/models/gpt2/data_parallel_graph.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/tinylm/param_groups.hpp"
#include "attnlab/nn/adamw.hpp"

namespace attnlab::models::tinylm {
namespace {

using gpt2::Gpt2Config;
using gpt2::Gpt2Layout;
using gpt2::Gpt2Weights;
using gpt2::PositionMode;

double mean_loss(gpt2::DataParallelTrainGraph<float>& graph, const float* params,
                 const std::vector<Batch>& batches, Index* scored) {
  double sum = 0;
  Index n = 0;
  for (const Batch& b : batches) {
    if (b.rows != graph.batch()) {
      // The last batch may be short: pad with unscored rows.
      Batch padded = b;
      padded.tokens.resize(static_cast<std::size_t>(graph.batch() * b.seq), 0);
      padded.targets.resize(padded.tokens.size(), -1);
      const auto l = graph.forward(params, padded.tokens.data(), padded.targets.data());
      sum += l.sum_nll;
      n += l.scored;
      continue;
    }
    const auto l = graph.forward(params, b.tokens.data(), b.targets.data());
    sum += l.sum_nll;
    n += l.scored;
  }
  if (scored) *scored = n;
  return n > 0 ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json step_json(const StepRecord& s) {
  return {{"step", s.step},
          {"loss", s.loss},
          {"lr", s.lr},
          {"grad_norm", s.grad_norm},
          {"seconds", s.seconds}};
}

nlohmann::json eval_json(const EvalRecord& e) {
  nlohmann::json j = {{"step", e.step}, {"val_loss", e.val_loss}, {"sinks", e.sinks.to_json()}};
  if (!e.decay_rates.empty()) j["decay_rates"] = e.decay_rates;
  return j;
}

StepRecord step_from_json(const nlohmann::json& j) {
  return {j.at("step").get<std::int64_t>(), j.at("loss").get<double>(), j.at("lr").get<double>(),
          j.at("grad_norm").get<double>(), j.at("seconds").get<double>()};
}

EvalRecord eval_from_json(const nlohmann::json& j) {
  EvalRecord e;
  e.step = io::json_int64(j.at("step"), "eval record 'step'");
  e.val_loss = j.at("val_loss").get<double>();
  const auto& s = j.at("sinks");
  e.sinks.eps = s.at("eps").get<double>();
  e.sinks.seq = io::json_int64(s.at("seq"), "eval record 'sinks.seq'");
  e.sinks.sequences = io::json_int64(s.at("sequences"), "eval record 'sinks.sequences'");
  e.sinks.sink1 = s.at("sink1").get<double>();
  e.sinks.layer_mass = s.at("layer_mass").get<std::vector<double>>();
  const auto heads = s.at("head_mass").get<std::vector<std::vector<double>>>();
  e.sinks.head_mass = MatrixD::Zero(static_cast<Index>(heads.size()),
                                    heads.empty() ? 0 : static_cast<Index>(heads[0].size()));
  for (std::size_t l = 0; l < heads.size(); ++l) {
    if (heads[l].size() != heads[0].size()) {
      throw FormatError(str_cat("training history: sinks.head_mass row ", l, " has ",
                                heads[l].size(), " heads but row 0 has ", heads[0].size()));
    }
  }
  for (std::size_t l = 0; l < heads.size(); ++l)
    for (std::size_t h = 0; h < heads[l].size(); ++h)
      e.sinks.head_mass(static_cast<Index>(l), static_cast<Index>(h)) = heads[l][h];
  e.sinks.has_slot = s.at("has_slot").get<bool>();
  if (e.sinks.has_slot) {
    e.sinks.slot_sink = s.at("slot_sink").get<double>();
    e.sinks.slot_layer_mass = s.at("slot_layer_mass").get<std::vector<double>>();
  }
  if (j.contains("decay_rates"))
    e.decay_rates = j["decay_rates"].get<std::vector<std::vector<double>>>();
  return e;
}

nlohmann::json history_json(const std::vector<StepRecord>& curve,
                            const std::vector<EvalRecord>& evals) {
  nlohmann::json c = nlohmann::json::array(), e = nlohmann::json::array();
  for (const auto& s : curve) c.push_back(step_json(s));
  for (const auto& r : evals) e.push_back(eval_json(r));
  return {{"curve", c}, {"evals", e}};
}

// UsageError naming the fields where a resume state differs from the requested run.
void check_resume(const TrainState& s, const TrainOptions& o, const nlohmann::json& dataset) {
  std::vector<std::string> diffs;
  const nlohmann::json want = o.identity_json();
  const nlohmann::json have = s.options.is_object() ? s.options : nlohmann::json::object();
  for (const auto& [key, value] : want.items()) {
    if (!have.contains(key) || have[key] != value) {
      diffs.push_back(str_cat(key, " (checkpoint ", have.contains(key) ? have[key].dump() : "none",
                              ", run ", value.dump(), ")"));
    }
  }
  for (const char* key : {"corpus_sha256", "tokenizer", "train_tokens", "val_tokens"}) {
    if (!s.dataset.contains(key) || s.dataset[key] != dataset.at(key)) {
      diffs.push_back(str_cat("dataset.", key, " (checkpoint ",
                              s.dataset.contains(key) ? s.dataset[key].dump() : "none", ", run ",
                              dataset.at(key).dump(), ")"));
    }
  }
  if (!diffs.empty()) {
    std::string all;
    for (const auto& d : diffs) all += (all.empty() ? "" : "; ") + d;
    throw UsageError(str_cat("train --resume: the checkpoint belongs to a different run: ", all));
  }
  if (s.step > o.steps) {
    throw UsageError(
        str_cat("train --resume: the checkpoint is at step ", s.step, ", past --steps ", o.steps));
  }
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<std::vector<double>> learned_decay_rates(const Gpt2Weights& w) {
  std::vector<std::vector<double>> out;
  for (Index l = 0; l < w.config.n_layer; ++l) {
    const float* r = w.layer(l).decay_rate;
    if (!r) return {};
    out.emplace_back(r, r + w.config.n_head);
  }
  return out;
}

nlohmann::json TrainResult::to_json() const {
  nlohmann::json j;
  j["options"] = options.to_json();
  j["model"] = gpt2::gpt2_config_json(weights.config);
  j["model_description"] = weights.config.describe();
  j["parameters"] = weights.config.parameter_count();
  j["dataset"] = dataset;
  j["steps_done"] = steps_done;
  j["stopped_early"] = stopped_early;
  j["history"] = history_json(curve, evals);
  j["final_val_loss"] =
      std::isfinite(final_val_loss) ? nlohmann::json(final_val_loss) : nlohmann::json(nullptr);
  j["final_val_bits"] = std::isfinite(final_val_loss)
                            ? nlohmann::json(final_val_loss / std::log(2.0))
                            : nlohmann::json(nullptr);
  j["final_val_scored"] = final_val_scored;
  j["tokens_per_second"] = tokens_per_second;
  j["train_seconds"] = train_seconds;
  const auto rates = learned_decay_rates(weights);
  if (!rates.empty()) j["decay_rates"] = rates;
  return j;
}

double full_validation_loss(const Gpt2Weights& weights, const LmDataset& dataset, Index seq,
                            Index* scored) {
  constexpr Index kRows = 16;
  gpt2::DataParallelTrainGraph<float> graph(weights.config, kRows, seq);
  return mean_loss(graph, weights.params.data(), dataset.full_validation(seq, kRows), scored);
}

TrainResult train_lm(const TrainOptions& o, const LmDataset& ds, const TrainControl& ctl) {
  o.validate();
  const Gpt2Config config = o.model_config(ds.vocab_size);
  config.validate("train");
  if (static_cast<Index>(ds.train.size()) < o.context + 1) {
    throw UsageError(str_cat("train: the train split has ", ds.train.size(),
                             " tokens, fewer than --context + 1 = ", o.context + 1));
  }
  if (static_cast<Index>(ds.val.size()) < 2) {
    throw UsageError("train: the validation split needs at least 2 tokens");
  }
  TrainResult r;
  r.options = o;
  r.dataset = ds.to_json();
  r.weights = gpt2::random_gpt2_weights(config, o.seed);
  r.weights.source = str_cat("attnlab train (seed ", o.seed, ")");
  const std::size_t P = r.weights.params.size();
  nn::AdamW<float> opt(P, {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  add_parameter_groups(opt, config);
  std::int64_t start = 0;
  if (ctl.resume) {
    const TrainState& s = *ctl.resume;
    check_resume(s, o, r.dataset);
    if (gpt2::gpt2_config_json(s.config) != gpt2::gpt2_config_json(config)) {
      throw UsageError("train --resume: the checkpoint's model config differs from this run's");
    }
    std::copy(s.params.begin(), s.params.end(), r.weights.params.begin());
    opt.restore(s.step, s.adam_m, s.adam_v);
    start = s.step;
    try {
      for (const auto& c : s.history.at("curve")) r.curve.push_back(step_from_json(c));
      for (const auto& e : s.history.at("evals")) r.evals.push_back(eval_from_json(e));
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(str_cat("train --resume: checkpoint history is malformed: ", e.what()));
    }
  }
  const nn::CosineSchedule sched{o.lr, o.min_lr, o.warmup_steps(), o.steps};
  gpt2::DataParallelTrainGraph<float> graph(config, o.batch, o.context);
  std::vector<float> grads(P);
  const std::vector<Batch> eval_batches = ds.eval_windows(o.context, o.eval_windows, o.batch);
  auto save_state = [&](std::int64_t step) {
    if (ctl.checkpoint_path.empty()) return;
    TrainState s;
    s.step = step;
    s.config = config;
    s.options = o.to_json();
    s.dataset = r.dataset;
    s.history = history_json(r.curve, r.evals);
    s.params.assign(r.weights.params.begin(), r.weights.params.end());
    s.adam_m.assign(opt.m().begin(), opt.m().end());
    s.adam_v.assign(opt.v().begin(), opt.v().end());
    save_checkpoint(ctl.checkpoint_path, s);
  };
  auto evaluate = [&](std::int64_t step) {
    EvalRecord e;
    e.step = step;
    e.val_loss = mean_loss(graph, r.weights.params.data(), eval_batches, nullptr);
    const gpt2::Gpt2Model model(r.weights);
    SinkOptions so{o.sink_seq, o.sink_sequences, o.sink_eps};
    e.sinks = measure_sinks(model, ds.val, so);
    e.decay_rates = learned_decay_rates(r.weights);
    r.evals.push_back(e);
    if (ctl.on_eval) ctl.on_eval(e);
  };
  if (start == 0) evaluate(0);  // the untrained model: where every curve starts
  Progress bar("train", o.steps - start);
  std::vector<double> step_seconds;
  const std::int64_t last = ctl.stop_after > 0 ? std::min(ctl.stop_after, o.steps) : o.steps;
  const double tokens_per_step = static_cast<double>(o.batch * o.context);
  for (std::int64_t step = start + 1; step <= last; ++step) {
    // Ctrl-C between steps: the last checkpoint stays the resumable state (bar.advance() polls
    // too, but this one also covers the time spent in evaluate() and save_state()).
    throw_if_interrupted();
    Timer t;
    const Batch b = ds.train_batch(o.batch, o.context, o.seed, step);
    const gpt2::GraphLoss loss = graph.forward_backward(r.weights.params.data(), b.tokens.data(),
                                                        b.targets.data(), grads.data());
    const double norm = nn::clip_grad_norm(grads.data(), P, o.clip);
    const double lr = nn::cosine_lr(sched, step);
    opt.step(r.weights.params.data(), grads.data(), lr);
    const StepRecord rec{step, loss.mean(), lr, norm, t.seconds()};
    if (!std::isfinite(norm)) {
      throw NumericError(str_cat("train: non-finite gradient norm at step ", step, " (loss ",
                                 loss.mean(), "); lower --lr"));
    }
    r.curve.push_back(rec);
    step_seconds.push_back(rec.seconds);
    r.train_seconds += rec.seconds;
    if (ctl.on_step) ctl.on_step(rec);
    if (bar.enabled()) {
      char note[96];
      std::snprintf(note, sizeof note, "loss %.4f  %.0f tok/s", rec.loss,
                    tokens_per_step / median(step_seconds));
      bar.set_note(note);
    }
    bar.advance();
    if (step % o.eval_every == 0 || step == o.steps) evaluate(step);
    if ((ctl.checkpoint_every > 0 && step % ctl.checkpoint_every == 0) || step == last) {
      save_state(step);
    }
  }
  bar.finish();
  r.steps_done = last;
  r.stopped_early = last < o.steps;
  r.tokens_per_second = step_seconds.empty() ? 0 : tokens_per_step / median(step_seconds);
  r.final_val_loss = std::numeric_limits<double>::quiet_NaN();
  if (!r.stopped_early && ctl.final_validation) {
    r.final_val_loss = full_validation_loss(r.weights, ds, o.context, &r.final_val_scored);
  }
  return r;
}

void save_trained_model(const Gpt2Weights& weights, const gpt2::BpeTokenizer& tokenizer,
                        const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw InputError(str_cat("train: cannot create '", dir.string(), "': ", ec.message()));
  }
  OutputSet outs;
  outs.add(dir / "model.safetensors", gpt2::encode_gpt2_safetensors(weights));
  outs.add(dir / "config.json", gpt2::gpt2_config_json(weights.config).dump(2) + "\n");
  outs.add(dir / "vocab.json", tokenizer.vocab_json());
  outs.add(dir / "merges.txt", tokenizer.merges_txt());
  outs.commit();
}

}  // namespace attnlab::models::tinylm
