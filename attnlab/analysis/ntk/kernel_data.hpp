// attnlab/analysis/ntk/kernel_data.hpp — the train/test data every kernel study runs on, and
// the model-space inputs of 2L-ReLU and MLP-Attn; part of the analysis/ntk kernel library.
//
// load_kernel_data (SCIENCE.md §0):
//   * Fashion-MNIST: n_train rows of the "train" split and n_test rows of the "test" split, each a
//     class-balanced subset drawn by io::load_study_data with the options' seed.
//   * User data (--x X.npy [--y y.npy]): one class-balanced subset of n_train + n_test rows (rows
//     used as given), split into train and test by a permutation from
//     Rng::stream(seed, kSplitStream); without labels the split is a plain seeded permutation.
//   Rows stay raw here ([0, 1] pixels or the user's values); model_inputs() normalizes them.
//
// model_inputs: what each model sees. 2L-ReLU: unit rows x = r/‖r‖. MLP-Attn: x̃ =
// normalize(C x) with C = XᵀX of the unit TRAINING rows; test rows map with the same C.
//
// Usage:
//   io::DataOptions base;  base.classes = {0, 6};  base.seed = 3;
//   KernelData d = load_kernel_data(base, /*n_train=*/500, /*n_test=*/200);
//   ModelInputs in = model_inputs(d, ModelKind::attn);     // in.train [500, 784], in.test [200,
//   784]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"
#include "attnlab/io/dataset.hpp"

namespace attnlab::analysis::ntk {

inline constexpr std::uint64_t kSplitStream = 0x5B117ull;

enum class ModelKind { relu, attn };
std::string_view to_string(ModelKind k);            // "relu", "attn"
std::string_view model_label(ModelKind k);          // "2L-ReLU", "MLP-Attn"
ModelKind parse_model_kind(std::string_view name);  // UsageError on anything else

struct KernelData {
  MatrixD x_train;                       // [n, D] raw rows
  std::vector<int> y_train;              // [n] in 0..C-1; empty without labels
  MatrixD x_test;                        // [n_test, D] raw rows
  std::vector<int> y_test;               // [n_test]; empty without labels
  std::vector<std::string> class_names;  // [C]; empty without labels
  std::string source;                    // where the rows came from
  Index classes() const { return static_cast<Index>(class_names.size()); }
  bool has_labels() const { return !y_train.empty(); }
};

// n_train ≥ 1, n_test ≥ 0. Errors as io::load_study_data (InputError for missing files or too
// few rows, UsageError for bad options).
KernelData load_kernel_data(const io::DataOptions& base, Index n_train, Index n_test);

struct ModelInputs {
  MatrixD train;  // [n, D] unit rows the model sees
  MatrixD test;   // [n_test, D]
};
ModelInputs model_inputs(const KernelData& data, ModelKind kind);

}  // namespace attnlab::analysis::ntk
