#include "attnlab/analysis/influence/malleability.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>

#include "attnlab/analysis/influence/arm_training.hpp"
#include "attnlab/analysis/influence/influence_gradient.hpp"
#include "attnlab/analysis/influence/kernel_pipeline.hpp"
#include "attnlab/analysis/influence/tracin.hpp"
#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/analysis/ntk/empirical_ntk.hpp"
#include "attnlab/analysis/ntk/kernel_metrics.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/nn/mlp_attn.hpp"

namespace attnlab::analysis::influence {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kDataStream = 0xDA7Aull;
constexpr std::uint64_t kNetStream = 0x4E37ull;
constexpr std::uint64_t kM4Stream = 0x3A4Dull;

using ntk::ModelKind;

struct Kernels {
  MatrixD train;  // [n, n]
  MatrixD test;   // [T, n]
};

Kernels network_kernels(const nn::TwoLayerRelu& net, const ntk::ModelInputs& in) {
  return {ntk::empirical_ntk(net, in.train), ntk::empirical_ntk(net, in.test, in.train)};
}

Kernels infinite_kernels(const ntk::ModelInputs& in) {
  return {ntk::relu_ntk_infinite(in.train), ntk::relu_ntk_infinite(in.test, in.train)};
}

// Mean over rows of Spearman(a_t·, b_t·).
double mean_row_spearman(const MatrixD& a, const MatrixD& b) {
  double s = 0.0;
  Index count = 0;
  for (Index t = 0; t < a.rows(); ++t) {
    const VectorD x = a.row(t).transpose(), y = b.row(t).transpose();
    const double r = spearman(std::span(x.data(), x.size()), std::span(y.data(), y.size()));
    if (std::isfinite(r)) {
      s += r;
      ++count;
    }
  }
  return count > 0 ? s / static_cast<double>(count) : kNaN;
}

double sgn(double v) {
  return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0);
}

struct FlipStats {
  double fr = 0, fr_margin = 0, rho = 0;
};

FlipStats flip_stats(const MatrixD& before, const MatrixD& after, const std::vector<Index>& s) {
  FlipStats out;
  const Index t_rows = before.rows();
  for (Index t = 0; t < t_rows; ++t) {
    std::vector<double> mag(static_cast<std::size_t>(before.cols()));
    for (Index i = 0; i < before.cols(); ++i)
      mag[static_cast<std::size_t>(i)] = std::abs(before(t, i));
    std::nth_element(mag.begin(), mag.begin() + static_cast<std::ptrdiff_t>(mag.size() / 2),
                     mag.end());
    const double median = mag[mag.size() / 2];
    Index flips = 0, big = 0;
    for (const Index i : s) {
      const bool flip = sgn(before(t, i)) != sgn(after(t, i));
      flips += flip;
      big += flip && std::abs(after(t, i)) > median;
    }
    out.fr += static_cast<double>(flips) / static_cast<double>(s.size());
    out.fr_margin += static_cast<double>(big) / static_cast<double>(s.size());
  }
  out.fr /= static_cast<double>(t_rows);
  out.fr_margin /= static_cast<double>(t_rows);
  out.rho = mean_row_spearman(before, after);
  return out;
}

// Top k training points by mean_t |I_ti| (signed = false) or by mean_t I_ti (signed = true; the
// most helpful points), ties by index; returned in ascending index order.
std::vector<Index> top_by_mean_abs(const MatrixD& infl, Index k, bool signed_score = false) {
  std::vector<double> score(static_cast<std::size_t>(infl.cols()));
  for (Index i = 0; i < infl.cols(); ++i)
    score[static_cast<std::size_t>(i)] =
        signed_score ? infl.col(i).mean() : infl.col(i).cwiseAbs().mean();
  std::vector<Index> idx(score.size());
  std::iota(idx.begin(), idx.end(), Index{0});
  std::stable_sort(idx.begin(), idx.end(), [&](Index a, Index b) {
    return score[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)];
  });
  idx.resize(static_cast<std::size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

// The trained network as a function of RAW pixel rows (attacks act there).
std::unique_ptr<nn::Model> pixel_model(const nn::TwoLayerRelu& net, ModelKind kind,
                                       const MatrixD& unit_train) {
  if (kind == ModelKind::relu) {
    return std::make_unique<nn::NormalizedInput>(std::make_unique<nn::TwoLayerRelu>(net));
  }
  return std::make_unique<nn::NormalizedInput>(std::make_unique<nn::MlpAttn>(unit_train, net));
}

ArmConfig arm_config(const MalleabilityOptions& o, char arm) {
  ArmConfig c;
  c.arm = arm;
  c.width = o.width;
  c.epochs_a = o.epochs_a;
  c.lr_a = o.lr_a;
  c.batch_a = o.batch_a;
  c.weight_decay_a = o.weight_decay_a;
  c.init_std_a = o.init_std_a;
  c.steps_b = o.steps_b;
  c.lr_fraction_b = o.lr_fraction_b;
  c.tol_b = o.tol_b;
  return c;
}

struct SeedContext {
  ntk::KernelData data;
  nn::Targets targets;  // training targets
  InfluenceTargets test_targets;
  Index classes = 0;
};

// M3 on Θ∞ in pixel space.
void measure_m3(const SeedContext& sc, ModelKind kind, const MalleabilityOptions& o,
                std::map<std::string, double>& m) {
  const Index points = std::min<Index>(o.m3_points, sc.data.x_test.rows());
  if (points <= 0) return;
  const KernelPipeline pipe(kind, sc.data.x_train, sc.data.x_test);
  const KernelInfluence inf(pipe.k_train(), sc.targets.values, o.ridge);
  const MatrixD infl = inf.influence(pipe.k_query(), sc.test_targets, o.target);
  double max_sum = 0.0, frob_sum = 0.0;
  for (Index t = 0; t < points; ++t) {
    Index best = 0;
    infl.row(t).cwiseAbs().maxCoeff(&best);
    const KernelGradient g =
        influence_kernel_gradient(inf, pipe.k_query(), sc.test_targets, t, best, o.target);
    const MatrixD d_raw = pipe.backward(g.d_k_train, g.d_k_query);
    max_sum += d_raw.rowwise().norm().maxCoeff();
    frob_sum += d_raw.norm();
  }
  m["m3.max_grad"] = max_sum / static_cast<double>(points);
  m["m3.frob_grad"] = frob_sum / static_cast<double>(points);
}

MatrixD influence_on(const Kernels& k, const SeedContext& sc, const MalleabilityOptions& o,
                     LooKind kind = LooKind::exact) {
  const KernelInfluence inf(k.train, sc.targets.values, o.ridge);
  return inf.influence(k.test, sc.test_targets, o.target, kind);
}

Kernels chosen_kernels(const MalleabilityOptions& o, const nn::TwoLayerRelu& net,
                       const nn::TwoLayerRelu& init, const ntk::ModelInputs& in) {
  switch (o.kernel) {
    case KernelChoice::trained:
      return network_kernels(net, in);
    case KernelChoice::init:
      return network_kernels(init, in);
    case KernelChoice::infinite:
      return infinite_kernels(in);
  }
  return network_kernels(net, in);
}

// M4: actual LOO retraining (arm B) vs kernel and TracIn predictions.
void measure_m4(const SeedContext& sc, ModelKind kind, const MalleabilityOptions& o,
                const TrainedArm& arm, const ntk::ModelInputs& in, const MatrixD& tracin,
                std::uint64_t seed, std::map<std::string, double>& m) {
  const Index n = sc.data.x_train.rows();
  const Index k = std::min(o.m4_points, n);
  const Kernels kt = network_kernels(arm.net, in), k0 = network_kernels(arm.init, in),
                kinf = infinite_kernels(in);
  const MatrixD i_t = influence_on(kt, sc, o), i_0 = influence_on(k0, sc, o),
                i_inf = influence_on(kinf, sc, o);
  // Points: the top half by mean |I_T|, the rest uniformly from the others.
  std::vector<Index> pts = top_by_mean_abs(i_t, k / 2);
  std::set<Index> chosen(pts.begin(), pts.end());
  Rng rng = Rng::stream(seed, kM4Stream);
  for (const Index j : rng.permutation(n)) {
    if (static_cast<Index>(pts.size()) >= k) break;
    if (!chosen.count(j)) {
      pts.push_back(j);
      chosen.insert(j);
    }
  }
  const ArmConfig c = arm_config(o, 'b');
  const MatrixD f_full = nn::predict(arm.net, in.test);
  const Index outputs = f_full.cols();
  std::vector<double> actual, p_t, p_0, p_inf, p_tr;
  for (const Index i : pts) {
    ntk::KernelData d = sc.data;
    std::vector<Index> keep;
    for (Index j = 0; j < n; ++j)
      if (j != i) keep.push_back(j);
    d.x_train.resize(n - 1, sc.data.x_train.cols());
    d.y_train.clear();
    for (Index a = 0; a < n - 1; ++a) {
      d.x_train.row(a) = sc.data.x_train.row(keep[static_cast<std::size_t>(a)]);
      d.y_train.push_back(
          sc.data.y_train[static_cast<std::size_t>(keep[static_cast<std::size_t>(a)])]);
    }
    ntk::ModelInputs in_loo;
    if (o.m4_keep_context) {  // the features of the full data, row i dropped
      in_loo.train.resize(n - 1, in.train.cols());
      for (Index a = 0; a < n - 1; ++a) {
        in_loo.train.row(a) = in.train.row(keep[static_cast<std::size_t>(a)]);
      }
      in_loo.test = in.test;
    } else {
      in_loo = ntk::model_inputs(d, kind);
    }
    const nn::TwoLayerRelu net =
        retrain_arm_b(arm.init, c, in_loo.train, sc.targets.subset(keep), arm.lr);
    const MatrixD f_loo = nn::predict(net, in_loo.test);
    for (Index t = 0; t < f_full.rows(); ++t) {
      actual.push_back(target_loss(o.target, &f_loo(t, 0), outputs, sc.test_targets, t, nullptr) -
                       target_loss(o.target, &f_full(t, 0), outputs, sc.test_targets, t, nullptr));
      p_t.push_back(i_t(t, i));
      p_0.push_back(i_0(t, i));
      p_inf.push_back(i_inf(t, i));
      p_tr.push_back(tracin.size() > 0 ? tracin(t, i) : kNaN);
    }
  }
  if (actual.size() < 2) return;
  auto put = [&](const char* name, const std::vector<double>& p) {
    if (!std::all_of(p.begin(), p.end(), [](double v) { return std::isfinite(v); })) return;
    m[str_cat("m4.pearson_", name)] = pearson(actual, p);
    m[str_cat("m4.spearman_", name)] = spearman(actual, p);
  };
  put("T", p_t);
  put("0", p_0);
  put("inf", p_inf);
  put("tracin", p_tr);
  m["m4.points"] = static_cast<double>(pts.size());
}

MalleabilityRecord run_one(const SeedContext& sc, ModelKind kind, char arm_id,
                           const MalleabilityOptions& o, std::uint64_t net_seed,
                           const std::map<std::string, double>& m3) {
  MalleabilityRecord rec;
  rec.model = kind;
  rec.arm = arm_id;
  rec.net_seed = net_seed;
  auto& m = rec.metrics;
  const ntk::ModelInputs in = ntk::model_inputs(sc.data, kind);
  const ArmConfig cfg = arm_config(o, arm_id);
  // TracIn along arm B's trajectory.
  MatrixD tracin;
  CheckpointHook hook;
  const Index n = in.train.rows();
  if (arm_id == 'b' && o.tracin_every > 0) {
    tracin = MatrixD::Zero(in.test.rows(), n);
    hook = [&](const nn::TwoLayerRelu& net, Index seg, double lr) {
      const MatrixD f_tr = nn::predict(net, in.train);
      const MatrixD f_te = nn::predict(net, in.test);
      const MatrixD g_tr = f_tr - sc.targets.values;  // ∂(½‖f − y‖²)/∂f
      MatrixD g_te(f_te.rows(), f_te.cols());
      for (Index t = 0; t < f_te.rows(); ++t) {
        target_loss(o.target, &f_te(t, 0), f_te.cols(), sc.test_targets, t, &g_te(t, 0));
      }
      tracin += (lr * static_cast<double>(seg) / static_cast<double>(n)) *
                gradient_dot_products(net, in.test, g_te, in.train, g_tr);
    };
  }
  const TrainedArm arm = train_arm(cfg, in.train, sc.targets, net_seed, o.tracin_every, hook);
  m["steps"] = static_cast<double>(arm.steps);
  m["lr"] = arm.lr;
  m["train_acc"] = nn::accuracy(nn::predict(arm.net, in.train), sc.data.y_train);
  m["test_acc"] = nn::accuracy(nn::predict(arm.net, in.test), sc.data.y_test);
  // Influence on Θ_T and Θ_0 (M2), and on the chosen kernel (M1).
  const Kernels k_t = network_kernels(arm.net, in);
  const Kernels k_0 = network_kernels(arm.init, in);
  const MatrixD i_t = influence_on(k_t, sc, o);
  const MatrixD i_0 = influence_on(k_0, sc, o);
  m["m2.one_minus_rho"] = 1.0 - mean_row_spearman(i_0, i_t);
  m["m2.rel_change"] = (i_t - i_0).norm() / i_0.norm();
  m["first_order.spearman"] =
      mean_row_spearman(influence_on(k_t, sc, o, LooKind::first_order), i_t);
  if (tracin.size() > 0) m["tracin.spearman_T"] = mean_row_spearman(tracin, i_t);
  const MatrixD infl = o.kernel == KernelChoice::trained ? i_t
                       : o.kernel == KernelChoice::init  ? i_0
                                                        : influence_on(infinite_kernels(in), sc, o);
  // M1.
  const Index top =
      std::max<Index>(1, static_cast<Index>(std::ceil(o.tau * static_cast<double>(n) - 1e-9)));
  const std::vector<Index> s = top_by_mean_abs(infl, top, o.top_signed);
  const MatrixD unit_train = io::normalize_rows(sc.data.x_train);
  const std::unique_ptr<nn::Model> attack_model = pixel_model(arm.net, kind, unit_train);
  MatrixD x_s(static_cast<Index>(s.size()), sc.data.x_train.cols());
  for (std::size_t a = 0; a < s.size(); ++a)
    x_s.row(static_cast<Index>(a)) = sc.data.x_train.row(s[a]);
  const nn::Targets t_s = sc.targets.subset(s);
  for (const AttackKind attack : o.attacks) {
    for (const double eps : o.epsilons) {
      AttackOptions ao;
      ao.kind = attack;
      ao.epsilon = eps;
      ao.steps = o.attack_steps;
      ao.step_fraction = o.pgd_step_fraction;
      ao.momentum = o.mim_momentum;
      const MatrixD x_adv = linf_attack(*attack_model, x_s, t_s, arm.loss, ao);
      ntk::KernelData d = sc.data;
      for (std::size_t a = 0; a < s.size(); ++a)
        d.x_train.row(s[a]) = x_adv.row(static_cast<Index>(a));
      const ntk::ModelInputs in_p = ntk::model_inputs(d, kind);
      Kernels kp;
      if (o.retrain) {
        const TrainedArm re = train_arm(cfg, in_p.train, sc.targets, net_seed);
        kp = chosen_kernels(o, re.net, re.init, in_p);
      } else {
        kp = chosen_kernels(o, arm.net, arm.init, in_p);
      }
      const FlipStats fs = flip_stats(infl, influence_on(kp, sc, o), s);
      m[attack_metric_key("fr", attack, eps)] = fs.fr;
      m[attack_metric_key("fr_margin", attack, eps)] = fs.fr_margin;
      m[attack_metric_key("rho", attack, eps)] = fs.rho;
    }
  }
  for (const auto& [key, v] : m3) m[key] = v;
  if (arm_id == 'b' && o.m4_points > 0) {
    measure_m4(sc, kind, o, arm, in, tracin, net_seed, m);
  }
  return rec;
}

}  // namespace

std::string_view to_string(KernelChoice k) {
  switch (k) {
    case KernelChoice::trained:
      return "trained";
    case KernelChoice::init:
      return "init";
    case KernelChoice::infinite:
      return "infinite";
  }
  return "?";
}

KernelChoice parse_kernel_choice(std::string_view name) {
  if (name == "trained") return KernelChoice::trained;
  if (name == "init") return KernelChoice::init;
  if (name == "infinite") return KernelChoice::infinite;
  throw UsageError(str_cat("unknown kernel '", name, "'; valid: trained, init, infinite"));
}

std::string attack_metric_key(const std::string& metric, AttackKind attack, double epsilon) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", epsilon);
  return str_cat(metric, ".", to_string(attack), ".", buf);
}

void validate_malleability_options(const MalleabilityOptions& o) {
  if (o.models.empty()) throw UsageError("malleability: --models is empty");
  if (!o.arm_a && !o.arm_b) throw UsageError("malleability: no training arm selected");
  if (o.seeds < 1) throw UsageError(str_cat("malleability: --seeds must be >= 1, got ", o.seeds));
  if (o.width < 2) throw UsageError(str_cat("malleability: --width must be >= 2, got ", o.width));
  if (!(o.tau > 0.0 && o.tau <= 1.0)) {
    throw UsageError(str_cat("malleability: --tau must be in (0, 1], got ", o.tau));
  }
  if (!(o.ridge > 0.0) || !std::isfinite(o.ridge)) {
    throw UsageError(str_cat("malleability: --ridge must be > 0, got ", o.ridge));
  }
  for (const double e : o.epsilons) {
    if (!(e >= 0.0 && e <= 1.0)) {
      throw UsageError(str_cat("malleability: --eps values must be in [0, 1], got ", e));
    }
  }
  if (!(o.lr_fraction_b > 0.0 && o.lr_fraction_b < 1.0)) {
    throw UsageError(
        str_cat("malleability: --lr-fraction-b must be in (0, 1), got ", o.lr_fraction_b));
  }
  if (o.attack_steps < 1) {
    throw UsageError(str_cat("malleability: --attack-steps must be >= 1, got ", o.attack_steps));
  }
}

std::int64_t malleability_work_units(const MalleabilityOptions& o) {
  return static_cast<std::int64_t>(o.models.size()) * ((o.arm_a ? 1 : 0) + (o.arm_b ? 1 : 0)) *
         o.seeds;
}

double malleability_memory_bytes(const MalleabilityOptions& o, Index n_train, Index n_test,
                                 Index dim, Index outputs) {
  const double m = static_cast<double>(o.width), n = static_cast<double>(n_train);
  return 8.0 * m *
             (static_cast<double>(dim + outputs) + 2.0 * static_cast<double>(n_train + n_test)) +
         8.0 * 8.0 * n * n;
}

MalleabilityResult run_malleability(const io::DataOptions& base, Index n_train, Index n_test,
                                    const MalleabilityOptions& o, Progress* progress) {
  validate_malleability_options(o);
  if (n_train < 4 || n_test < 1) {
    throw UsageError(str_cat("malleability: need --n-train >= 4 and --n-test >= 1, got ", n_train,
                             " and ", n_test));
  }
  if (o.m4_points > 0 && n_train > 300) {
    throw UsageError(
        str_cat("malleability: M4 retrains the network per left-out point; it needs "
                "--n-train <= 300, got ",
                n_train, " (or --m4-points 0)"));
  }
  Timer timer;
  MalleabilityResult r;
  r.options = o;
  r.n_train = n_train;
  r.n_test = n_test;
  for (Index s = 0; s < o.seeds; ++s) {
    io::DataOptions opts = base;
    const std::uint64_t data_seed =
        Rng::stream(o.seed, kDataStream + static_cast<std::uint64_t>(s)).next_u64();
    opts.seed = data_seed;
    SeedContext sc;
    sc.data = ntk::load_kernel_data(opts, n_train, n_test);
    if (!sc.data.has_labels()) throw UsageError("malleability: the data needs labels (--y)");
    sc.classes = sc.data.classes();
    if (sc.classes < 2) throw UsageError("malleability: need at least 2 classes");
    sc.targets = study_targets(sc.data.y_train, sc.classes);
    const nn::Targets tt = study_targets(sc.data.y_test, sc.classes);
    sc.test_targets = {tt.values, sc.data.y_test};
    if (s == 0) {
      r.classes = sc.classes;
      r.class_names = sc.data.class_names;
      r.source = sc.data.source;
    }
    const std::uint64_t net_seed =
        Rng::stream(o.seed, kNetStream + static_cast<std::uint64_t>(s)).next_u64();
    for (const ModelKind kind : o.models) {
      std::map<std::string, double> m3;
      measure_m3(sc, kind, o, m3);
      for (const char arm : {'a', 'b'}) {
        if ((arm == 'a' && !o.arm_a) || (arm == 'b' && !o.arm_b)) continue;
        MalleabilityRecord rec = run_one(sc, kind, arm, o, net_seed, m3);
        rec.seed_index = s;
        rec.data_seed = data_seed;
        r.records.push_back(std::move(rec));
        if (progress) progress->advance();
      }
    }
  }
  r.seconds = timer.seconds();
  return r;
}

std::vector<double> metric_values(const MalleabilityResult& r, ModelKind model, char arm,
                                  const std::string& key) {
  std::vector<double> v(static_cast<std::size_t>(r.options.seeds), kNaN);
  for (const MalleabilityRecord& rec : r.records) {
    if (rec.model != model || rec.arm != arm) continue;
    const auto it = rec.metrics.find(key);
    if (it != rec.metrics.end() && rec.seed_index >= 0 && rec.seed_index < r.options.seeds) {
      v[static_cast<std::size_t>(rec.seed_index)] = it->second;
    }
  }
  return v;
}

std::vector<RatioRow> ratio_table(const MalleabilityResult& r, std::uint64_t seed) {
  std::vector<RatioRow> rows;
  for (const char arm : {'a', 'b'}) {
    std::set<std::string> keys;
    for (const MalleabilityRecord& rec : r.records)
      if (rec.arm == arm && rec.model == ModelKind::attn)
        for (const auto& kv : rec.metrics) keys.insert(kv.first);
    for (const std::string& key : keys) {
      const std::vector<double> attn = metric_values(r, ModelKind::attn, arm, key);
      const std::vector<double> relu = metric_values(r, ModelKind::relu, arm, key);
      if (std::none_of(relu.begin(), relu.end(), [](double v) { return std::isfinite(v); }))
        continue;
      rows.push_back({arm, key, ratio_stats(attn, relu, seed)});
    }
  }
  return rows;
}

nlohmann::json to_json(const MalleabilityResult& r) {
  const MalleabilityOptions& o = r.options;
  nlohmann::json models = nlohmann::json::array(), attacks = nlohmann::json::array();
  for (const ModelKind k : o.models) models.push_back(std::string(ntk::to_string(k)));
  for (const AttackKind a : o.attacks) attacks.push_back(std::string(to_string(a)));
  nlohmann::json eps = nlohmann::json::array();
  for (const double e : o.epsilons) eps.push_back(e);
  nlohmann::json opts = {{"models", models},
                         {"arm_a", o.arm_a},
                         {"arm_b", o.arm_b},
                         {"seeds", o.seeds},
                         {"seed", o.seed},
                         {"width", o.width},
                         {"epochs_a", o.epochs_a},
                         {"lr_a", o.lr_a},
                         {"batch_a", o.batch_a},
                         {"weight_decay_a", o.weight_decay_a},
                         {"init_std_a", o.init_std_a},
                         {"steps_b", o.steps_b},
                         {"lr_fraction_b", o.lr_fraction_b},
                         {"tol_b", o.tol_b},
                         {"ridge", o.ridge},
                         {"target", std::string(to_string(o.target))},
                         {"kernel", std::string(to_string(o.kernel))},
                         {"tau", o.tau},
                         {"top", o.top_signed ? "signed" : "abs"},
                         {"attacks", attacks},
                         {"epsilons", eps},
                         {"attack_steps", o.attack_steps},
                         {"pgd_step_fraction", o.pgd_step_fraction},
                         {"mim_momentum", o.mim_momentum},
                         {"retrain", o.retrain},
                         {"m3_points", o.m3_points},
                         {"m4_points", o.m4_points},
                         {"m4_context", o.m4_keep_context ? "keep" : "drop"},
                         {"tracin_every", o.tracin_every}};
  nlohmann::json recs = nlohmann::json::array();
  for (const MalleabilityRecord& rec : r.records) {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [k, v] : rec.metrics) m[k] = ntk::json_number(v);
    recs.push_back({{"model", std::string(ntk::to_string(rec.model))},
                    {"arm", std::string(1, rec.arm)},
                    {"seed_index", rec.seed_index},
                    {"data_seed", rec.data_seed},
                    {"net_seed", rec.net_seed},
                    {"metrics", m}});
  }
  return {{"study", "malleability"},
          {"options", opts},
          {"data",
           {{"n_train", r.n_train},
            {"n_test", r.n_test},
            {"classes", r.classes},
            {"class_names", r.class_names},
            {"source", r.source}}},
          {"records", recs},
          {"seconds", r.seconds}};
}

MalleabilityResult malleability_from_json(const nlohmann::json& j) {
  try {
    MalleabilityResult r;
    if (j.at("study").get<std::string>() != "malleability") {
      throw FormatError("malleability JSON: 'study' is not 'malleability'");
    }
    const auto& o = j.at("options");
    MalleabilityOptions& p = r.options;
    p.models.clear();
    for (const auto& m : o.at("models"))
      p.models.push_back(ntk::parse_model_kind(m.get<std::string>()));
    p.arm_a = o.at("arm_a").get<bool>();
    p.arm_b = o.at("arm_b").get<bool>();
    p.seeds = o.at("seeds").get<Index>();
    p.seed = o.at("seed").get<std::uint64_t>();
    p.width = o.at("width").get<Index>();
    p.epochs_a = o.at("epochs_a").get<Index>();
    p.lr_a = o.at("lr_a").get<double>();
    p.batch_a = o.at("batch_a").get<Index>();
    p.weight_decay_a = o.at("weight_decay_a").get<double>();
    p.init_std_a = o.at("init_std_a").get<double>();
    p.steps_b = o.at("steps_b").get<Index>();
    p.lr_fraction_b = o.at("lr_fraction_b").get<double>();
    p.tol_b = o.at("tol_b").get<double>();
    p.ridge = o.at("ridge").get<double>();
    p.target = parse_influence_target(o.at("target").get<std::string>());
    p.kernel = parse_kernel_choice(o.at("kernel").get<std::string>());
    p.tau = o.at("tau").get<double>();
    p.top_signed = o.value("top", std::string("abs")) == "signed";
    p.attacks.clear();
    for (const auto& a : o.at("attacks"))
      p.attacks.push_back(parse_attack_kind(a.get<std::string>()));
    p.epsilons = o.at("epsilons").get<std::vector<double>>();
    p.attack_steps = o.at("attack_steps").get<Index>();
    p.pgd_step_fraction = o.at("pgd_step_fraction").get<double>();
    p.mim_momentum = o.at("mim_momentum").get<double>();
    p.retrain = o.at("retrain").get<bool>();
    p.m3_points = o.at("m3_points").get<Index>();
    p.m4_points = o.at("m4_points").get<Index>();
    p.m4_keep_context = o.value("m4_context", std::string("drop")) == "keep";
    p.tracin_every = o.at("tracin_every").get<Index>();
    const auto& d = j.at("data");
    r.n_train = d.at("n_train").get<Index>();
    r.n_test = d.at("n_test").get<Index>();
    r.classes = d.at("classes").get<Index>();
    r.class_names = d.at("class_names").get<std::vector<std::string>>();
    r.source = d.at("source").get<std::string>();
    for (const auto& rec : j.at("records")) {
      MalleabilityRecord x;
      x.model = ntk::parse_model_kind(rec.at("model").get<std::string>());
      const std::string arm = rec.at("arm").get<std::string>();
      if (arm != "a" && arm != "b") throw FormatError("malleability JSON: arm must be 'a' or 'b'");
      x.arm = arm[0];
      x.seed_index = rec.at("seed_index").get<Index>();
      x.data_seed = rec.at("data_seed").get<std::uint64_t>();
      x.net_seed = rec.at("net_seed").get<std::uint64_t>();
      for (const auto& [k, v] : rec.at("metrics").items()) x.metrics[k] = ntk::number_from_json(v);
      r.records.push_back(std::move(x));
    }
    r.seconds = j.at("seconds").get<double>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("malleability JSON: ", e.what()));
  } catch (const UsageError& e) {
    throw FormatError(str_cat("malleability JSON: ", e.what()));
  }
}

}  // namespace attnlab::analysis::influence
