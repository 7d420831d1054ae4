// attnlab ntk — NTK (non-)convergence of 2L-ReLU vs MLP-Attn over widths, seeds and the two
// training arms (SCIENCE.md §2). The default is the full sweep (widths 16…16384, 5 seeds, both
// models, both arms) on 500 train / 200 test Fashion-MNIST rows, with a progress bar on stderr.
//
//   attnlab ntk [--widths 16,64,256,1024,4096,16384] [--seeds 5] [--models relu,attn]
//               [--arms ab|a|b|none] [--classes all|0,6] [--n-train 500] [--n-test 200]
//               [--epochs-a 100] [--steps-b 500] [--ridge 1e-3] ... [--json R.json]
//
// Prints a per-width summary (means over seeds) on stdout; --json writes the full result
// envelope (every record) all or nothing.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/study_data_options.hpp"
#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/ntk/convergence.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory_limit.hpp"
#include "attnlab/core/progress.hpp"

namespace attnlab::cli {
namespace {

namespace ntk = analysis::ntk;

struct NtkFlags : ArmAFlags, ArmBFlags {
  CommonOptions common;
  StudyDataFlags data;
  std::string classes = "all";
  Index n_train = 500, n_test = 200;
  std::vector<Index> widths = {16, 64, 256, 1024, 4096, 16384};
  Index seeds = 5;
  std::vector<std::string> models = {"relu", "attn"};
  std::string arms = "ab";
  std::string targets = "auto";
  std::string loss_a = "auto";
  std::string init_b = "antisymmetric";
  double ridge = 1e-3;
  bool ridge_relative = false;
  std::string precision = "fp32";
  double delta = 0.05;
  bool quick = false;
  std::string max_memory;
};

// --quick: the report's quick budget for every budget flag not given explicitly.
void apply_quick_budget(NtkFlags& f, const CLI::App& cmd) {
  const analysis::ConvergenceBudget b = analysis::convergence_budget(true);
  if (!flag_given(cmd, "--widths")) f.widths = b.options.widths;
  if (!flag_given(cmd, "--seeds")) f.seeds = b.options.seeds;
  if (!flag_given(cmd, "--epochs-a")) f.epochs_a = b.options.epochs_a;
  if (!flag_given(cmd, "--steps-b")) f.steps_b = b.options.steps_b;
  if (!flag_given(cmd, "--n-train")) f.n_train = b.n_train;
  if (!flag_given(cmd, "--n-test")) f.n_test = b.n_test;
}

ntk::ConvergenceOptions to_options(const NtkFlags& f) {
  ntk::ConvergenceOptions o;
  o.widths = f.widths;
  o.seeds = f.seeds;
  o.seed = f.common.seed;
  o.models.clear();
  for (const std::string& m : f.models) o.models.push_back(ntk::parse_model_kind(m));
  if (f.arms != "ab" && f.arms != "a" && f.arms != "b" && f.arms != "none") {
    throw UsageError(str_cat("--arms: expected ab, a, b or none, got '", f.arms, "'"));
  }
  o.arm_a = f.arms == "ab" || f.arms == "a";
  o.arm_b = f.arms == "ab" || f.arms == "b";
  if (f.targets != "auto") o.encoding = nn::parse_target_encoding(f.targets);
  if (f.loss_a != "auto") o.loss_a = nn::parse_loss(f.loss_a);
  o.epochs_a = f.epochs_a;
  o.lr_a = f.lr_a;
  o.batch_a = f.batch_a;
  o.weight_decay_a = f.weight_decay_a;
  o.init_std_a = f.init_std_a;
  o.steps_b = f.steps_b;
  o.lr_fraction_b = f.lr_fraction_b;
  o.tol_b = f.tol_b;
  o.antisymmetric_b = f.init_b == "antisymmetric";
  o.ridge = f.ridge;
  o.ridge_relative = f.ridge_relative;
  o.train_precision = f.precision == "fp64" ? nn::GemmPrecision::fp64 : nn::GemmPrecision::fp32;
  o.bernstein_delta = f.delta;
  ntk::validate_convergence_options(o);
  return o;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

double mean_of(const ntk::ConvergenceResult& r, ntk::ModelKind m, const char* key, Index width) {
  for (const auto& ws : ntk::summarize_metric(r, m, key))
    if (ws.width == width) return ws.stats.mean;
  return std::nan("");
}

void print_summary(const ntk::ConvergenceResult& r) {
  const auto& o = r.options;
  std::printf("NTK convergence — %s\n", r.source.c_str());
  std::printf(
      "n_train %ld, n_test %ld, D %ld, %ld classes, %ld outputs (targets %s), %ld seeds; "
      "ridge %s; %.1f s\n",
      static_cast<long>(r.n_train), static_cast<long>(r.n_test), static_cast<long>(r.dim),
      static_cast<long>(r.classes), static_cast<long>(r.outputs),
      std::string(nn::to_string(*o.encoding)).c_str(), static_cast<long>(o.seeds),
      num(o.ridge).c_str(), r.seconds);
  if (o.arm_a) {
    std::printf("arm A: init N(0, %s^2), Adam lr %s, batch %ld, L2 %s, %s, %ld epochs\n",
                num(o.init_std_a).c_str(), num(o.lr_a).c_str(), static_cast<long>(o.batch_a),
                num(o.weight_decay_a).c_str(), std::string(nn::to_string(*o.loss_a)).c_str(),
                static_cast<long>(o.epochs_a));
  }
  if (o.arm_b) {
    std::printf(
        "arm B: NTK param. (%s init), full-batch GD on MSE, eta = %s * 2n/lambda_max(Theta_0 "
        "full), <= %ld steps, tol %s\n",
        o.antisymmetric_b ? "antisymmetric" : "iid", num(o.lr_fraction_b).c_str(),
        static_cast<long>(o.steps_b), num(o.tol_b).c_str());
  }
  for (const auto& ref : r.references) {
    std::printf(
        "\n%s: kappa(Theta_inf) = %s%s (lambda_min %s, lambda_max %s), f_NTK acc train "
        "%s test %s; rel_frob slope %s, spec_ratio slope %s, spec_ratio = 0.5 at m ~ %s "
        "(fit), Bernstein m >= %s\n",
        std::string(ntk::model_label(ref.model)).c_str(), num(ref.theta_inf.kappa).c_str(),
        ref.theta_inf.resolved ? "" : " (unresolved)", num(ref.theta_inf.lambda_min).c_str(),
        num(ref.theta_inf.lambda_max).c_str(), num(ref.ntk_train_acc).c_str(),
        num(ref.ntk_test_acc).c_str(), num(ref.rel_frob_fit.slope).c_str(),
        num(ref.spec_ratio_fit.slope).c_str(), num(ref.empirical_width_half).c_str(),
        num(ref.bernstein_width).c_str());
    std::printf("%7s %9s %10s | %9s %8s %8s %8s %7s | %9s %8s %8s %8s %8s %7s\n", "width",
                "rel_frob", "spec_ratio", "A rf_T", "A drift", "A dist", "A rel", "A acc", "B rf_T",
                "B drift", "B dist", "B rel", "B gd rel", "B acc");
    for (const Index m : o.widths) {
      auto v = [&](const char* key) { return num(mean_of(r, ref.model, key, m)); };
      std::printf("%7ld %9s %10s | %9s %8s %8s %8s %7s | %9s %8s %8s %8s %8s %7s\n",
                  static_cast<long>(m), v("rel_frob_init").c_str(), v("spec_ratio_init").c_str(),
                  v("a.rel_frob_t").c_str(), v("a.drift").c_str(), v("a.dist_abs").c_str(),
                  v("a.dist_rel").c_str(), v("a.test_acc").c_str(), v("b.rel_frob_t").c_str(),
                  v("b.drift").c_str(), v("b.dist_abs").c_str(), v("b.dist_rel").c_str(),
                  v("b.dist_gd_rel").c_str(), v("b.test_acc").c_str());
    }
  }
  std::printf(
      "\nMeans over seeds; rel_frob/spec_ratio at i.i.d. init vs Theta_inf; rf_T after "
      "training; dist = ||f_m - f_NTK||_F on the test rows (rel: / ||f_NTK||_F); gd rel: "
      "vs the time-matched kernel-GD predictor.\n");
}

// --x with fewer rows than the default n_train + n_test (and neither flag given): a quarter of the
// rows (at least 1) are held out for testing and the rest train, instead of failing on 500 + 200.
void fit_rows_to_user_data(NtkFlags& f, const CLI::App& cmd) {
  if (flag_given(cmd, "--n-train") || flag_given(cmd, "--n-test")) return;
  const Index rows = f.data.user_rows();
  if (rows <= 0 || rows >= f.n_train + f.n_test) return;
  f.n_test = std::max<Index>(1, rows / 4);
  f.n_train = rows - f.n_test;
}

void run_ntk(NtkFlags f, const CLI::App& cmd) {
  RunInfo info = begin_run("ntk", f.common);
  if (f.quick) apply_quick_budget(f, cmd);
  fit_rows_to_user_data(f, cmd);
  const MemoryLimit limit = memory_limit(f.max_memory);
  Timings timings;
  const ntk::ConvergenceOptions o = to_options(f);
  if (f.n_train < 2) throw UsageError(str_cat("--n-train must be >= 2, got ", f.n_train));
  const bool arms = o.arm_a || o.arm_b;
  if (arms && f.n_test < 1) {
    throw UsageError(str_cat("--n-test must be >= 1 for the training arms, got ", f.n_test));
  }
  if (f.n_test < 0) throw UsageError(str_cat("--n-test must be >= 0, got ", f.n_test));
  io::DataOptions base = f.data.to_options(f.common.seed);
  base.classes = parse_class_list(f.classes, "--classes");
  const Index widest = *std::max_element(o.widths.begin(), o.widths.end());
  const Index classes = base.classes.empty() ? 10 : static_cast<Index>(base.classes.size());
  require_memory(
      str_cat("ntk: --widths ", widest, " --n-train ", f.n_train, " --n-test ", f.n_test),
      ntk::convergence_memory_bytes(o, f.n_train, f.n_test, f.data.feature_dim(), classes), limit,
      str_cat("weights, optimizer state and activations of ", widest, " units on ",
              f.n_train + f.n_test, " rows"));
  ntk::KernelData data;
  {
    auto t = timings.scope("load");
    data = ntk::load_kernel_data(base, f.n_train, f.n_test);
  }
  ntk::ConvergenceResult r;
  {
    auto t = timings.scope("sweep");
    Progress bar("ntk sweep", ntk::convergence_work_units(o));
    r = ntk::run_ntk_convergence(data, o, &bar);
    bar.finish();
  }
  OutputSet outputs;
  if (!f.common.json_path.empty()) {
    outputs.add(f.common.json_path,
                dump_json(make_result_envelope(info, timings, ntk::to_json(r))));
  }
  outputs.commit();
  print_summary(r);
}

void register_ntk(CLI::App& app) {
  auto f = std::make_shared<NtkFlags>();
  auto* cmd = app.add_subcommand(
      "ntk",
      "NTK (non-)convergence of 2L-ReLU vs MLP-Attn (SCIENCE.md section 2): for each width and "
      "seed, rel_frob and spec_ratio of the empirical NTK vs the analytic Theta_inf at init, then "
      "training arm A (paper recipe: init N(0, 0.01^2), Adam, minibatch 128, L2, CE/MSE) and arm "
      "B (NTK parameterization, full-batch GD on MSE below the stability bound): kernel drift, "
      "distance to the NTK predictor (kernel ridge on Theta_inf), accuracies. The default is the "
      "full sweep (minutes to tens of minutes on 2 cores; see --help of each flag to shrink it).");
  cmd->add_option("--classes", f->classes, "Class set: 'all' (default) or labels such as 0,6")
      ->default_val("all");
  cmd->add_option("--n-train", f->n_train, "Training rows (class-balanced)")
      ->default_val(500)
      ->check(positive_number());
  cmd->add_option("--n-test", f->n_test,
                  "Test rows (Fashion-MNIST test split; for --x a held-out "
                  "part of the same file)")
      ->default_val(200)
      ->check(non_negative_number());
  cmd->add_option("--widths", f->widths, "Widths m (comma-separated)")
      ->delimiter(',')
      ->default_str("16,64,256,1024,4096,16384")
      ->check(positive_number());
  cmd->add_option("--seeds", f->seeds, "Network seeds per width (>= 5 for the paper comparison)")
      ->default_val(5)
      ->check(positive_number())
      ->check(seeds_bound());
  cmd->add_option("--models", f->models, "relu (2L-ReLU), attn (MLP-Attn), comma-separated")
      ->delimiter(',')
      ->default_str("relu,attn")
      ->check(CLI::IsMember({"relu", "attn"}));
  cmd->add_option("--arms", f->arms, "Training arms: ab, a, b or none (kernels at init only)")
      ->default_val("ab")
      ->check(CLI::IsMember({"ab", "a", "b", "none"}));
  cmd->add_option("--targets", f->targets,
                  "auto (centered one-hot, or +-1 for 2 classes), onehot, centered, pm1 — used "
                  "for training and for f_NTK")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "onehot", "centered", "pm1"}));
  cmd->add_option("--loss-a", f->loss_a,
                  "Arm A loss: auto (ce for > 2 classes, mse for 2), ce, mse")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "ce", "mse"}));
  add_arm_a_options(cmd, *f);
  add_arm_b_options(cmd, *f);
  cmd->add_option("--init-b", f->init_b,
                  "Arm B init: antisymmetric (f_0 = 0, the lazy limit is kernel regression from "
                  "zero) or iid")
      ->default_val("antisymmetric")
      ->check(CLI::IsMember({"antisymmetric", "iid"}));
  cmd->add_option("--ridge", f->ridge, "Ridge of the NTK predictor f_NTK (absolute by default)")
      ->default_val(1e-3)
      ->check(positive_number());
  cmd->add_flag("--ridge-relative", f->ridge_relative,
                "Read --ridge as neural-tangents' diag_reg: lambda = ridge * trace(Theta_inf)/n");
  cmd->add_option("--precision", f->precision,
                  "Training GEMM precision: fp32 (fp64 parameters; default) or fp64. Kernels are "
                  "always fp64")
      ->default_val("fp32")
      ->check(CLI::IsMember({"fp32", "fp64"}));
  cmd->add_option("--delta", f->delta, "Failure probability of the matrix-Bernstein width")
      ->default_val(0.05)
      ->check(positive_number());
  add_quick_flag(cmd, f->quick, "widths 16-1024, 2 seeds, 10 epochs, 60 GD steps, 100/50 rows");
  add_max_memory_option(cmd, f->max_memory);
  add_study_data_options(cmd, f->data);
  add_common_options(cmd, f->common);
  cmd->callback([f, cmd] { run_ntk(*f, *cmd); });
}

}  // namespace

static const CommandRegistrar registrar(30, register_ntk);

}  // namespace attnlab::cli
