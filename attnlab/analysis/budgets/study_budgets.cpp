#include "attnlab/analysis/budgets/study_budgets.hpp"

namespace attnlab::analysis {

spectral::SpectrumOptions spectrum_budget(bool quick) {
  spectral::SpectrumOptions o;
  o.sizes = quick ? std::vector<Index>{100, 200} : std::vector<Index>{100, 200, 500, 1000};
  o.class_sets = {{}, {0, 6}};
  return o;
}

ConvergenceBudget convergence_budget(bool quick) {
  ConvergenceBudget b;
  b.options.widths =
      quick ? std::vector<Index>{16, 64, 256, 1024} : std::vector<Index>{16, 64, 256, 1024, 4096};
  b.options.seeds = quick ? 2 : 3;
  b.options.epochs_a = quick ? 10 : 30;
  b.options.steps_b = quick ? 60 : 200;
  b.n_train = quick ? 100 : 200;
  b.n_test = quick ? 50 : 100;
  return b;
}

MalleabilityBudget malleability_budget(bool quick) {
  using influence::AttackKind;
  MalleabilityBudget b;
  influence::MalleabilityOptions& o = b.options;
  o.seeds = quick ? 2 : 5;
  o.width = quick ? 64 : 128;
  o.epochs_a = quick ? 5 : 20;
  o.steps_b = quick ? 40 : 150;
  o.epsilons = quick ? std::vector<double>{0.3} : std::vector<double>{0.1, 0.3, 0.5};
  o.attacks = quick ? std::vector<AttackKind>{AttackKind::fgsm, AttackKind::pgd}
                    : std::vector<AttackKind>{AttackKind::fgsm, AttackKind::pgd, AttackKind::mim};
  o.m3_points = quick ? 2 : 5;
  o.m4_points = quick ? 0 : 6;
  o.tracin_every = 10;
  b.n_train = quick ? 40 : 100;
  b.n_test = quick ? 10 : 30;
  return b;
}

PoisonBudget poison_budget(bool quick) {
  PoisonBudget b;
  influence::PoisonOptions& o = b.options;
  o.seeds = quick ? 1 : 3;
  o.epsilons = quick ? std::vector<double>{0.3} : std::vector<double>{0.03, 0.1, 0.3};
  o.steps = quick ? 3 : 5;
  o.width = quick ? 64 : 128;
  o.steps_b = quick ? 40 : 150;
  b.n_train = quick ? 40 : 100;
  b.n_val = quick ? 20 : 50;
  b.n_test = quick ? 50 : 200;
  return b;
}

InspectBudget inspect_budget(bool quick) {
  InspectBudget b;
  b.map_tokens = quick ? 32 : 48;
  b.order_tokens = quick ? 32 : 64;
  b.text_bytes = quick ? 1024 : 2048;
  b.max_tokens = quick ? 256 : 0;
  return b;
}

}  // namespace attnlab::analysis
