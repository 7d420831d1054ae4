#include "attnlab/analysis/tradeoff/task_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/models/gpt2/data_parallel_graph.hpp"
#include "attnlab/models/tinylm/param_groups.hpp"
#include "attnlab/models/tinylm/trainer.hpp"
#include "attnlab/nn/adamw.hpp"

namespace attnlab::analysis::tradeoff {
namespace {

using models::tinylm::Batch;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Accumulates per-bucket sums of a per-row quality over scored rows.
struct Buckets {
  Index width = 1;
  std::vector<double> sum;
  std::vector<Index> count;
  Buckets(Index n, Index w)
      : width(w), sum(static_cast<std::size_t>(n), 0.0), count(static_cast<std::size_t>(n), 0) {}
  void add(Index key, double value) {
    const auto b = static_cast<std::size_t>(std::min<Index>(key / width, Index(sum.size()) - 1));
    sum[b] += value;
    count[b] += 1;
  }
  std::vector<double> means() const {
    std::vector<double> m(sum.size(), kNaN);
    for (std::size_t b = 0; b < sum.size(); ++b)
      if (count[b] > 0) m[b] = sum[b] / static_cast<double>(count[b]);
    return m;
  }
};

// Evaluates `batches` ([rows, T] each, rows = the graph's batch or fewer) and fills the run's
// quality fields. key_of(b, row, t) gives the bucket key of a scored position.
template <class KeyOf>
void evaluate(models::gpt2::DataParallelTrainGraph<float>& graph, const float* params,
              const std::vector<Batch>& batches, bool recall, Index buckets, Index T,
              const KeyOf& key_of, TaskRun& r) {
  Buckets bk(buckets, (T + buckets - 1) / buckets);
  double nll = 0, hits = 0;
  Index scored = 0, rows = 0;
  Timer timer;
  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    Batch b = batches[bi];
    const Index real_rows = b.rows;
    b.tokens.resize(static_cast<std::size_t>(graph.batch() * T), 0);
    b.targets.resize(b.tokens.size(), -1);
    models::gpt2::RowScores rs;
    graph.forward(params, b.tokens.data(), b.targets.data(), &rs);
    rows += real_rows;
    for (Index k = 0; k < real_rows * T; ++k) {
      if (b.targets[static_cast<std::size_t>(k)] < 0) continue;
      const double l = rs.nll[static_cast<std::size_t>(k)];
      const double hit = rs.hit[static_cast<std::size_t>(k)];
      nll += l;
      hits += hit;
      ++scored;
      bk.add(key_of(bi, k / T, k % T), recall ? hit : l);
    }
  }
  r.eval_seconds_per_sequence = rows > 0 ? timer.seconds() / static_cast<double>(rows) : 0;
  r.scored = scored;
  r.eval_nll = scored > 0 ? nll / static_cast<double>(scored) : kNaN;
  r.accuracy = scored > 0 ? hits / static_cast<double>(scored) : kNaN;
  r.bucket_width = bk.width;
  r.bucket_quality = bk.means();
  r.bucket_count = bk.count;
}

}  // namespace

void TaskTrainOptions::validate() const {
  auto check = [](bool ok, std::string_view field, auto value, std::string_view range) {
    if (!ok) throw UsageError(str_cat("tradeoff: ", field, " ", value, " outside ", range));
  };
  check(layers >= 1 && layers <= 16, "layers", layers, "[1, 16]");
  check(width >= 8 && width <= 1024, "width", width, "[8, 1024]");
  check(heads >= 1 && width % heads == 0 && (width / heads) % 2 == 0, "heads", heads,
        "the divisors of width with an even head dim");
  check(mlp_ratio >= 1 && mlp_ratio <= 8, "mlp_ratio", mlp_ratio, "[1, 8]");
  check(batch >= 1 && batch <= 4096, "batch", batch, "[1, 4096]");
  check(steps >= 1 && steps <= 10'000'000, "steps", steps, "[1, 10^7]");
  check(lr > 0 && lr <= 1, "lr", lr, "(0, 1]");
  check(min_lr >= 0 && min_lr <= lr, "min_lr", min_lr, "[0, lr]");
  check(warmup >= -1 && warmup <= steps, "warmup", warmup, "[-1, steps]");
  check(weight_decay >= 0 && weight_decay <= 10, "weight_decay", weight_decay, "[0, 10]");
  check(clip >= 0, "clip", clip, "[0, inf)");
  check(eval_rows >= 1 && eval_rows <= 1'000'000, "eval_rows", eval_rows, "[1, 10^6]");
  check(buckets >= 1 && buckets <= 1024, "buckets", buckets, "[1, 1024]");
}

nlohmann::json TaskTrainOptions::to_json() const {
  return {{"layers", layers},
          {"width", width},
          {"heads", heads},
          {"mlp_ratio", mlp_ratio},
          {"batch", batch},
          {"steps", steps},
          {"lr", lr},
          {"min_lr", min_lr},
          {"warmup", warmup},
          {"weight_decay", weight_decay},
          {"clip", clip},
          {"seed", seed},
          {"eval_rows", eval_rows},
          {"buckets", buckets},
          {"eval_offset", eval_offset}};
}

nlohmann::json TaskRun::to_json() const {
  auto nan_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::json q = nlohmann::json::array();
  for (double v : bucket_quality) q.push_back(nan_null(v));
  nlohmann::json j = {{"task", task.to_json()},
                      {"variant", variant},
                      {"family", family},
                      {"seed", seed},
                      {"accuracy", nan_null(accuracy)},
                      {"eval_nll", nan_null(eval_nll)},
                      {"scored", scored},
                      {"bucket_width", bucket_width},
                      {"bucket_quality", q},
                      {"bucket_count", bucket_count},
                      {"loss_curve", loss_curve},
                      {"train_seconds", train_seconds},
                      {"eval_seconds_per_sequence", eval_seconds_per_sequence},
                      {"costs", costs.to_json()},
                      {"parameters", parameters}};
  if (!learned_decay.empty()) j["learned_decay"] = learned_decay;
  return j;
}

TaskRun TaskRun::from_json(const nlohmann::json& j) {
  auto num = [](const nlohmann::json& v) { return v.is_null() ? kNaN : v.get<double>(); };
  TaskRun r;
  try {
    r.task = TaskConfig::from_json(j.at("task"));
    r.variant = j.at("variant").get<std::string>();
    r.family = j.at("family").get<std::string>();
    r.seed = j.at("seed").get<std::uint64_t>();
    r.accuracy = num(j.at("accuracy"));
    r.eval_nll = num(j.at("eval_nll"));
    r.scored = j.at("scored").get<Index>();
    r.bucket_width = j.at("bucket_width").get<Index>();
    for (const auto& v : j.at("bucket_quality")) r.bucket_quality.push_back(num(v));
    r.bucket_count = j.at("bucket_count").get<std::vector<Index>>();
    r.loss_curve = j.at("loss_curve").get<std::vector<double>>();
    r.train_seconds = j.at("train_seconds").get<double>();
    r.eval_seconds_per_sequence = j.at("eval_seconds_per_sequence").get<double>();
    const auto& c = j.at("costs");
    r.costs.tokens = c.at("tokens").get<Index>();
    r.costs.attention_pairs = c.at("attention_pairs").get<double>();
    r.costs.attention_flops = c.at("attention_flops").get<double>();
    r.costs.dense_flops = c.at("dense_flops").get<double>();
    r.costs.forward_flops = c.at("forward_flops").get<double>();
    r.costs.training_flops = c.at("training_flops").get<double>();
    r.costs.kv_bytes = c.at("kv_bytes").get<double>();
    r.costs.prunable_pairs = c.at("prunable_pairs").get<double>();
    r.costs.pruned_kv_bytes = c.at("pruned_kv_bytes").get<double>();
    r.parameters = j.at("parameters").get<std::uint64_t>();
    if (j.contains("learned_decay"))
      r.learned_decay = j["learned_decay"].get<std::vector<std::vector<double>>>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("tradeoff run JSON: ", e.what()));
  }
  return r;
}

models::gpt2::Gpt2Config task_model_config(const TaskConfig& task, const Variant& variant,
                                           const TaskTrainOptions& o, Index vocab_size) {
  models::gpt2::Gpt2Config c;
  c.n_layer = o.layers;
  c.n_head = o.heads;
  c.n_embd = o.width;
  c.n_positions = task.context;
  c.n_inner = o.mlp_ratio * o.width;
  c.vocab_size = vocab_size;
  c.position_mode = variant.positions;
  c.attention = variant.attention;
  c.bos_token_id = c.eos_token_id = 0;
  c.validate(str_cat("tradeoff variant ", variant.name));
  return c;
}

TaskRun train_on_task(const TaskConfig& task, const Variant& variant, const TaskTrainOptions& o,
                      const models::tinylm::LmDataset* kjv,
                      const std::function<void(std::int64_t, double)>& on_step) {
  o.validate();
  task.validate();
  const bool lm = task.kind == TaskKind::kjv;
  if (lm && !kjv) throw UsageError("train_on_task: the kjv task needs its dataset");
  if (lm && static_cast<Index>(kjv->train.size()) < task.context + 1)
    throw UsageError(str_cat("tradeoff: the corpus's train split has ", kjv->train.size(),
                             " tokens, fewer than context + 1 = ", task.context + 1));
  const Index vocab = lm ? kjv->vocab_size : task.vocab_size();
  const models::gpt2::Gpt2Config config = task_model_config(task, variant, o, vocab);
  TaskRun r;
  r.task = task;
  r.variant = variant.name;
  r.family = variant.family;
  r.seed = o.seed;
  r.parameters = config.parameter_count();
  r.weights = models::gpt2::random_gpt2_weights(config, o.seed);
  const std::size_t P = r.weights.params.size();
  nn::AdamW<float> opt(P, {o.lr, 0.9, 0.95, 1e-8, o.weight_decay});
  models::tinylm::add_parameter_groups(opt, config);
  const std::int64_t warmup = o.warmup >= 0 ? o.warmup : std::min<std::int64_t>(100, o.steps / 10);
  const nn::CosineSchedule sched{o.lr, o.min_lr, warmup, o.steps};
  models::gpt2::DataParallelTrainGraph<float> graph(config, o.batch, task.context);
  std::vector<float> grads(P);
  std::vector<double> step_seconds;
  for (std::int64_t step = 1; step <= o.steps; ++step) {
    Timer t;
    const Batch b = lm ? kjv->train_batch(o.batch, task.context, o.seed, step)
                       : make_task_batch(task, o.batch, o.seed,
                                         static_cast<std::uint64_t>(step - 1) *
                                             static_cast<std::uint64_t>(o.batch));
    const models::gpt2::GraphLoss loss = graph.forward_backward(
        r.weights.params.data(), b.tokens.data(), b.targets.data(), grads.data());
    const double norm = nn::clip_grad_norm(grads.data(), P, o.clip);
    if (!std::isfinite(norm)) {
      throw NumericError(str_cat("tradeoff: variant ", variant.name, " on ", task.describe(),
                                 ": non-finite gradient at step ", step, "; lower the lr"));
    }
    opt.step(r.weights.params.data(), grads.data(), nn::cosine_lr(sched, step));
    step_seconds.push_back(t.seconds());
    r.loss_curve.push_back(loss.mean());
    if (on_step) on_step(step, loss.mean());
  }
  std::sort(step_seconds.begin(), step_seconds.end());
  r.train_seconds = step_seconds[step_seconds.size() / 2] * static_cast<double>(o.steps);
  r.learned_decay = models::tinylm::learned_decay_rates(r.weights);
  r.costs = count_costs(config, task.context, r.learned_decay);
  if (lm) {
    const std::vector<Batch> windows = kjv->eval_windows(task.context, o.eval_rows, o.batch);
    evaluate(
        graph, r.weights.params.data(), windows, false, o.buckets, task.context,
        [](std::size_t, Index, Index t) { return t; }, r);
  } else {
    const TaskBatch eval = make_task_eval(task, o.eval_rows, o.seed, o.eval_offset);
    std::vector<Batch> batches;
    for (Index r0 = 0; r0 < o.eval_rows; r0 += o.batch) {
      const Index rows = std::min(o.batch, o.eval_rows - r0);
      Batch b;
      b.rows = rows;
      b.seq = task.context;
      const auto from = static_cast<std::size_t>(r0 * task.context),
                 to = static_cast<std::size_t>((r0 + rows) * task.context);
      b.tokens.assign(eval.batch.tokens.begin() + from, eval.batch.tokens.begin() + to);
      b.targets.assign(eval.batch.targets.begin() + from, eval.batch.targets.begin() + to);
      batches.push_back(std::move(b));
    }
    const Index T = task.context, B = o.batch;
    evaluate(
        graph, r.weights.params.data(), batches, true, o.buckets, task.context,
        [&](std::size_t bi, Index row, Index t) {
          return static_cast<Index>(
              eval.distance[static_cast<std::size_t>((Index(bi) * B + row) * T + t)]);
        },
        r);
  }
  return r;
}

}  // namespace attnlab::analysis::tradeoff
