// attnlab poison — NTGA-style training-data poisoning of the Θ∞ kernel predictor of 2L-ReLU and
// MLP-Attn (SCIENCE.md §3): projected gradient ascent on the validation loss, l∞ budget ε on a
// fraction p of the training rows (pixel space), exact gradients through the kernel (for
// MLP-Attn through C = XᵀX); clean vs poisoned test accuracy of the kernel predictor and of an
// arm-B network trained on the poisoned data.
//
//   attnlab poison [--classes all|0,6] [--n-train 500] [--n-val 200] [--n-test 500]
//                  [--eps 0.03,0.1,0.3] [--fraction 1] [--steps 10] [--seeds 3] [--json R.json]
#include <cmath>
#include <cstdio>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/study_data_options.hpp"
#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/influence/poisoning.hpp"
#include "attnlab/analysis/ntk/kernel_metrics.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory_limit.hpp"
#include "attnlab/core/progress.hpp"

namespace attnlab::cli {
namespace {

namespace inf = analysis::influence;
namespace ntk = analysis::ntk;

struct PoisonFlags : ArmBFlags {
  CommonOptions common;
  StudyDataFlags data;
  std::string classes = "all";
  Index n_train = 500, n_val = 200, n_test = 500;
  std::vector<std::string> models = {"relu", "attn"};
  std::vector<double> eps = {0.03, 0.1, 0.3};
  double fraction = 1.0;
  Index steps = 10;
  double step_fraction = 0.25;
  double ridge = 1e-3;
  Index seeds = 3;
  bool no_network = false;
  Index width = 512;
  bool quick = false;
  std::string max_memory;
};

// --quick: the report's quick budget for every budget flag not given explicitly.
void apply_quick_budget(PoisonFlags& f, const CLI::App& cmd) {
  const analysis::PoisonBudget b = analysis::poison_budget(true);
  if (!flag_given(cmd, "--seeds")) f.seeds = b.options.seeds;
  if (!flag_given(cmd, "--eps")) f.eps = b.options.epsilons;
  if (!flag_given(cmd, "--steps")) f.steps = b.options.steps;
  if (!flag_given(cmd, "--width")) f.width = b.options.width;
  if (!flag_given(cmd, "--steps-b")) f.steps_b = b.options.steps_b;
  if (!flag_given(cmd, "--n-train")) f.n_train = b.n_train;
  if (!flag_given(cmd, "--n-val")) f.n_val = b.n_val;
  if (!flag_given(cmd, "--n-test")) f.n_test = b.n_test;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string mean_ci(const std::vector<double>& v) {
  const ntk::SampleStats s = ntk::sample_stats(v);
  if (s.count == 0) return "—";
  if (s.count < 2) return num(s.mean);
  return num(s.mean) + " ± " + num(s.ci_high - s.mean);
}

void print_summary(const inf::PoisonResult& r) {
  const auto& o = r.options;
  std::printf("NTGA-style poisoning — %s\n", r.source.c_str());
  std::printf(
      "n_train %ld (poisoned share %s), n_val %ld, n_test %ld, %ld classes; %ld PGD steps of "
      "%s*eps on the Theta_inf kernel predictor (ridge %s); %ld seeds; %.1f s\n",
      static_cast<long>(r.n_train), num(o.fraction).c_str(), static_cast<long>(r.n_val),
      static_cast<long>(r.n_test), static_cast<long>(r.classes), static_cast<long>(o.steps),
      num(o.step_fraction).c_str(), num(o.ridge).c_str(), static_cast<long>(o.seeds), r.seconds);
  std::printf("\n%-9s %6s %18s %18s %18s\n", "model", "eps", "kernel test acc", "net test acc",
              "val loss");
  for (const ntk::ModelKind m : o.models) {
    std::vector<double> grid = {0.0};
    grid.insert(grid.end(), o.epsilons.begin(), o.epsilons.end());
    for (const double e : grid) {
      std::printf("%-9s %6s %18s %18s %18s\n", std::string(ntk::model_label(m)).c_str(),
                  e == 0.0 ? "clean" : num(e).c_str(),
                  mean_ci(inf::poison_values(r, m, e, "kernel_acc")).c_str(),
                  mean_ci(inf::poison_values(r, m, e, "net_acc")).c_str(),
                  mean_ci(inf::poison_values(r, m, e, "val_loss")).c_str());
    }
  }
  std::printf("\nMeans over seeds ± 95%% t-interval half-widths; accuracies on clean test rows.\n");
}

void run_poison_cmd(PoisonFlags f, const CLI::App& cmd) {
  RunInfo info = begin_run("poison", f.common);
  if (f.quick) apply_quick_budget(f, cmd);
  const MemoryLimit limit = memory_limit(f.max_memory);
  Timings timings;
  inf::PoisonOptions o;
  o.models.clear();
  for (const std::string& m : f.models) o.models.push_back(ntk::parse_model_kind(m));
  o.epsilons = f.eps;
  o.fraction = f.fraction;
  o.steps = f.steps;
  o.step_fraction = f.step_fraction;
  o.ridge = f.ridge;
  o.seeds = f.seeds;
  o.seed = f.common.seed;
  o.train_network = !f.no_network;
  o.width = f.width;
  o.steps_b = f.steps_b;
  o.lr_fraction_b = f.lr_fraction_b;
  o.tol_b = f.tol_b;
  inf::validate_poison_options(o);
  io::DataOptions base = f.data.to_options(f.common.seed);
  base.classes = parse_class_list(f.classes, "--classes");
  const Index classes = base.classes.empty() ? 10 : static_cast<Index>(base.classes.size());
  require_memory(
      str_cat("poison: --width ", o.width, " --n-train ", f.n_train),
      inf::poisoning_memory_bytes(o, f.n_train, f.n_val, f.n_test, f.data.feature_dim(), classes),
      limit,
      str_cat("network, activations and kernels on ", f.n_train + f.n_val + f.n_test, " rows"));
  inf::PoisonResult r;
  {
    auto t = timings.scope("study");
    Progress bar("poison", inf::poisoning_work_units(o));
    r = inf::run_poisoning(base, f.n_train, f.n_val, f.n_test, o, &bar);
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

void register_poison(CLI::App& app) {
  auto f = std::make_shared<PoisonFlags>();
  auto* cmd = app.add_subcommand(
      "poison",
      "NTGA-style poisoning (SCIENCE.md section 3): projected gradient ascent on the validation "
      "loss of the Theta_inf kernel predictor of each architecture over an l-inf ball (pixel "
      "space) on a fraction of the training rows, exact gradients through the kernel (MLP-Attn: "
      "through C = X^T X); clean vs poisoned test accuracy of the kernel predictor and of an "
      "arm-B network trained on the poisoned data.");
  cmd->add_option("--classes", f->classes, "Class set: 'all' (default) or labels such as 0,6")
      ->default_val("all");
  cmd->add_option("--n-train", f->n_train, "Training rows")
      ->default_val(500)
      ->check(positive_number());
  cmd->add_option("--n-val", f->n_val, "Validation rows the attack maximizes the loss on")
      ->default_val(200)
      ->check(positive_number());
  cmd->add_option("--n-test", f->n_test, "Test rows (test split)")
      ->default_val(500)
      ->check(positive_number());
  cmd->add_option("--models", f->models, "relu, attn (comma-separated)")
      ->delimiter(',')
      ->default_str("relu,attn")
      ->check(CLI::IsMember({"relu", "attn"}));
  cmd->add_option("--eps", f->eps, "l-inf budgets in (0,1] pixel space (comma-separated)")
      ->delimiter(',')
      ->default_str("0.03,0.1,0.3");
  cmd->add_option("--fraction", f->fraction, "Share p of training rows poisoned")
      ->default_val(1.0)
      ->check(positive_number());
  cmd->add_option("--steps", f->steps, "PGD steps")
      ->default_val(10)
      ->check(positive_number())
      ->check(steps_bound());
  cmd->add_option("--step-fraction", f->step_fraction, "PGD step as a fraction of epsilon")
      ->default_val(0.25)
      ->check(positive_number());
  cmd->add_option("--ridge", f->ridge, "Absolute ridge of the kernel predictor")
      ->default_val(1e-3)
      ->check(positive_number());
  cmd->add_option("--seeds", f->seeds, "Seeds (own data, poison rows, network)")
      ->default_val(3)
      ->check(positive_number())
      ->check(seeds_bound());
  cmd->add_flag("--no-network", f->no_network, "Skip the arm-B network (kernel predictor only)");
  cmd->add_option("--width", f->width, "Width of the arm-B network")
      ->default_val(512)
      ->check(positive_number());
  add_arm_b_options(cmd, *f);
  add_quick_flag(cmd, f->quick, "1 seed, eps 0.3, 3 PGD steps, width 64, 40/20/50 rows");
  add_max_memory_option(cmd, f->max_memory);
  add_study_data_options(cmd, f->data);
  add_common_options(cmd, f->common);
  cmd->callback([f, cmd] { run_poison_cmd(*f, *cmd); });
}

}  // namespace

static const CommandRegistrar registrar(50, register_poison);

}  // namespace attnlab::cli
