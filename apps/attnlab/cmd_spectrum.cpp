// attnlab spectrum — the Gram spectrum / spectral amplification table (SCIENCE.md §1).
//
//   attnlab spectrum [--sizes 100,200,500,1000,2000] [--classes all --classes 0,6]
//                    [--dataset fashion-mnist | --x X.npy [--y y.npy]] [--data DIR]
//                    [--delta 0.05] [--seed S] [--threads T] [--json R.json]
//
// Prints the table on stdout (unresolved condition numbers are shown as "unresolved", never as
// numbers) and writes the full result envelope with --json (all or nothing).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/study_data_options.hpp"
#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/spectral/spectrum.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory_limit.hpp"
#include "attnlab/core/progress.hpp"

namespace attnlab::cli {
namespace {

using analysis::spectral::SpectrumResult;
using analysis::spectral::SpectrumRow;

struct SpectrumFlags {
  CommonOptions common;
  StudyDataFlags data;
  std::vector<Index> sizes = {100, 200, 500, 1000, 2000};
  std::vector<std::string> class_sets;
  double delta = 0.05;
  bool quick = false;
  std::string max_memory;
};

std::string kappa_text(double kappa, bool resolved) {
  if (!resolved || !std::isfinite(kappa)) return "unresolved";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", kappa);
  return buf;
}

std::string number_text(double v) {
  if (!std::isfinite(v)) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void print_table(const SpectrumResult& r) {
  std::printf("Gram spectrum and spectral amplification — %s (D = %ld, seed %llu)\n",
              r.source.c_str(), static_cast<long>(r.dim), static_cast<unsigned long long>(r.seed));
  std::printf("%-7s %6s %5s %12s %12s %10s %9s %12s %10s %10s %8s %10s %10s %10s\n", "classes", "n",
              "rank", "kappa(G)", "kappa(G^3)", "kappa(G)^3", "ratio", "kappa(F~)", "NTK raw",
              "NTK attn", "ratio", "basis", "kappa^6", "k^6 n ln n");
  for (const SpectrumRow& w : r.rows) {
    const bool both = w.kappa_g_resolved && w.kappa_g3_resolved;
    std::printf("%-7s %6ld %5ld %12s %12s %10s %9s %12s %10s %10s %8s %10s %10s %10s\n",
                w.class_set.c_str(), static_cast<long>(w.n), static_cast<long>(w.gram.rank),
                kappa_text(w.kappa_g, w.kappa_g_resolved).c_str(),
                kappa_text(w.kappa_g3, w.kappa_g3_resolved).c_str(),
                w.kappa_g_resolved ? number_text(w.kappa_g_cubed).c_str() : "—",
                both ? number_text(w.cube_ratio).c_str() : "—",
                kappa_text(w.kappa_features, w.kappa_features_resolved).c_str(),
                kappa_text(w.ntk_raw.kappa, w.ntk_raw.resolved).c_str(),
                kappa_text(w.ntk_attn.kappa, w.ntk_attn.resolved).c_str(),
                w.ntk_raw.resolved && w.ntk_attn.resolved ? number_text(w.ntk_ratio).c_str() : "—",
                w.width_basis.c_str(), number_text(w.width_kappa6).c_str(),
                number_text(w.width_kappa6_nlogn).c_str());
  }
  std::printf(
      "kappa(G) is kappa_D = lambda_1/lambda_D when n > D. 'unresolved': lambda_min is at "
      "the fp64 rounding floor (or kappa > 1e15).\nNTK: kappa of the arc-cosine ReLU NTK "
      "on raw unit rows and on normalized attention features. Widths use the basis "
      "column's kappa.\n");
}

void run_spectrum(const SpectrumFlags& f, const CLI::App& cmd) {
  RunInfo info = begin_run("spectrum", f.common);
  Timings timings;
  const MemoryLimit limit = memory_limit(f.max_memory);
  analysis::spectral::SpectrumOptions o;
  o.sizes = f.sizes;
  if (!flag_given(cmd, "--sizes")) {
    // --quick: the report's quick sizes; --x data: the default sizes that fit in its rows.
    if (f.quick) o.sizes = analysis::spectrum_budget(true).sizes;
    o.sizes = sizes_within(o.sizes, f.data.user_rows());
  }
  o.bernstein_delta = f.delta;
  o.class_sets.clear();
  if (f.class_sets.empty()) {
    o.class_sets.push_back({});
    if (!f.data.user_data()) o.class_sets.push_back({0, 6});
  } else {
    for (const std::string& s : f.class_sets)
      o.class_sets.push_back(parse_class_list(s, "--classes"));
  }
  const io::DataOptions base = f.data.to_options(f.common.seed);
  const Index largest = *std::max_element(o.sizes.begin(), o.sizes.end());
  require_memory(str_cat("spectrum: --sizes ", largest),
                 analysis::spectral::spectrum_memory_bytes(o, f.data.feature_dim()), limit,
                 str_cat("n x n kernels and their eigensolver at n = ", largest));
  SpectrumResult r;
  {
    auto t = timings.scope("spectrum");
    Progress bar("spectrum", analysis::spectral::spectrum_work_units(o));
    r = analysis::spectral::run_spectrum_study(base, o, &bar);
    bar.finish();
  }
  OutputSet outputs;
  if (!f.common.json_path.empty()) {
    outputs.add(f.common.json_path,
                dump_json(make_result_envelope(info, timings, analysis::spectral::to_json(r))));
  }
  outputs.commit();
  print_table(r);
}

void register_spectrum(CLI::App& app) {
  auto f = std::make_shared<SpectrumFlags>();
  auto* cmd = app.add_subcommand(
      "spectrum",
      "Gram spectrum and spectral amplification (SCIENCE.md section 1): for class-balanced "
      "subsets of n unit rows, rank and kappa of G = X X^T (kappa_D when n > D), kappa(G^3) "
      "computed directly vs kappa(G)^3, kappa of the normalized attention-feature Gram, kappa of "
      "the ReLU NTK on raw vs attention features, and the width thresholds kappa^6 and "
      "kappa^6 n ln n. Condition numbers beyond fp64 are flagged 'unresolved'.");
  cmd->add_option("--sizes", f->sizes, "Subset sizes n (comma-separated)")
      ->delimiter(',')
      ->default_str("100,200,500,1000,2000")
      ->check(positive_number());
  cmd->add_option("--classes", f->class_sets,
                  "A class set: 'all' or labels such as 0,6 (repeat for several sets; default: "
                  "all and 0,6 for Fashion-MNIST, all for --x data)");
  cmd->add_option("--delta", f->delta,
                  "Failure probability of the matrix-Bernstein width (default 0.05)")
      ->default_val(0.05)
      ->check(positive_number());
  add_quick_flag(cmd, f->quick, "sizes 100,200");
  add_max_memory_option(cmd, f->max_memory);
  add_study_data_options(cmd, f->data);
  add_common_options(cmd, f->common);
  cmd->callback([f, cmd] { run_spectrum(*f, *cmd); });
}

}  // namespace

static const CommandRegistrar registrar(20, register_spectrum);

}  // namespace attnlab::cli
