// attnlab malleability — influence malleability of 2L-ReLU vs MLP-Attn (SCIENCE.md §3): M1 flip
// rate under l∞ attacks (paper-faithful, every ambiguity a flag), M2 temporal (Θ_0 vs Θ_T), M3
// exact data sensitivity on Θ∞, M4 agreement with real leave-one-out retraining (arm B), TracIn.
//
//   attnlab malleability [--classes all|0,6] [--n-train 300] [--n-test 100] [--seeds 5]
//                        [--models relu,attn] [--arms ab] [--width 1024] [--attacks fgsm,pgd,mim]
//                        [--eps 0.3] [--tau 0.1] [--top abs|signed] [--kernel trained|init|infinite]
//                        [--target loss|margin] [--retrain] [--m4-points 0] ... [--json R.json]
//
// Prints per-model means and the attention/ReLU ratio table (paired bootstrap 95% intervals over
// seeds); --json writes the full result envelope all or nothing.
#include <cmath>
#include <cstdio>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/study_data_options.hpp"
#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/influence/malleability.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory_limit.hpp"
#include "attnlab/core/progress.hpp"

namespace attnlab::cli {
namespace {

namespace inf = analysis::influence;
namespace ntk = analysis::ntk;

struct MalleabilityFlags : ArmAFlags, ArmBFlags {
  CommonOptions common;
  StudyDataFlags data;
  std::string classes = "all";
  Index n_train = 300, n_test = 100;
  Index seeds = 5;
  std::vector<std::string> models = {"relu", "attn"};
  std::string arms = "ab";
  Index width = 1024;
  double ridge = 1e-3;
  std::string target = "loss";
  std::string kernel = "trained";
  double tau = 0.1;
  std::string top = "abs";
  std::vector<std::string> attacks = {"fgsm", "pgd", "mim"};
  std::vector<double> eps = {0.3};
  Index attack_steps = 10;
  double pgd_step = 0.25;
  double mim_momentum = 1.0;
  bool retrain = false;
  Index m3_points = 10, m4_points = 0, tracin_every = 10;
  std::string m4_context = "drop";
  bool quick = false;
  std::string max_memory;
};

// --quick: the report's quick budget for every budget flag not given explicitly.
void apply_quick_budget(MalleabilityFlags& f, const CLI::App& cmd) {
  const analysis::MalleabilityBudget b = analysis::malleability_budget(true);
  const inf::MalleabilityOptions& q = b.options;
  if (!flag_given(cmd, "--seeds")) f.seeds = q.seeds;
  if (!flag_given(cmd, "--width")) f.width = q.width;
  if (!flag_given(cmd, "--epochs-a")) f.epochs_a = q.epochs_a;
  if (!flag_given(cmd, "--steps-b")) f.steps_b = q.steps_b;
  if (!flag_given(cmd, "--eps")) f.eps = q.epsilons;
  if (!flag_given(cmd, "--attacks")) {
    f.attacks.clear();
    for (const inf::AttackKind a : q.attacks) f.attacks.emplace_back(inf::to_string(a));
  }
  if (!flag_given(cmd, "--m3-points")) f.m3_points = q.m3_points;
  if (!flag_given(cmd, "--m4-points")) f.m4_points = q.m4_points;
  if (!flag_given(cmd, "--tracin-every")) f.tracin_every = q.tracin_every;
  if (!flag_given(cmd, "--n-train")) f.n_train = b.n_train;
  if (!flag_given(cmd, "--n-test")) f.n_test = b.n_test;
}

inf::MalleabilityOptions to_options(const MalleabilityFlags& f) {
  inf::MalleabilityOptions o;
  o.models.clear();
  for (const std::string& m : f.models) o.models.push_back(ntk::parse_model_kind(m));
  o.arm_a = f.arms.find('a') != std::string::npos;
  o.arm_b = f.arms.find('b') != std::string::npos;
  o.seeds = f.seeds;
  o.seed = f.common.seed;
  o.width = f.width;
  o.epochs_a = f.epochs_a;
  o.lr_a = f.lr_a;
  o.batch_a = f.batch_a;
  o.weight_decay_a = f.weight_decay_a;
  o.init_std_a = f.init_std_a;
  o.steps_b = f.steps_b;
  o.lr_fraction_b = f.lr_fraction_b;
  o.tol_b = f.tol_b;
  o.ridge = f.ridge;
  o.target = inf::parse_influence_target(f.target);
  o.kernel = inf::parse_kernel_choice(f.kernel);
  o.tau = f.tau;
  o.top_signed = f.top == "signed";
  o.attacks.clear();
  for (const std::string& a : f.attacks) o.attacks.push_back(inf::parse_attack_kind(a));
  o.epsilons = f.eps;
  o.attack_steps = f.attack_steps;
  o.pgd_step_fraction = f.pgd_step;
  o.mim_momentum = f.mim_momentum;
  o.retrain = f.retrain;
  o.m3_points = f.m3_points;
  o.m4_points = f.m4_points;
  o.m4_keep_context = f.m4_context == "keep";
  o.tracin_every = f.tracin_every;
  inf::validate_malleability_options(o);
  return o;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void print_summary(const inf::MalleabilityResult& r) {
  const auto& o = r.options;
  std::printf("Influence malleability — %s\n", r.source.c_str());
  std::printf(
      "n_train %ld, n_test %ld, %ld classes, width %ld, %ld seeds; kernel %s, target %s, ridge "
      "%s, tau %s, %s; %.1f s\n",
      static_cast<long>(r.n_train), static_cast<long>(r.n_test), static_cast<long>(r.classes),
      static_cast<long>(o.width), static_cast<long>(o.seeds),
      std::string(inf::to_string(o.kernel)).c_str(), std::string(inf::to_string(o.target)).c_str(),
      num(o.ridge).c_str(), num(o.tau).c_str(),
      o.retrain ? "retrain after the attack" : "kernel recomputed at the same weights", r.seconds);
  std::printf("\n%-4s %-36s %12s %12s %10s %21s\n", "arm", "metric", "2L-ReLU", "MLP-Attn",
              "attn/relu", "95% CI (bootstrap)");
  for (const inf::RatioRow& row : inf::ratio_table(r, o.seed)) {
    std::printf("%-4c %-36s %12s %12s %10s %10s … %-10s\n", row.arm, row.metric.c_str(),
                num(row.stats.den_mean).c_str(), num(row.stats.num_mean).c_str(),
                num(row.stats.ratio).c_str(), num(row.stats.ci_low).c_str(),
                num(row.stats.ci_high).c_str());
  }
  std::printf(
      "\nMeans over seeds (each seed: its own data subset and network). fr = M1 flip rate, rho = "
      "Spearman(I, I'), m2 = Θ_0 vs Θ_T, m3 = max_j ||dI/dx_j|| on Θ∞ (pixel space), m4 = "
      "correlation with real LOO retraining (arm B).\n");
}

void run_malleability_cmd(MalleabilityFlags f, const CLI::App& cmd) {
  RunInfo info = begin_run("malleability", f.common);
  if (f.quick) apply_quick_budget(f, cmd);
  const MemoryLimit limit = memory_limit(f.max_memory);
  Timings timings;
  if (f.arms.empty() || f.arms.find_first_not_of("ab") != std::string::npos) {
    throw UsageError(str_cat("--arms: expected ab, a or b, got '", f.arms, "'"));
  }
  const inf::MalleabilityOptions o = to_options(f);
  io::DataOptions base = f.data.to_options(f.common.seed);
  base.classes = parse_class_list(f.classes, "--classes");
  const Index classes = base.classes.empty() ? 10 : static_cast<Index>(base.classes.size());
  require_memory(
      str_cat("malleability: --width ", o.width, " --n-train ", f.n_train),
      inf::malleability_memory_bytes(o, f.n_train, f.n_test, f.data.feature_dim(), classes), limit,
      str_cat("network, gradients and activations on ", f.n_train + f.n_test, " rows"));
  inf::MalleabilityResult r;
  {
    auto t = timings.scope("study");
    Progress bar("malleability", inf::malleability_work_units(o));
    r = inf::run_malleability(base, f.n_train, f.n_test, o, &bar);
    bar.finish();
  }
  OutputSet outputs;
  if (!f.common.json_path.empty()) {
    outputs.add(f.common.json_path,
                dump_json(make_result_envelope(info, timings, inf::to_json(r))));
  }
  outputs.commit();
  print_summary(r);
}

void register_malleability(CLI::App& app) {
  auto f = std::make_shared<MalleabilityFlags>();
  auto* cmd = app.add_subcommand(
      "malleability",
      "Influence malleability of 2L-ReLU vs MLP-Attn (SCIENCE.md section 3): exact kernel "
      "leave-one-out influence; M1 flip rate of the top-tau influential training points under "
      "FGSM/PGD/MIM (epsilon in [0,1] pixel space) with Spearman rho; M2 Theta_0 vs Theta_T; M3 "
      "exact dI/dx_j on Theta_inf; M4 agreement with real leave-one-out retraining (arm B); "
      "TracIn. Both training arms, seeds, attention/ReLU ratios with 95% intervals. The default "
      "is the full study (minutes on 2 cores, progress bar on a terminal).");
  cmd->add_option("--classes", f->classes, "Class set: 'all' (default) or labels such as 0,6")
      ->default_val("all");
  cmd->add_option("--n-train", f->n_train, "Training rows per seed (class-balanced)")
      ->default_val(300)
      ->check(positive_number());
  cmd->add_option("--n-test", f->n_test, "Test points the influence is averaged over")
      ->default_val(100)
      ->check(positive_number());
  cmd->add_option("--seeds", f->seeds, "Seeds (each: own data subset and network; >= 5 for CIs)")
      ->default_val(5)
      ->check(positive_number())
      ->check(seeds_bound());
  cmd->add_option("--models", f->models, "relu (2L-ReLU), attn (MLP-Attn), comma-separated")
      ->delimiter(',')
      ->default_str("relu,attn")
      ->check(CLI::IsMember({"relu", "attn"}));
  cmd->add_option("--arms", f->arms, "Training arms: ab, a (paper recipe) or b (GD/MSE control)")
      ->default_val("ab")
      ->check(CLI::IsMember({"ab", "a", "b"}));
  cmd->add_option("--width", f->width, "Hidden width m")
      ->default_val(1024)
      ->check(positive_number());
  add_arm_a_options(cmd, *f);
  add_arm_b_options(cmd, *f);
  cmd->add_option("--ridge", f->ridge, "Absolute ridge lambda of the kernel predictor")
      ->default_val(1e-3)
      ->check(positive_number());
  cmd->add_option("--target", f->target,
                  "Influence target: loss (squared error on the targets) or margin")
      ->default_val("loss")
      ->check(CLI::IsMember({"loss", "margin"}));
  cmd->add_option(
         "--kernel", f->kernel,
         "Kernel of the M1 influence: trained (Theta_T, default), init (Theta_0), infinite")
      ->default_val("trained")
      ->check(CLI::IsMember({"trained", "init", "infinite"}));
  cmd->add_option("--tau", f->tau, "Share of training points in the top set S (by mean |I|)")
      ->default_val(0.1)
      ->check(positive_number());
  cmd->add_option(
         "--top", f->top,
         "Rank S by mean |I| (abs, default) or by mean I (signed: the most helpful points)")
      ->default_val("abs")
      ->check(CLI::IsMember({"abs", "signed"}));
  cmd->add_option("--attacks", f->attacks, "fgsm, pgd, mim (comma-separated)")
      ->delimiter(',')
      ->default_str("fgsm,pgd,mim")
      ->check(CLI::IsMember({"fgsm", "pgd", "mim"}));
  cmd->add_option("--eps", f->eps, "l-inf budgets in [0,1] pixel space (comma-separated)")
      ->delimiter(',')
      ->default_str("0.3");
  cmd->add_option("--attack-steps", f->attack_steps, "PGD / MIM iterations")
      ->default_val(10)
      ->check(positive_number())
      ->check(steps_bound());
  cmd->add_option("--pgd-step", f->pgd_step, "PGD step as a fraction of epsilon")
      ->default_val(0.25)
      ->check(positive_number());
  cmd->add_option("--mim-momentum", f->mim_momentum, "MIM momentum mu")
      ->default_val(1.0)
      ->check(non_negative_number());
  cmd->add_flag("--retrain", f->retrain,
                "Retrain from the same init on the perturbed data (default: recompute the kernel "
                "at the trained weights)");
  cmd->add_option("--m3-points", f->m3_points, "Test points for M3 (0 = skip)")
      ->default_val(10)
      ->check(non_negative_number());
  cmd->add_option(
         "--m4-points", f->m4_points,
         "Training points retrained without for M4 (arm B; needs n-train <= 300; 0 = skip)")
      ->default_val(0)
      ->check(non_negative_number());
  cmd->add_option("--m4-context", f->m4_context,
                  "M4 for MLP-Attn: drop (rebuild C without the left-out row: the real LOO, "
                  "default) or keep (C of all rows, as the kernel LOO assumes)")
      ->default_val("drop")
      ->check(CLI::IsMember({"drop", "keep"}));
  cmd->add_option("--tracin-every", f->tracin_every, "TracIn checkpoint every k GD steps (0 = off)")
      ->default_val(10)
      ->check(non_negative_number());
  add_quick_flag(cmd, f->quick,
                 "width 64, 2 seeds, 5 epochs, 40 GD steps, FGSM+PGD at 0.3, 40/10 rows");
  add_max_memory_option(cmd, f->max_memory);
  add_study_data_options(cmd, f->data);
  add_common_options(cmd, f->common);
  cmd->callback([f, cmd] { run_malleability_cmd(*f, *cmd); });
}

}  // namespace

static const CommandRegistrar registrar(40, register_malleability);

}  // namespace attnlab::cli
