#include "attnlab/analysis/ntk/convergence.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/analysis/ntk/empirical_ntk.hpp"
#include "attnlab/analysis/ntk/kernel_regression.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/nn/relu_span_gd.hpp"
#include "attnlab/nn/train.hpp"

namespace attnlab::analysis::ntk {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Everything about one model that does not depend on the width or seed.
struct ModelContext {
  ModelKind kind = ModelKind::relu;
  ModelInputs inputs;                       // unit rows the MLP sees
  KernelReference reference;                // Θ∞ on the training rows
  MatrixD theta_inf_test;                   // [n_test, n]
  MatrixD f_ntk;                            // [n_test, outputs] ridge predictor (arms only)
  std::optional<KernelGradientDescent> gd;  // for arm B's time-matched predictor
  ModelReference summary;
};

std::uint64_t net_seed_for(std::uint64_t seed, Index width, Index s) {
  return Rng::stream(seed,
                     static_cast<std::uint64_t>(width) * 1000003ull + static_cast<std::uint64_t>(s))
      .next_u64();
}

std::vector<std::uint8_t> sign_bits(const nn::TwoLayerRelu& net, const MatrixD& x) {
  const MatrixD h = net.preactivations(x);
  std::vector<std::uint8_t> bits(static_cast<std::size_t>(h.size()));
  for (Index i = 0; i < h.size(); ++i) bits[static_cast<std::size_t>(i)] = h.data()[i] > 0.0;
  return bits;
}

double flip_share(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  if (a.empty()) return 0.0;
  std::size_t flips = 0;
  for (std::size_t i = 0; i < a.size(); ++i) flips += a[i] != b[i];
  return static_cast<double>(flips) / static_cast<double>(a.size());
}

struct Problem {
  const KernelData* data = nullptr;
  nn::Targets targets;  // training targets
  Index outputs = 1;
  Index n = 0;
};

// Kernel, prediction and accuracy metrics of a trained arm; returns f_m(X_test) [n_test, C].
MatrixD finish_arm(ArmOutcome& out, const nn::TwoLayerRelu& net, const ModelContext& ctx,
                   const Problem& p, const MatrixD& theta_0,
                   const std::vector<std::uint8_t>& signs_0) {
  const MatrixD theta_t = empirical_ntk(net, ctx.inputs.train);
  const KernelDeviation dev = kernel_deviation(theta_t, ctx.reference);
  out.rel_frob_t = dev.rel_frob;
  out.spec_ratio_t = dev.spec_ratio;
  out.drift = kernel_drift(theta_t, theta_0);
  out.pattern_flips = flip_share(signs_0, sign_bits(net, ctx.inputs.train));
  const MatrixD out_test = nn::predict(net, ctx.inputs.test);
  const MatrixD out_train = nn::predict(net, ctx.inputs.train);
  out.out_norm = out_test.norm();
  const double ntk_norm = ctx.f_ntk.norm();
  out.dist_abs = (out_test - ctx.f_ntk).norm();
  out.dist_rel = ntk_norm > 0.0 ? out.dist_abs / ntk_norm : kNaN;
  out.train_acc = nn::accuracy(out_train, p.data->y_train);
  out.test_acc = nn::accuracy(out_test, p.data->y_test);
  return out_test;
}

ArmOutcome run_arm_a(const ModelContext& ctx, const Problem& p, const ConvergenceOptions& o,
                     Index width, std::uint64_t net_seed) {
  Timer timer;
  ArmOutcome out;
  out.ran = true;
  const Index D = ctx.inputs.train.cols();
  nn::TwoLayerRelu net = nn::TwoLayerRelu::random(
      D, width, p.outputs, {.w_std = o.init_std_a, .antisymmetric = false}, net_seed);
  net.set_gemm_precision(o.train_precision);
  const MatrixD theta_0 = empirical_ntk(net, ctx.inputs.train);
  const KernelDeviation dev0 = kernel_deviation(theta_0, ctx.reference);
  out.rel_frob_0 = dev0.rel_frob;
  out.spec_ratio_0 = dev0.spec_ratio;
  const std::vector<std::uint8_t> signs_0 = sign_bits(net, ctx.inputs.train);
  nn::TrainConfig cfg = nn::paper_recipe(*o.loss_a, o.epochs_a, net_seed);
  cfg.lr = o.lr_a;
  cfg.batch_size = o.batch_a;
  cfg.weight_decay = o.weight_decay_a;
  cfg.history_every = 0;
  const nn::TrainResult tr = nn::train(net, ctx.inputs.train, p.targets, cfg);
  out.initial_loss = tr.initial_loss;
  out.final_loss = tr.final_loss;
  out.steps = tr.steps;
  out.epochs = tr.epochs;
  out.lr = o.lr_a;
  out.lambda_max_0 = kNaN;
  out.dist_gd_abs = out.dist_gd_rel = kNaN;
  net.set_gemm_precision(nn::GemmPrecision::fp64);
  finish_arm(out, net, ctx, p, theta_0, signs_0);
  out.seconds = timer.seconds();
  return out;
}

ArmOutcome run_arm_b(const ModelContext& ctx, const Problem& p, const ConvergenceOptions& o,
                     Index width, std::uint64_t net_seed) {
  Timer timer;
  ArmOutcome out;
  out.ran = true;
  const Index D = ctx.inputs.train.cols();
  nn::TwoLayerRelu net = nn::TwoLayerRelu::random(
      D, width, p.outputs, {.w_std = 1.0, .antisymmetric = o.antisymmetric_b}, net_seed);
  const MatrixD theta_0 = empirical_ntk(net, ctx.inputs.train);
  const KernelDeviation dev0 = kernel_deviation(theta_0, ctx.reference);
  out.rel_frob_0 = dev0.rel_frob;
  out.spec_ratio_0 = dev0.spec_ratio;
  const std::vector<std::uint8_t> signs_0 = sign_bits(net, ctx.inputs.train);
  // Every unit inactive on every training row (small widths on nonnegative pixels): Θ_0 = 0, so
  // there is no gradient and no stable step. The arm is recorded as not run for this seed.
  if (std::all_of(signs_0.begin(), signs_0.end(), [](std::uint8_t b) { return b == 0; })) {
    return ArmOutcome{};
  }
  if (p.outputs == 1) {
    const VectorD ev = symmetric_eigenvalues(theta_0, "arm B: Θ_0");
    out.lambda_max_0 = ev(ev.size() - 1);
  } else {
    // The Rayleigh quotient settles on the top cluster of C near-equal eigenvalues (spread
    // ~1/√m relative) within a few iterations; a 1e-3 stop keeps η = fraction·2n/λ far below
    // the bound (fraction < 1 absorbs any residual underestimate).
    out.lambda_max_0 = full_ntk_lambda_max(net, ctx.inputs.train, 50, 1e-3);
  }
  out.lr = o.lr_fraction_b * nn::gd_stable_lr(out.lambda_max_0, p.n);
  nn::SpanGdConfig cfg;
  cfg.lr = out.lr;
  cfg.max_steps = o.steps_b;
  cfg.loss_tolerance = o.tol_b;
  cfg.precision = o.train_precision;
  cfg.history_every = 0;
  const nn::TrainResult tr = nn::train_gd_span(net, ctx.inputs.train, p.targets, cfg);
  out.initial_loss = tr.initial_loss;
  out.final_loss = tr.final_loss;
  out.steps = tr.steps;
  out.epochs = tr.epochs;
  const MatrixD out_test = finish_arm(out, net, ctx, p, theta_0, signs_0);
  const MatrixD f_gd = ctx.gd->predict(ctx.theta_inf_test, out.lr, out.steps);
  out.dist_gd_abs = (out_test - f_gd).norm();
  const double gd_norm = f_gd.norm();
  out.dist_gd_rel = gd_norm > 0.0 ? out.dist_gd_abs / gd_norm : kNaN;
  out.seconds = timer.seconds();
  return out;
}

ModelContext make_context(ModelKind kind, const KernelData& data, const Problem& p,
                          const ConvergenceOptions& o, bool arms) {
  ModelContext ctx;
  ctx.kind = kind;
  ctx.inputs = model_inputs(data, kind);
  const MatrixD& xt = ctx.inputs.train;
  ctx.reference = make_kernel_reference(relu_ntk_infinite(xt));
  ModelReference& s = ctx.summary;
  s.model = kind;
  s.theta_inf = ctx.reference.spectrum;
  MatrixD gram(xt.rows(), xt.rows());
  gemm(Trans::no, Trans::yes, xt.rows(), xt.rows(), xt.cols(), 1.0, xt.data(), xt.cols(), xt.data(),
       xt.cols(), 0.0, gram.data(), xt.rows());
  const VectorD gev = symmetric_eigenvalues(gram, "input Gram");
  s.input_gram_lambda_max = gev(gev.size() - 1);
  s.bernstein_width = bernstein_width(s.input_gram_lambda_max, s.theta_inf.lambda_max,
                                      s.theta_inf.lambda_min, xt.rows(), o.bernstein_delta);
  s.ridge = o.ridge_relative ? relative_ridge(ctx.reference.kernel, o.ridge) : o.ridge;
  s.ntk_norm = s.ntk_train_acc = s.ntk_test_acc = kNaN;
  if (arms) {
    ctx.theta_inf_test = relu_ntk_infinite(ctx.inputs.test, xt);
    const KernelRidge krr(ctx.reference.kernel, p.targets.values, s.ridge);
    ctx.f_ntk = krr.predict(ctx.theta_inf_test);
    s.ntk_norm = ctx.f_ntk.norm();
    s.ntk_train_acc = nn::accuracy(krr.predict(ctx.reference.kernel), data.y_train);
    s.ntk_test_acc = nn::accuracy(ctx.f_ntk, data.y_test);
    if (o.arm_b) ctx.gd.emplace(ctx.reference.kernel, p.targets.values);
  }
  return ctx;
}

void fill_fits(ConvergenceResult& r) {
  for (ModelReference& ref : r.references) {
    std::vector<double> w, rf, sr;
    for (const WidthStats& ws : summarize_metric(r, ref.model, "rel_frob_init")) {
      w.push_back(static_cast<double>(ws.width));
      rf.push_back(ws.stats.mean);
    }
    for (const WidthStats& ws : summarize_metric(r, ref.model, "spec_ratio_init")) {
      sr.push_back(ws.stats.mean);
    }
    ref.rel_frob_fit = SlopeFit{kNaN, kNaN, kNaN, 0};
    ref.spec_ratio_fit = SlopeFit{kNaN, kNaN, kNaN, 0};
    ref.empirical_width_half = kNaN;
    try {
      ref.rel_frob_fit = fit_loglog_slope(w, rf);
    } catch (const UsageError&) {
      // fewer than two usable widths: no fit
    }
    try {
      ref.spec_ratio_fit = fit_loglog_slope(w, sr);
      ref.empirical_width_half = empirical_threshold_width(ref.spec_ratio_fit, 0.5);
    } catch (const UsageError&) {
    }
  }
}

}  // namespace

void validate_convergence_options(const ConvergenceOptions& o) {
  if (o.widths.empty()) throw UsageError("ntk: no widths given");
  for (const Index m : o.widths) {
    if (m < 2) throw UsageError(str_cat("ntk: widths must be >= 2, got ", m));
    if (o.arm_b && o.antisymmetric_b && m % 2 != 0) {
      throw UsageError(str_cat("ntk: arm B's antisymmetric init needs even widths, got ", m,
                               " (or turn the antisymmetric init off)"));
    }
  }
  if (o.seeds < 1) throw UsageError(str_cat("ntk: need at least 1 seed, got ", o.seeds));
  if (o.models.empty()) throw UsageError("ntk: no models selected");
  if (o.epochs_a < 0 || o.steps_b < 0) {
    throw UsageError(
        str_cat("ntk: epochs and steps must be >= 0, got ", o.epochs_a, " and ", o.steps_b));
  }
  if (!(o.lr_a > 0.0) || o.batch_a < 1 || !(o.weight_decay_a >= 0.0) || !(o.init_std_a > 0.0)) {
    throw UsageError(str_cat(
        "ntk: arm A needs lr > 0, batch >= 1, weight decay >= 0, init std > "
        "0; got lr=",
        o.lr_a, " batch=", o.batch_a, " wd=", o.weight_decay_a, " init_std=", o.init_std_a));
  }
  if (!(o.lr_fraction_b > 0.0 && o.lr_fraction_b < 1.0)) {
    throw UsageError(
        str_cat("ntk: arm B's step fraction must lie in (0, 1) so that η < 2n/λ_max, "
                "got ",
                o.lr_fraction_b));
  }
  if (!(o.tol_b >= 0.0)) throw UsageError(str_cat("ntk: tolerance must be >= 0, got ", o.tol_b));
  if (!(o.ridge > 0.0) || !std::isfinite(o.ridge)) {
    throw UsageError(str_cat("ntk: ridge must be > 0, got ", o.ridge));
  }
  if (!(o.bernstein_delta > 0.0 && o.bernstein_delta < 1.0)) {
    throw UsageError(str_cat("ntk: delta must lie in (0, 1), got ", o.bernstein_delta));
  }
}

std::int64_t convergence_work_units(const ConvergenceOptions& o) {
  std::int64_t total = 0;
  for (const Index m : o.widths) total += m;
  return total * o.seeds * static_cast<std::int64_t>(o.models.size());
}

double convergence_memory_bytes(const ConvergenceOptions& o, Index n_train, Index n_test, Index dim,
                                Index outputs) {
  double widest = 0;
  for (const Index m : o.widths) widest = std::max(widest, static_cast<double>(m));
  const double rows = static_cast<double>(n_train + n_test);
  const double n = static_cast<double>(n_train);
  return 8.0 * widest * (4.0 * static_cast<double>(dim + outputs) + 4.0 * rows) + 8.0 * 6.0 * n * n;
}

ConvergenceResult run_ntk_convergence(const KernelData& data, const ConvergenceOptions& o_in,
                                      Progress* progress) {
  validate_convergence_options(o_in);
  Timer total;
  ConvergenceResult r;
  r.options = o_in;
  ConvergenceOptions& o = r.options;
  const bool arms = o.arm_a || o.arm_b;
  const Index n = data.x_train.rows();
  if (n < 2) throw UsageError(str_cat("ntk: need at least 2 training rows, got ", n));
  if (arms) {
    if (!data.has_labels()) {
      throw UsageError(
          "ntk: the training arms need labels (--y y.npy); use --arms none to "
          "measure the kernels at initialization only");
    }
    if (data.x_test.rows() < 1) throw UsageError("ntk: the training arms need test rows");
  }
  const Index C = data.classes();
  Problem p;
  p.data = &data;
  p.n = n;
  if (data.has_labels()) {
    if (C < 2) throw UsageError(str_cat("ntk: need at least 2 classes, got ", C));
    if (!o.encoding) {
      o.encoding =
          C == 2 ? nn::TargetEncoding::plus_minus_one : nn::TargetEncoding::centered_one_hot;
    }
    if (!o.loss_a) o.loss_a = C == 2 ? nn::LossKind::mse : nn::LossKind::cross_entropy;
    if (*o.loss_a == nn::LossKind::cross_entropy &&
        *o.encoding == nn::TargetEncoding::plus_minus_one) {
      throw UsageError(
          "ntk: cross-entropy (arm A) needs one output per class; use --targets "
          "onehot or centered, or --loss-a mse");
    }
    p.targets = nn::encode_targets(data.y_train, C, *o.encoding);
    p.outputs = p.targets.outputs();
  } else {
    if (!o.encoding) o.encoding = nn::TargetEncoding::plus_minus_one;
    if (!o.loss_a) o.loss_a = nn::LossKind::mse;
    p.outputs = 1;
  }
  r.n_train = n;
  r.n_test = data.x_test.rows();
  r.dim = data.x_train.cols();
  r.classes = C;
  r.outputs = p.outputs;
  r.class_names = data.class_names;
  r.source = data.source;

  std::vector<ModelContext> contexts;
  for (const ModelKind kind : o.models) contexts.push_back(make_context(kind, data, p, o, arms));

  for (const Index m : o.widths) {
    for (Index s = 0; s < o.seeds; ++s) {
      const std::uint64_t net_seed = net_seed_for(o.seed, m, s);
      for (const ModelContext& ctx : contexts) {
        ConvergenceRecord rec;
        rec.model = ctx.kind;
        rec.width = m;
        rec.seed_index = s;
        rec.net_seed = net_seed;
        const nn::TwoLayerRelu init = nn::TwoLayerRelu::random(ctx.inputs.train.cols(), m,
                                                               p.outputs, {.w_std = 1.0}, net_seed);
        const KernelDeviation dev =
            kernel_deviation(empirical_ntk(init, ctx.inputs.train), ctx.reference);
        rec.rel_frob_init = dev.rel_frob;
        rec.spec_norm_init = dev.spec_norm;
        rec.spec_ratio_init = dev.spec_ratio;
        if (o.arm_a) rec.a = run_arm_a(ctx, p, o, m, net_seed);
        if (o.arm_b) rec.b = run_arm_b(ctx, p, o, m, net_seed);
        r.records.push_back(rec);
        if (progress != nullptr) progress->advance(m);
      }
    }
  }
  for (const ModelContext& ctx : contexts) r.references.push_back(ctx.summary);
  fill_fits(r);
  r.seconds = total.seconds();
  return r;
}

double record_metric(const ConvergenceRecord& rec, std::string_view key) {
  if (key == "rel_frob_init") return rec.rel_frob_init;
  if (key == "spec_ratio_init") return rec.spec_ratio_init;
  if (key == "spec_norm_init") return rec.spec_norm_init;
  if (key.size() > 2 && (key[0] == 'a' || key[0] == 'b') && key[1] == '.') {
    const ArmOutcome& a = key[0] == 'a' ? rec.a : rec.b;
    const std::string_view f = key.substr(2);
    double v = kNaN;
    bool known = true;
    if (f == "rel_frob_0")
      v = a.rel_frob_0;
    else if (f == "spec_ratio_0")
      v = a.spec_ratio_0;
    else if (f == "rel_frob_t")
      v = a.rel_frob_t;
    else if (f == "spec_ratio_t")
      v = a.spec_ratio_t;
    else if (f == "drift")
      v = a.drift;
    else if (f == "pattern_flips")
      v = a.pattern_flips;
    else if (f == "dist_abs")
      v = a.dist_abs;
    else if (f == "dist_rel")
      v = a.dist_rel;
    else if (f == "dist_gd_abs")
      v = a.dist_gd_abs;
    else if (f == "dist_gd_rel")
      v = a.dist_gd_rel;
    else if (f == "out_norm")
      v = a.out_norm;
    else if (f == "train_acc")
      v = a.train_acc;
    else if (f == "test_acc")
      v = a.test_acc;
    else if (f == "initial_loss")
      v = a.initial_loss;
    else if (f == "final_loss")
      v = a.final_loss;
    else if (f == "steps")
      v = static_cast<double>(a.steps);
    else if (f == "lr")
      v = a.lr;
    else if (f == "lambda_max_0")
      v = a.lambda_max_0;
    else if (f == "seconds")
      v = a.seconds;
    else
      known = false;
    if (known) return a.ran ? v : kNaN;
  }
  throw UsageError(str_cat("record_metric: unknown metric '", key, "'"));
}

std::vector<WidthStats> summarize_metric(const ConvergenceResult& r, ModelKind model,
                                         std::string_view key) {
  std::map<Index, std::vector<double>> by_width;
  for (const ConvergenceRecord& rec : r.records) {
    if (rec.model == model) by_width[rec.width].push_back(record_metric(rec, key));
  }
  std::vector<WidthStats> out;
  for (const auto& [w, values] : by_width) out.push_back({w, sample_stats(values)});
  return out;
}

// ---- JSON ---------------------------------------------------------------------------------------

namespace {

nlohmann::json arm_to_json(const ArmOutcome& a) {
  if (!a.ran) return nullptr;
  return {{"rel_frob_0", json_number(a.rel_frob_0)},
          {"spec_ratio_0", json_number(a.spec_ratio_0)},
          {"rel_frob_t", json_number(a.rel_frob_t)},
          {"spec_ratio_t", json_number(a.spec_ratio_t)},
          {"drift", json_number(a.drift)},
          {"pattern_flips", json_number(a.pattern_flips)},
          {"dist_abs", json_number(a.dist_abs)},
          {"dist_rel", json_number(a.dist_rel)},
          {"dist_gd_abs", json_number(a.dist_gd_abs)},
          {"dist_gd_rel", json_number(a.dist_gd_rel)},
          {"out_norm", json_number(a.out_norm)},
          {"train_acc", json_number(a.train_acc)},
          {"test_acc", json_number(a.test_acc)},
          {"initial_loss", json_number(a.initial_loss)},
          {"final_loss", json_number(a.final_loss)},
          {"steps", a.steps},
          {"epochs", a.epochs},
          {"lr", json_number(a.lr)},
          {"lambda_max_0", json_number(a.lambda_max_0)},
          {"seconds", json_number(a.seconds)}};
}

ArmOutcome arm_from_json(const nlohmann::json& j) {
  ArmOutcome a;
  if (j.is_null()) return a;
  a.ran = true;
  a.rel_frob_0 = number_from_json(j.at("rel_frob_0"));
  a.spec_ratio_0 = number_from_json(j.at("spec_ratio_0"));
  a.rel_frob_t = number_from_json(j.at("rel_frob_t"));
  a.spec_ratio_t = number_from_json(j.at("spec_ratio_t"));
  a.drift = number_from_json(j.at("drift"));
  a.pattern_flips = number_from_json(j.at("pattern_flips"));
  a.dist_abs = number_from_json(j.at("dist_abs"));
  a.dist_rel = number_from_json(j.at("dist_rel"));
  a.dist_gd_abs = number_from_json(j.at("dist_gd_abs"));
  a.dist_gd_rel = number_from_json(j.at("dist_gd_rel"));
  a.out_norm = number_from_json(j.at("out_norm"));
  a.train_acc = number_from_json(j.at("train_acc"));
  a.test_acc = number_from_json(j.at("test_acc"));
  a.initial_loss = number_from_json(j.at("initial_loss"));
  a.final_loss = number_from_json(j.at("final_loss"));
  a.steps = j.at("steps").get<Index>();
  a.epochs = j.at("epochs").get<Index>();
  a.lr = number_from_json(j.at("lr"));
  a.lambda_max_0 = number_from_json(j.at("lambda_max_0"));
  a.seconds = number_from_json(j.at("seconds"));
  return a;
}

nlohmann::json options_to_json(const ConvergenceOptions& o) {
  nlohmann::json models = nlohmann::json::array();
  for (const ModelKind k : o.models) models.push_back(std::string(to_string(k)));
  return {{"widths", o.widths},
          {"seeds", o.seeds},
          {"seed", o.seed},
          {"models", models},
          {"arm_a", o.arm_a},
          {"arm_b", o.arm_b},
          {"targets", o.encoding ? std::string(nn::to_string(*o.encoding)) : "auto"},
          {"loss_a", o.loss_a ? std::string(nn::to_string(*o.loss_a)) : "auto"},
          {"epochs_a", o.epochs_a},
          {"lr_a", o.lr_a},
          {"batch_a", o.batch_a},
          {"weight_decay_a", o.weight_decay_a},
          {"init_std_a", o.init_std_a},
          {"steps_b", o.steps_b},
          {"lr_fraction_b", o.lr_fraction_b},
          {"tol_b", o.tol_b},
          {"antisymmetric_b", o.antisymmetric_b},
          {"ridge", o.ridge},
          {"ridge_relative", o.ridge_relative},
          {"train_precision", o.train_precision == nn::GemmPrecision::fp32 ? "fp32" : "fp64"},
          {"bernstein_delta", o.bernstein_delta}};
}

ConvergenceOptions options_from_json(const nlohmann::json& j) {
  ConvergenceOptions o;
  o.widths = j.at("widths").get<std::vector<Index>>();
  o.seeds = j.at("seeds").get<Index>();
  o.seed = j.at("seed").get<std::uint64_t>();
  o.models.clear();
  for (const auto& m : j.at("models")) o.models.push_back(parse_model_kind(m.get<std::string>()));
  o.arm_a = j.at("arm_a").get<bool>();
  o.arm_b = j.at("arm_b").get<bool>();
  const std::string targets = j.at("targets").get<std::string>();
  if (targets != "auto") o.encoding = nn::parse_target_encoding(targets);
  const std::string loss = j.at("loss_a").get<std::string>();
  if (loss != "auto") o.loss_a = nn::parse_loss(loss);
  o.epochs_a = j.at("epochs_a").get<Index>();
  o.lr_a = j.at("lr_a").get<double>();
  o.batch_a = j.at("batch_a").get<Index>();
  o.weight_decay_a = j.at("weight_decay_a").get<double>();
  o.init_std_a = j.at("init_std_a").get<double>();
  o.steps_b = j.at("steps_b").get<Index>();
  o.lr_fraction_b = j.at("lr_fraction_b").get<double>();
  o.tol_b = j.at("tol_b").get<double>();
  o.antisymmetric_b = j.at("antisymmetric_b").get<bool>();
  o.ridge = j.at("ridge").get<double>();
  o.ridge_relative = j.at("ridge_relative").get<bool>();
  o.train_precision = j.at("train_precision").get<std::string>() == "fp32"
                          ? nn::GemmPrecision::fp32
                          : nn::GemmPrecision::fp64;
  o.bernstein_delta = j.at("bernstein_delta").get<double>();
  return o;
}

}  // namespace

nlohmann::json to_json(const ConvergenceResult& r) {
  nlohmann::json refs = nlohmann::json::array();
  for (const ModelReference& m : r.references) {
    refs.push_back({{"model", std::string(to_string(m.model))},
                    {"theta_inf", to_json(m.theta_inf)},
                    {"input_gram_lambda_max", json_number(m.input_gram_lambda_max)},
                    {"bernstein_width", json_number(m.bernstein_width)},
                    {"ridge", json_number(m.ridge)},
                    {"ntk_norm", json_number(m.ntk_norm)},
                    {"ntk_train_acc", json_number(m.ntk_train_acc)},
                    {"ntk_test_acc", json_number(m.ntk_test_acc)},
                    {"rel_frob_fit", to_json(m.rel_frob_fit)},
                    {"spec_ratio_fit", to_json(m.spec_ratio_fit)},
                    {"empirical_width_half", json_number(m.empirical_width_half)}});
  }
  nlohmann::json recs = nlohmann::json::array();
  for (const ConvergenceRecord& c : r.records) {
    recs.push_back({{"model", std::string(to_string(c.model))},
                    {"width", c.width},
                    {"seed_index", c.seed_index},
                    {"net_seed", c.net_seed},
                    {"rel_frob_init", json_number(c.rel_frob_init)},
                    {"spec_norm_init", json_number(c.spec_norm_init)},
                    {"spec_ratio_init", json_number(c.spec_ratio_init)},
                    {"a", arm_to_json(c.a)},
                    {"b", arm_to_json(c.b)}});
  }
  return {{"study", "ntk_convergence"},
          {"options", options_to_json(r.options)},
          {"data",
           {{"n_train", r.n_train},
            {"n_test", r.n_test},
            {"dim", r.dim},
            {"classes", r.classes},
            {"outputs", r.outputs},
            {"class_names", r.class_names},
            {"source", r.source}}},
          {"references", refs},
          {"records", recs},
          {"seconds", json_number(r.seconds)}};
}

ConvergenceResult convergence_from_json(const nlohmann::json& j) {
  try {
    if (j.at("study").get<std::string>() != "ntk_convergence") {
      throw FormatError("not an ntk_convergence result");
    }
    ConvergenceResult r;
    r.options = options_from_json(j.at("options"));
    const auto& d = j.at("data");
    r.n_train = d.at("n_train").get<Index>();
    r.n_test = d.at("n_test").get<Index>();
    r.dim = d.at("dim").get<Index>();
    r.classes = d.at("classes").get<Index>();
    r.outputs = d.at("outputs").get<Index>();
    r.class_names = d.at("class_names").get<std::vector<std::string>>();
    r.source = d.at("source").get<std::string>();
    for (const auto& m : j.at("references")) {
      ModelReference ref;
      ref.model = parse_model_kind(m.at("model").get<std::string>());
      ref.theta_inf = spectrum_from_json(m.at("theta_inf"));
      ref.input_gram_lambda_max = number_from_json(m.at("input_gram_lambda_max"));
      ref.bernstein_width = number_from_json(m.at("bernstein_width"));
      ref.ridge = number_from_json(m.at("ridge"));
      ref.ntk_norm = number_from_json(m.at("ntk_norm"));
      ref.ntk_train_acc = number_from_json(m.at("ntk_train_acc"));
      ref.ntk_test_acc = number_from_json(m.at("ntk_test_acc"));
      ref.rel_frob_fit = slope_fit_from_json(m.at("rel_frob_fit"));
      ref.spec_ratio_fit = slope_fit_from_json(m.at("spec_ratio_fit"));
      ref.empirical_width_half = number_from_json(m.at("empirical_width_half"));
      r.references.push_back(ref);
    }
    for (const auto& c : j.at("records")) {
      ConvergenceRecord rec;
      rec.model = parse_model_kind(c.at("model").get<std::string>());
      rec.width = c.at("width").get<Index>();
      rec.seed_index = c.at("seed_index").get<Index>();
      rec.net_seed = c.at("net_seed").get<std::uint64_t>();
      rec.rel_frob_init = number_from_json(c.at("rel_frob_init"));
      rec.spec_norm_init = number_from_json(c.at("spec_norm_init"));
      rec.spec_ratio_init = number_from_json(c.at("spec_ratio_init"));
      rec.a = arm_from_json(c.at("a"));
      rec.b = arm_from_json(c.at("b"));
      r.records.push_back(rec);
    }
    r.seconds = number_from_json(j.at("seconds"));
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("ntk convergence result JSON: ", e.what()));
  } catch (const UsageError& e) {
    throw FormatError(str_cat("ntk convergence result JSON: ", e.what()));
  }
}

}  // namespace attnlab::analysis::ntk
