#include "attnlab/analysis/influence/poisoning.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/analysis/influence/arm_training.hpp"
#include "attnlab/analysis/influence/influence_gradient.hpp"
#include "attnlab/analysis/influence/kernel_influence.hpp"
#include "attnlab/analysis/influence/kernel_pipeline.hpp"
#include "attnlab/analysis/ntk/kernel_metrics.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/nn/model.hpp"

namespace attnlab::analysis::influence {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kDataStream = 0x901Bull;
constexpr std::uint64_t kSplit = 0x5417ull;
constexpr std::uint64_t kRows = 0x7035ull;
constexpr std::uint64_t kNet = 0x4E75ull;

using ntk::ModelKind;

ValidationLoss validation_loss_for(const nn::Targets& t) {
  return t.outputs() == 1 ? ValidationLoss::logistic : ValidationLoss::cross_entropy;
}

MatrixD take_rows(const MatrixD& x, const std::vector<Index>& rows) {
  MatrixD out(static_cast<Index>(rows.size()), x.cols());
  for (std::size_t a = 0; a < rows.size(); ++a) out.row(static_cast<Index>(a)) = x.row(rows[a]);
  return out;
}

std::vector<int> take_labels(const std::vector<int>& y, const std::vector<Index>& rows) {
  std::vector<int> out;
  for (const Index r : rows) out.push_back(y[static_cast<std::size_t>(r)]);
  return out;
}

struct Accuracies {
  double kernel = kNaN, net = kNaN, net_train = kNaN;
};

// Kernel predictor and arm-B network trained on raw_train, evaluated on raw_test.
Accuracies evaluate(ModelKind kind, const MatrixD& raw_train, const nn::Targets& targets,
                    const std::vector<int>& y_train, const MatrixD& raw_test,
                    const std::vector<int>& y_test, const PoisonOptions& o,
                    std::uint64_t net_seed) {
  Accuracies a;
  const KernelPipeline pipe(kind, raw_train, raw_test);
  const KernelInfluence krr(pipe.k_train(), targets.values, o.ridge);
  a.kernel = nn::accuracy(krr.predict(pipe.k_query()), y_test);
  if (o.train_network) {
    ArmConfig c;
    c.arm = 'b';
    c.width = o.width;
    c.steps_b = o.steps_b;
    c.lr_fraction_b = o.lr_fraction_b;
    c.tol_b = o.tol_b;
    const TrainedArm t = train_arm(c, pipe.features(), targets, net_seed);
    a.net = nn::accuracy(nn::predict(t.net, pipe.query_features()), y_test);
    a.net_train = nn::accuracy(nn::predict(t.net, pipe.features()), y_train);
  }
  return a;
}

}  // namespace

void validate_poison_options(const PoisonOptions& o) {
  if (o.models.empty()) throw UsageError("poison: --models is empty");
  for (const double e : o.epsilons) {
    if (!(e > 0.0 && e <= 1.0))
      throw UsageError(str_cat("poison: --eps values must be in (0, 1], got ", e));
  }
  if (!(o.fraction > 0.0 && o.fraction <= 1.0)) {
    throw UsageError(str_cat("poison: --fraction must be in (0, 1], got ", o.fraction));
  }
  if (o.steps < 1) throw UsageError(str_cat("poison: --steps must be >= 1, got ", o.steps));
  if (!(o.step_fraction > 0.0)) {
    throw UsageError(str_cat("poison: --step-fraction must be > 0, got ", o.step_fraction));
  }
  if (!(o.ridge > 0.0) || !std::isfinite(o.ridge)) {
    throw UsageError(str_cat("poison: --ridge must be > 0, got ", o.ridge));
  }
  if (o.seeds < 1) throw UsageError(str_cat("poison: --seeds must be >= 1, got ", o.seeds));
  if (o.width < 2) throw UsageError(str_cat("poison: --width must be >= 2, got ", o.width));
  if (!(o.lr_fraction_b > 0.0 && o.lr_fraction_b < 1.0)) {
    throw UsageError(str_cat("poison: --lr-fraction-b must be in (0, 1), got ", o.lr_fraction_b));
  }
}

double kernel_validation_loss(ModelKind model, const MatrixD& raw_train,
                              const nn::Targets& train_targets, const MatrixD& raw_val,
                              const nn::Targets& val_targets, double ridge, MatrixD* grad) {
  const KernelPipeline pipe(model, raw_train, raw_val);
  const KernelInfluence krr(pipe.k_train(), train_targets.values, ridge);
  const KernelGradient g =
      validation_loss_gradient(krr, pipe.k_query(), val_targets, validation_loss_for(val_targets));
  if (grad) *grad = pipe.backward(g.d_k_train, g.d_k_query);
  return g.value;
}

MatrixD poison_training_rows(ModelKind model, const MatrixD& raw_train,
                             const nn::Targets& train_targets, const MatrixD& raw_val,
                             const nn::Targets& val_targets, const std::vector<Index>& rows,
                             double epsilon, const PoisonOptions& o, double* val_loss_before,
                             double* val_loss_after) {
  MatrixD x = raw_train;
  const double alpha = o.step_fraction * epsilon;
  MatrixD grad;
  for (Index s = 0; s < o.steps; ++s) {
    const double l =
        kernel_validation_loss(model, x, train_targets, raw_val, val_targets, o.ridge, &grad);
    if (s == 0 && val_loss_before) *val_loss_before = l;
    for (const Index r : rows) {
      for (Index d = 0; d < x.cols(); ++d) {
        const double g = grad(r, d);
        double v = x(r, d) + alpha * (g > 0.0 ? 1.0 : (g < 0.0 ? -1.0 : 0.0));
        v = std::clamp(v, raw_train(r, d) - epsilon, raw_train(r, d) + epsilon);
        v = std::clamp(v, 0.0, 1.0);
        // A row must stay nonzero to be normalized: keep the clean row's pixel if all would vanish.
        x(r, d) = v;
      }
      if (!(x.row(r).norm() > 0.0)) x.row(r) = raw_train.row(r);
    }
  }
  if (val_loss_after) {
    *val_loss_after =
        kernel_validation_loss(model, x, train_targets, raw_val, val_targets, o.ridge, nullptr);
  }
  return x;
}

std::int64_t poisoning_work_units(const PoisonOptions& o) {
  return static_cast<std::int64_t>(o.models.size()) * o.seeds *
         static_cast<std::int64_t>(o.epsilons.size() + 1);
}

double poisoning_memory_bytes(const PoisonOptions& o, Index n_train, Index n_val, Index n_test,
                              Index dim, Index outputs) {
  const double m = o.train_network ? static_cast<double>(o.width) : 0.0;
  const double n = static_cast<double>(n_train);
  const double rows = static_cast<double>(n_train + n_val + n_test);
  return 8.0 * m * (1.5 * static_cast<double>(dim + outputs) + 2.0 * rows) + 8.0 * 8.0 * n * n;
}

PoisonResult run_poisoning(const io::DataOptions& base, Index n_train, Index n_val, Index n_test,
                           const PoisonOptions& o, Progress* progress) {
  validate_poison_options(o);
  if (n_train < 4 || n_val < 1 || n_test < 1) {
    throw UsageError(str_cat("poison: need --n-train >= 4, --n-val >= 1, --n-test >= 1, got ",
                             n_train, ", ", n_val, ", ", n_test));
  }
  Timer timer;
  PoisonResult r;
  r.options = o;
  r.n_train = n_train;
  r.n_val = n_val;
  r.n_test = n_test;
  for (Index s = 0; s < o.seeds; ++s) {
    io::DataOptions opts = base;
    opts.seed = Rng::stream(o.seed, kDataStream + static_cast<std::uint64_t>(s)).next_u64();
    const ntk::KernelData d = ntk::load_kernel_data(opts, n_train + n_val, n_test);
    if (!d.has_labels()) throw UsageError("poison: the data needs labels (--y)");
    if (d.classes() < 2) throw UsageError("poison: need at least 2 classes");
    Rng split = Rng::stream(opts.seed, kSplit);
    std::vector<Index> perm = split.permutation(n_train + n_val);
    std::vector<Index> tr(perm.begin(), perm.begin() + n_train),
        va(perm.begin() + n_train, perm.end());
    std::sort(tr.begin(), tr.end());
    std::sort(va.begin(), va.end());
    const MatrixD x_train = take_rows(d.x_train, tr), x_val = take_rows(d.x_train, va);
    const std::vector<int> y_train = take_labels(d.y_train, tr), y_val = take_labels(d.y_train, va);
    const nn::Targets t_train = study_targets(y_train, d.classes());
    const nn::Targets t_val = study_targets(y_val, d.classes());
    if (s == 0) {
      r.classes = d.classes();
      r.class_names = d.class_names;
      r.source = d.source;
    }
    Rng pick = Rng::stream(opts.seed, kRows);
    const Index count = std::max<Index>(
        1, static_cast<Index>(std::llround(o.fraction * static_cast<double>(n_train))));
    std::vector<Index> rows = pick.sample_without_replacement(n_train, count);
    std::sort(rows.begin(), rows.end());
    const std::uint64_t net_seed =
        Rng::stream(o.seed, kNet + static_cast<std::uint64_t>(s)).next_u64();
    for (const ModelKind kind : o.models) {
      for (Index e = 0; e <= static_cast<Index>(o.epsilons.size()); ++e) {
        const double eps = e == 0 ? 0.0 : o.epsilons[static_cast<std::size_t>(e - 1)];
        PoisonRecord rec;
        rec.model = kind;
        rec.seed_index = s;
        rec.epsilon = eps;
        double before = kNaN, after = kNaN;
        MatrixD x_p;
        if (eps > 0.0) {
          x_p = poison_training_rows(kind, x_train, t_train, x_val, t_val, rows, eps, o, &before,
                                     &after);
        } else {
          x_p = x_train;
          before = after =
              kernel_validation_loss(kind, x_train, t_train, x_val, t_val, o.ridge, nullptr);
        }
        const Accuracies a = evaluate(kind, x_p, t_train, y_train, d.x_test, d.y_test, o, net_seed);
        rec.metrics["kernel_acc"] = a.kernel;
        rec.metrics["net_acc"] = a.net;
        rec.metrics["net_train_acc"] = a.net_train;
        rec.metrics["val_loss"] = after;
        rec.metrics["val_loss_clean"] = before;
        rec.metrics["poisoned_rows"] = static_cast<double>(rows.size());
        r.records.push_back(std::move(rec));
        if (progress) progress->advance();
      }
    }
  }
  r.seconds = timer.seconds();
  return r;
}

std::vector<double> poison_values(const PoisonResult& r, ModelKind model, double epsilon,
                                  const std::string& key) {
  std::vector<double> v(static_cast<std::size_t>(r.options.seeds), kNaN);
  for (const PoisonRecord& rec : r.records) {
    if (rec.model != model || std::abs(rec.epsilon - epsilon) > 1e-12) continue;
    const auto it = rec.metrics.find(key);
    if (it != rec.metrics.end() && rec.seed_index >= 0 && rec.seed_index < r.options.seeds) {
      v[static_cast<std::size_t>(rec.seed_index)] = it->second;
    }
  }
  return v;
}

nlohmann::json to_json(const PoisonResult& r) {
  const PoisonOptions& o = r.options;
  nlohmann::json models = nlohmann::json::array();
  for (const ModelKind k : o.models) models.push_back(std::string(ntk::to_string(k)));
  nlohmann::json recs = nlohmann::json::array();
  for (const PoisonRecord& rec : r.records) {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [k, v] : rec.metrics) m[k] = ntk::json_number(v);
    recs.push_back({{"model", std::string(ntk::to_string(rec.model))},
                    {"seed_index", rec.seed_index},
                    {"epsilon", rec.epsilon},
                    {"metrics", m}});
  }
  return {{"study", "poison"},
          {"options",
           {{"models", models},
            {"epsilons", o.epsilons},
            {"fraction", o.fraction},
            {"steps", o.steps},
            {"step_fraction", o.step_fraction},
            {"ridge", o.ridge},
            {"seeds", o.seeds},
            {"seed", o.seed},
            {"train_network", o.train_network},
            {"width", o.width},
            {"steps_b", o.steps_b},
            {"lr_fraction_b", o.lr_fraction_b},
            {"tol_b", o.tol_b}}},
          {"data",
           {{"n_train", r.n_train},
            {"n_val", r.n_val},
            {"n_test", r.n_test},
            {"classes", r.classes},
            {"class_names", r.class_names},
            {"source", r.source}}},
          {"records", recs},
          {"seconds", r.seconds}};
}

PoisonResult poisoning_from_json(const nlohmann::json& j) {
  try {
    if (j.at("study").get<std::string>() != "poison") {
      throw FormatError("poison JSON: 'study' is not 'poison'");
    }
    PoisonResult r;
    const auto& o = j.at("options");
    PoisonOptions& p = r.options;
    p.models.clear();
    for (const auto& m : o.at("models"))
      p.models.push_back(ntk::parse_model_kind(m.get<std::string>()));
    p.epsilons = o.at("epsilons").get<std::vector<double>>();
    p.fraction = o.at("fraction").get<double>();
    p.steps = o.at("steps").get<Index>();
    p.step_fraction = o.at("step_fraction").get<double>();
    p.ridge = o.at("ridge").get<double>();
    p.seeds = o.at("seeds").get<Index>();
    p.seed = o.at("seed").get<std::uint64_t>();
    p.train_network = o.at("train_network").get<bool>();
    p.width = o.at("width").get<Index>();
    p.steps_b = o.at("steps_b").get<Index>();
    p.lr_fraction_b = o.at("lr_fraction_b").get<double>();
    p.tol_b = o.at("tol_b").get<double>();
    const auto& d = j.at("data");
    r.n_train = d.at("n_train").get<Index>();
    r.n_val = d.at("n_val").get<Index>();
    r.n_test = d.at("n_test").get<Index>();
    r.classes = d.at("classes").get<Index>();
    r.class_names = d.at("class_names").get<std::vector<std::string>>();
    r.source = d.at("source").get<std::string>();
    for (const auto& rec : j.at("records")) {
      PoisonRecord x;
      x.model = ntk::parse_model_kind(rec.at("model").get<std::string>());
      x.seed_index = rec.at("seed_index").get<Index>();
      x.epsilon = rec.at("epsilon").get<double>();
      for (const auto& [k, v] : rec.at("metrics").items()) x.metrics[k] = ntk::number_from_json(v);
      r.records.push_back(std::move(x));
    }
    r.seconds = j.at("seconds").get<double>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("poison JSON: ", e.what()));
  } catch (const UsageError& e) {
    throw FormatError(str_cat("poison JSON: ", e.what()));
  }
}

}  // namespace attnlab::analysis::influence
