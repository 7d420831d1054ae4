// attnlab/analysis/budgets/study_budgets.hpp — the budgets of the report's studies, quick and
// full, defined once: `attnlab report [--quick]` runs them and each study command's `--quick`
// starts from the quick one (flags given explicitly still win).
//
// A budget is the options of a study plus the data sizes it runs on; seeds and data sources are
// the caller's. The quick budgets keep every part of a study (both models, both arms, every
// metric) and shrink widths, seeds, steps and rows so a run takes seconds to a minute on 2 cores.
//
// Usage:
//   ConvergenceBudget b = convergence_budget(/*quick=*/true);
//   b.options.seed = seed;
//   run_ntk_convergence(load_kernel_data(base, b.n_train, b.n_test), b.options);
#pragma once

#include "attnlab/analysis/influence/malleability.hpp"
#include "attnlab/analysis/influence/poisoning.hpp"
#include "attnlab/analysis/ntk/convergence.hpp"
#include "attnlab/analysis/spectral/spectrum.hpp"

namespace attnlab::analysis {

// Spectrum (SCIENCE.md §1): n ∈ {100, 200} quick, {100, 200, 500, 1000} full; all classes and 0/6.
spectral::SpectrumOptions spectrum_budget(bool quick);

struct ConvergenceBudget {
  ntk::ConvergenceOptions options;
  Index n_train = 0, n_test = 0;
};
// NTK convergence (§2): widths 16…1024 (quick) or 16…4096, 2 or 3 seeds, on 100/50 or 200/100 rows.
ConvergenceBudget convergence_budget(bool quick);

struct MalleabilityBudget {
  influence::MalleabilityOptions options;
  Index n_train = 0, n_test = 0;
};
// Malleability (§3): width 64 or 128, 2 or 5 seeds, on 40/10 or 100/30 rows.
MalleabilityBudget malleability_budget(bool quick);

struct PoisonBudget {
  influence::PoisonOptions options;
  Index n_train = 0, n_val = 0, n_test = 0;
};
// Poisoning (§3): 1 or 3 seeds, width 64 or 128, on 40/20/50 or 100/50/200 rows.
PoisonBudget poison_budget(bool quick);

struct InspectBudget {
  Index map_tokens = 0;    // tokens in each attention map
  Index order_tokens = 0;  // tokens in the permutation order test
  Index text_bytes = 0;    // bytes of sample text the report inspects
  Index max_tokens = 0;    // tokens `inspect --quick` reads from the user's text
};
InspectBudget inspect_budget(bool quick);

}  // namespace attnlab::analysis
