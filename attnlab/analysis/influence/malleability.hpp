// attnlab/analysis/influence/malleability.hpp — the influence-malleability STUDY
// (`attnlab malleability`, SCIENCE.md §3): 2L-ReLU vs MLP-Attn, training arms A and B, seeds.
//
// Per model, arm and seed s (seed s draws its own class-balanced data subset and network), with
// kernel influence I [T, n] (kernel_influence.hpp; ridge λ; target loss or margin):
//   M1 flip rate (paper-faithful). I on the chosen kernel (default Θ_T, the trained network's
//      empirical NTK). S = the top ⌈τn⌉ training points by mean_t |I_ti| (ONE set for all test
//      points; top_signed: by mean_t I_ti, the most helpful points). Each x_i, i ∈ S, is
//      attacked (fgsm | pgd | mim, l∞ ε in [0, 1] pixel space, clipped) to maximize the TRAINED network's training loss at (x_i, y_i), with the attention
//      context C fixed during the attack. Then the perturbed training set is pushed through the
//      model again — for MLP-Attn C = XᵀX changes, so every train and test feature moves — and
//      the kernel is recomputed at the same weights (default) or after retraining from the same
//      init (retrain = true). I' uses the same targets. Per test point t:
//        FR_t = share of i ∈ S with sign I_ti ≠ sign I'_ti,
//        FR_t (margin-aware) = the same, counting only flips with |I'_ti| > median_i |I_ti|,
//        ρ_t = Spearman(I_t·, I'_t·) over all n training points;
//      reported as means over the T test points.
//   M2 temporal: I⁽⁰⁾ on Θ_0 (the arm's init) vs I⁽ᵀ⁾ on Θ_T: mean_t (1 − Spearman) and
//      ‖I⁽ᵀ⁾ − I⁽⁰⁾‖_F / ‖I⁽⁰⁾‖_F.
//   M3 data sensitivity on Θ∞ of the architecture (pixel space, exact via dA = −A dK A through
//      KernelPipeline): for each of the first m3_points test points, i* = argmax_i |I∞_ti| and
//      the gradient of I∞_ti* with respect to every raw training row; mean over t of
//      max_j ‖∂I/∂x_j‖₂ ("m3.max_grad") and of ‖∂I/∂X‖_F ("m3.frob_grad"). Θ∞ does not depend on
//      the arm, so both arms' records carry the same M3 numbers.
//   M4 ground truth (arm B only, m4_points > 0, n ≤ 300): for m4_points training points (half the
//      largest mean |I|, half uniformly drawn) the network is retrained from the SAME init on the
//      data without x_i (for MLP-Attn C is rebuilt from the n − 1 rows; m4_keep_context keeps the
//      full-data C, the kernel LOO's own assumption, to separate the two effects) and the actual
//      I_ti = ℓ(f₋ᵢ(x_t)) − ℓ(f(x_t)) of the networks is correlated (Pearson, Spearman over all
//      (t, i) pairs) with kernel predictions on Θ_T, Θ_0, Θ∞ and with TracIn.
//   TracIn (arm B, tracin_every > 0): Σ over checkpoints every k GD steps of (ηk/n)·∇ℓ_t·∇ℓ_i
//      (tracin.hpp); "tracin.spearman_T" is its mean per-test Spearman with the exact I on Θ_T.
//   first-order: mean per-test Spearman between the first-order and the exact LOO on Θ_T.
// Arms follow analysis/ntk/convergence.hpp: A = init N(0, init_std_a²), Adam, minibatch, L2,
// CE (C > 2) / MSE (binary); B = NTK parameterization (antisymmetric, f_0 ≡ 0), full-batch GD on
// MSE at η = lr_fraction_b · 2n/λ_max(Θ_0) until the MSE < tol_b or steps_b steps.
// Targets: centered one-hot (C > 2) or ±1 (C = 2), for the network and for the kernel predictor.
//
// Records hold named metrics (keys above, "fr.<attack>.<ε>", "fr_margin.<attack>.<ε>",
// "rho.<attack>.<ε>", "m2.one_minus_rho", "m2.rel_change", "train_acc", "test_acc", "steps",
// "m4.{pearson,spearman}_{T,0,inf,tracin}"); ratio_table() pairs attention with ReLU by seed and
// gives ratio of means with a paired-bootstrap 95% interval (rank_correlation.hpp).
// Same options + thread count -> identical result.
//
// Usage:
//   MalleabilityOptions o;  o.seeds = 5;  o.epsilons = {0.1, 0.3};
//   MalleabilityResult r = run_malleability(base_data_options, /*n_train=*/300, /*n_test=*/100, o);
//   std::vector<RatioRow> t = ratio_table(r);
//   nlohmann::json j = to_json(r);  MalleabilityResult back = malleability_from_json(j);
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "attnlab/analysis/influence/kernel_influence.hpp"
#include "attnlab/analysis/influence/linf_attack.hpp"
#include "attnlab/analysis/influence/rank_correlation.hpp"
#include "attnlab/analysis/ntk/kernel_data.hpp"
#include "attnlab/io/dataset.hpp"
#include "attnlab/nn/losses.hpp"

namespace attnlab {
class Progress;
}

namespace attnlab::analysis::influence {

enum class KernelChoice { trained, init, infinite };  // Θ_T, Θ_0, Θ∞
std::string_view to_string(KernelChoice k);           // "trained", "init", "infinite"
KernelChoice parse_kernel_choice(std::string_view name);

struct MalleabilityOptions {
  std::vector<ntk::ModelKind> models = {ntk::ModelKind::relu, ntk::ModelKind::attn};
  bool arm_a = true, arm_b = true;
  Index seeds = 5;
  std::uint64_t seed = 0;
  Index width = 1024;
  // arm A
  Index epochs_a = 100;
  double lr_a = 1e-3;
  Index batch_a = 128;
  double weight_decay_a = 1e-3;
  double init_std_a = 0.01;
  // arm B
  Index steps_b = 500;
  double lr_fraction_b = 0.5;
  double tol_b = 1e-3;
  // influence
  double ridge = 1e-3;
  InfluenceTarget target = InfluenceTarget::loss;
  KernelChoice kernel = KernelChoice::trained;
  double tau = 0.1;
  bool top_signed = false;  // S by mean I (most helpful) instead of mean |I|
  // M1 attack
  std::vector<AttackKind> attacks = {AttackKind::fgsm, AttackKind::pgd, AttackKind::mim};
  std::vector<double> epsilons = {0.3};
  Index attack_steps = 10;
  double pgd_step_fraction = 0.25;
  double mim_momentum = 1.0;
  bool retrain = false;
  // M3, M4, TracIn
  Index m3_points = 10;
  Index m4_points = 0;
  bool m4_keep_context = false;  // M4: keep C of all n rows when leaving x_i out (MLP-Attn)
  Index tracin_every = 10;
};

// UsageError naming the option.
void validate_malleability_options(const MalleabilityOptions& o);

struct MalleabilityRecord {
  ntk::ModelKind model = ntk::ModelKind::relu;
  char arm = 'a';
  Index seed_index = 0;
  std::uint64_t data_seed = 0, net_seed = 0;
  std::map<std::string, double> metrics;
};

struct MalleabilityResult {
  MalleabilityOptions options;
  Index n_train = 0, n_test = 0, classes = 0;
  std::vector<std::string> class_names;
  std::string source;
  std::vector<MalleabilityRecord> records;
  double seconds = 0;
};

// "fr.pgd.0.3"-style keys: metric, attack, ε (printed with %g).
std::string attack_metric_key(const std::string& metric, AttackKind attack, double epsilon);

// Runs the study; seed s draws its data subset with seed Rng::stream(o.seed, 0xDA7A + s).
// `progress` advances by 1 per (model, arm, seed).
MalleabilityResult run_malleability(const io::DataOptions& base, Index n_train, Index n_test,
                                    const MalleabilityOptions& o, Progress* progress = nullptr);
std::int64_t malleability_work_units(const MalleabilityOptions& o);
// Estimated peak bytes: 8·m·((D + C) + 2·(n_train + n_test)) for the network, its gradients and
// activations (TracIn is accumulated, never stored per checkpoint), plus 8·8·n_train² for the
// kernels. Calibrated against peak RSS on Fashion-MNIST (n 300/100, m 1024–4096).
double malleability_memory_bytes(const MalleabilityOptions& o, Index n_train, Index n_test,
                                 Index dim, Index outputs);

struct RatioRow {
  char arm = 'a';
  std::string metric;
  RatioStats stats;  // attention / ReLU
};
// Every metric present for both models of an arm, in key order (arm A first).
std::vector<RatioRow> ratio_table(const MalleabilityResult& r, std::uint64_t seed = 0);
// Values of one metric over seeds for (model, arm), in seed order (NaN where missing).
std::vector<double> metric_values(const MalleabilityResult& r, ntk::ModelKind model, char arm,
                                  const std::string& key);

nlohmann::json to_json(const MalleabilityResult& r);
// FormatError when the JSON does not have the shape to_json writes.
MalleabilityResult malleability_from_json(const nlohmann::json& j);

}  // namespace attnlab::analysis::influence
