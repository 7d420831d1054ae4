// attnlab/analysis/ntk/convergence.hpp — the NTK (non-)convergence STUDY (`attnlab ntk`):
// 2L-ReLU vs MLP-Attn, widths × seeds × training arms, on Fashion-MNIST or user data.
//
// For every model (relu: 2L-ReLU on unit rows; attn: MLP-Attn on normalize(C x)), width m and
// seed s (SCIENCE.md §2):
//   init      W ~ N(0, I) i.i.d.: rel_frob, spec_ratio of Θ_m vs Θ∞ (the pure width effect).
//   arm A     the paper's recipe: W ~ N(0, init_std_a²) (same directions as `init`), Adam,
//             minibatch, coupled L2, CE (multi-class) or MSE (binary), epochs_a epochs.
//   arm B     kernel-regime control: W ~ N(0, I) with antisymmetric pairing (f_0 ≡ 0; flag),
//             full-batch GD on MSE with η = lr_fraction_b · 2n/λ_max(Θ_0 full), until the loss
//             is below tol_b or steps_b steps.
// Each arm reports, on the n training rows: rel_frob and spec_ratio of Θ_0 and Θ_T, kernel drift
// ‖Θ_T − Θ_0‖_F/‖Θ_0‖_F, the share of training activation patterns 1[w_rᵀx_i > 0] that flipped;
// on the test rows: the NTK-predictor distance ‖f_m(X_test) − f_NTK(X_test)‖_F (absolute and
// relative to ‖f_NTK‖_F) with f_NTK = kernel ridge regression on Θ∞ (ridge λ, absolute by
// default) on the SAME targets the network is trained on; arm B also the distance to the
// time-matched kernel-GD predictor (Θ∞, same η and steps: what an infinitely wide net trained
// exactly like this one computes); train/test accuracy, losses, steps, η.
// Per model the result also holds Θ∞'s spectrum, f_NTK's accuracy, the matrix-Bernstein width
// for ‖Θ_m − Θ∞‖₂ ≤ λ_min/2 (δ = 0.05) from the MEASURED spectrum, log-log fits of rel_frob and
// spec_ratio at init over the widths, and the width where the fitted spec_ratio reaches 0.5.
//
// Targets: centered one-hot (C > 2) or ±1 (binary, one output) by default; flags choose others.
// The network's outputs (logits for CE) and f_NTK use that one scale.
//
// Randomness: the data subset comes from the data options' seed; the net of (width m, seed
// index s) from seed' = Rng::stream(options.seed, m·1000003 + s).next_u64(), shared by both
// models (common random numbers) and all arms. Same options + thread count -> identical result.
//
// Usage:
//   KernelData d = load_kernel_data(base, 500, 200);
//   ConvergenceOptions o;  o.widths = {16, 256, 4096};  o.seeds = 5;
//   ConvergenceResult r = run_ntk_convergence(d, o);
//   nlohmann::json j = to_json(r);  ConvergenceResult back = convergence_from_json(j);
//   std::vector<WidthStats> s = summarize_metric(r, ModelKind::attn, "b.dist_gd_rel");
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/analysis/ntk/kernel_data.hpp"
#include "attnlab/analysis/ntk/kernel_metrics.hpp"
#include "attnlab/core/linalg.hpp"
#include "attnlab/nn/losses.hpp"
#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab {
class Progress;
}

namespace attnlab::analysis::ntk {

struct ConvergenceOptions {
  std::vector<Index> widths = {16, 64, 256, 1024, 4096, 16384};
  Index seeds = 5;
  std::uint64_t seed = 0;
  std::vector<ModelKind> models = {ModelKind::relu, ModelKind::attn};
  bool arm_a = true;
  bool arm_b = true;
  std::optional<nn::TargetEncoding> encoding;  // unset: centered (C > 2) / pm1 (C = 2)
  // Arm A (paper recipe)
  std::optional<nn::LossKind> loss_a;  // unset: cross-entropy (C > 2) / MSE (C = 2)
  Index epochs_a = 100;                // the paper: 500
  double lr_a = 1e-3;
  Index batch_a = 128;
  double weight_decay_a = 1e-3;
  double init_std_a = 0.01;
  // Arm B (kernel-regime control)
  Index steps_b = 500;
  double lr_fraction_b = 0.5;  // η = fraction · 2n/λ_max(Θ_0); must be in (0, 1)
  double tol_b = 1e-3;         // stop when the training MSE is below this
  bool antisymmetric_b = true;
  // NTK predictor
  double ridge = 1e-3;
  bool ridge_relative = false;  // neural-tangents' diag_reg: λ = ridge · trace(Θ∞)/n
  nn::GemmPrecision train_precision = nn::GemmPrecision::fp32;
  double bernstein_delta = 0.05;
};

struct ArmOutcome {
  bool ran = false;  // false when the arm was off, or (arm B) the network is dead at init: Θ_0 = 0
  double rel_frob_0 = 0, spec_ratio_0 = 0;  // Θ_0 of this arm's init vs Θ∞
  double rel_frob_t = 0, spec_ratio_t = 0;  // Θ_T vs Θ∞
  double drift = 0;                         // ‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F
  double pattern_flips = 0;                 // share of (i, r) with sign(w_rᵀx_i) changed
  double dist_abs = 0, dist_rel = 0;        // vs ridge f_NTK on the test rows
  double dist_gd_abs = 0, dist_gd_rel = 0;  // vs time-matched kernel GD (arm B; NaN for A)
  double out_norm = 0;                      // ‖f_m(X_test)‖_F
  double train_acc = 0, test_acc = 0;
  double initial_loss = 0, final_loss = 0;
  Index steps = 0, epochs = 0;
  double lr = 0;            // step size used
  double lambda_max_0 = 0;  // arm B: λ_max of the full Θ_0 (sets η); NaN for A
  double seconds = 0;
};

struct ConvergenceRecord {
  ModelKind model = ModelKind::relu;
  Index width = 0;
  Index seed_index = 0;
  std::uint64_t net_seed = 0;
  double rel_frob_init = 0, spec_norm_init = 0, spec_ratio_init = 0;
  ArmOutcome a, b;
};

struct ModelReference {
  ModelKind model = ModelKind::relu;
  SpectrumSummary theta_inf;         // spectrum of Θ∞ on the training rows
  double input_gram_lambda_max = 0;  // L = λ_max of the model's input Gram (Bernstein)
  double bernstein_width = 0;        // sufficient m for ‖Θ_m − Θ∞‖₂ ≤ λ_min/2
  double ridge = 0;                  // absolute ridge used for f_NTK
  double ntk_norm = 0;               // ‖f_NTK(X_test)‖_F
  double ntk_train_acc = 0, ntk_test_acc = 0;
  SlopeFit rel_frob_fit, spec_ratio_fit;  // at init, means over seeds vs width
  double empirical_width_half = 0;        // m where the fitted spec_ratio = 0.5 (NaN if none)
};

struct ConvergenceResult {
  ConvergenceOptions options;  // encoding and loss_a resolved
  Index n_train = 0, n_test = 0, dim = 0, classes = 0, outputs = 0;
  std::vector<std::string> class_names;
  std::string source;
  std::vector<ModelReference> references;
  std::vector<ConvergenceRecord> records;
  double seconds = 0;
};

// Validates options against the data (UsageError naming the option) and runs the sweep.
// `progress` (optional) advances by `width` per (model, width, seed).
ConvergenceResult run_ntk_convergence(const KernelData& data, const ConvergenceOptions& options,
                                      Progress* progress = nullptr);
// Σ over models × widths × seeds of width: the total for a Progress bar.
std::int64_t convergence_work_units(const ConvergenceOptions& options);
// Estimated peak bytes of the widest run: 8·m·(4·(D + C) + 4·(n_train + n_test)) for weights,
// Adam state, gradients and activations, plus 8·6·n_train² for the kernels. Calibrated against
// peak RSS on Fashion-MNIST (n 500/200, m 4096–16384: within +5% of the measured growth).
double convergence_memory_bytes(const ConvergenceOptions& options, Index n_train, Index n_test,
                                Index dim, Index outputs);
// UsageError for inconsistent options (before any data is loaded).
void validate_convergence_options(const ConvergenceOptions& options);

nlohmann::json to_json(const ConvergenceResult& result);
// FormatError when the JSON does not have the shape to_json writes.
ConvergenceResult convergence_from_json(const nlohmann::json& j);

// Metric keys: "rel_frob_init", "spec_ratio_init", "spec_norm_init", and "a.<field>" /
// "b.<field>" for the ArmOutcome fields (rel_frob_0, spec_ratio_0, rel_frob_t, spec_ratio_t,
// drift, pattern_flips, dist_abs, dist_rel, dist_gd_abs, dist_gd_rel, out_norm, train_acc,
// test_acc, initial_loss, final_loss, steps, lr, lambda_max_0, seconds). UsageError otherwise.
double record_metric(const ConvergenceRecord& record, std::string_view key);

struct WidthStats {
  Index width = 0;
  SampleStats stats;  // over seeds
};
// Per width (ascending) statistics of one metric for one model.
std::vector<WidthStats> summarize_metric(const ConvergenceResult& result, ModelKind model,
                                         std::string_view key);

}  // namespace attnlab::analysis::ntk
