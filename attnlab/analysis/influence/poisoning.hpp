// attnlab/analysis/influence/poisoning.hpp — NTGA-style training-data poisoning STUDY
// (`attnlab poison`, SCIENCE.md §3; Yuan & Wu 2021, reference/ntk_influence_anchors.md §4.6).
//
// For each model (2L-ReLU; MLP-Attn) and seed s (own data subset, poison subset and network):
//   * the training rows R [n, D] (raw pixels) are split from n_train + n_val class-balanced rows
//     into train and a held-out VALIDATION set (seeded permutation); test rows are the test split;
//   * a fraction p of the training rows (seeded) is poisoned: projected gradient ASCENT on the
//     validation loss L_val of the kernel predictor f = KRR(Θ∞ of the architecture, ridge λ) —
//     cross-entropy (C > 2) or logistic (binary, one ±1 output) —
//       δ ← Π_{‖δ‖∞ ≤ ε, R + δ ∈ [0,1]} (δ + α sign ∇_δ L_val),  α = step_fraction·ε, `steps` steps,
//     with the exact gradient through KernelPipeline (for MLP-Attn the kernel depends on the
//     poisoned X through C = XᵀX, train and validation features alike);
//   * reported on the clean test rows: accuracy of the kernel predictor refitted on the poisoned
//     set, and of a network trained with arm B (arm_training.hpp) on the poisoned set; the clean
//     numbers are the ε = 0 record. Also the validation loss before/after.
// Records: (model, seed, ε) with metrics "kernel_acc", "net_acc", "val_loss", "train_acc_net".
//
// Usage:
//   PoisonOptions o;  o.epsilons = {0.03, 0.1, 0.3};
//   PoisonResult r = run_poisoning(base, /*n_train=*/500, /*n_val=*/200, /*n_test=*/500, o);
//   nlohmann::json j = to_json(r);
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/ntk/kernel_data.hpp"
#include "attnlab/io/dataset.hpp"
#include "attnlab/nn/losses.hpp"

namespace attnlab {
class Progress;
}

namespace attnlab::analysis::influence {

struct PoisonOptions {
  std::vector<ntk::ModelKind> models = {ntk::ModelKind::relu, ntk::ModelKind::attn};
  std::vector<double> epsilons = {0.03, 0.1, 0.3};
  double fraction = 1.0;  // p: share of training rows poisoned
  Index steps = 10;
  double step_fraction = 0.25;
  double ridge = 1e-3;
  Index seeds = 3;
  std::uint64_t seed = 0;
  bool train_network = true;
  Index width = 512;
  Index steps_b = 500;
  double lr_fraction_b = 0.5;
  double tol_b = 1e-3;
};

void validate_poison_options(const PoisonOptions& o);

// One PGD attack: returns the poisoned raw training rows [n, D]. `rows` are the poisoned indices.
// val_loss_before/after receive L_val (optional).
MatrixD poison_training_rows(ntk::ModelKind model, const MatrixD& raw_train,
                             const nn::Targets& train_targets, const MatrixD& raw_val,
                             const nn::Targets& val_targets, const std::vector<Index>& rows,
                             double epsilon, const PoisonOptions& o,
                             double* val_loss_before = nullptr, double* val_loss_after = nullptr);

// L_val of the Θ∞ kernel predictor and its gradient with respect to the raw training rows
// [n, D] (grad may be null).
double kernel_validation_loss(ntk::ModelKind model, const MatrixD& raw_train,
                              const nn::Targets& train_targets, const MatrixD& raw_val,
                              const nn::Targets& val_targets, double ridge, MatrixD* grad);

struct PoisonRecord {
  ntk::ModelKind model = ntk::ModelKind::relu;
  Index seed_index = 0;
  double epsilon = 0.0;
  std::map<std::string, double> metrics;
};

struct PoisonResult {
  PoisonOptions options;
  Index n_train = 0, n_val = 0, n_test = 0, classes = 0;
  std::vector<std::string> class_names;
  std::string source;
  std::vector<PoisonRecord> records;
  double seconds = 0;
};

PoisonResult run_poisoning(const io::DataOptions& base, Index n_train, Index n_val, Index n_test,
                           const PoisonOptions& o, Progress* progress = nullptr);
std::int64_t poisoning_work_units(const PoisonOptions& o);
// Estimated peak bytes: 8·m·(1.5·(D + C) + 2·(n_train + n_val + n_test)) for the arm-B network
// and its activations (none with train_network = false), plus 8·8·n_train² for the kernels. Calibrated against peak RSS on
// Fashion-MNIST (n 500/200/500, m 1024–4096).
double poisoning_memory_bytes(const PoisonOptions& o, Index n_train, Index n_val, Index n_test,
                              Index dim, Index outputs);
// Values of one metric over seeds for (model, ε), in seed order (NaN where missing).
std::vector<double> poison_values(const PoisonResult& r, ntk::ModelKind model, double epsilon,
                                  const std::string& key);

nlohmann::json to_json(const PoisonResult& r);
PoisonResult poisoning_from_json(const nlohmann::json& j);  // FormatError on a bad shape

}  // namespace attnlab::analysis::influence
