// apps/attnlab/study_data_options.hpp — the flags shared by the kernel study commands
// (`attnlab spectrum`, `ntk`, `malleability`, `poison`): --dataset, --data, --x, --y, class-list
// parsing, and the two training arms' flags (SCIENCE.md §2: arm A the paper's Adam recipe, arm B
// NTK-parameterized full-batch GD).
//
//   --dataset fashion-mnist   the built-in dataset (Debian dataset-fashion-mnist; default)
//   --data DIR                its directory (default /usr/share/datasets/fashion-mnist)
//   --x X.npy [--y y.npy]     user data: float rows [n, D] (used as given, then unit-normalized)
//                             and integer labels [n]
//
// Usage (inside a register_<cmd> function):
//   auto data = std::make_shared<StudyDataFlags>();
//   add_study_data_options(cmd, *data);
//   io::DataOptions base = data->to_options(seed);
//   std::vector<int> classes = parse_class_list("0,6", "--classes");   // {0, 6}; "all" -> {}
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "attnlab/io/dataset.hpp"

namespace attnlab::cli {

struct StudyDataFlags {
  std::string dataset = "fashion-mnist";
  std::string data_dir;
  std::string x_path;
  std::string y_path;
  io::DataOptions to_options(std::uint64_t seed) const;
  bool user_data() const { return !x_path.empty(); }
  // Columns of a data row, for memory estimates before the load: 784 for Fashion-MNIST, the
  // second dimension of --x from its header otherwise (InputError on a file that is not [n, D]).
  Index feature_dim() const;
  // Rows of --x from its header; 0 for the built-in dataset (its splits are large).
  Index user_rows() const;
};

// Default sizes fitted to user data: the defaults below `rows`, then `rows` itself (so --x with
// 200 rows and no --sizes runs n = 100, 200 instead of failing on the default 500). Unchanged for
// the built-in dataset (rows = 0).
std::vector<Index> sizes_within(const std::vector<Index>& defaults, Index rows);

void add_study_data_options(CLI::App* cmd, StudyDataFlags& flags);

// Arm A: --epochs-a, --lr-a, --batch-a, --weight-decay-a, --init-std-a (defaults below).
struct ArmAFlags {
  Index epochs_a = 100;
  double lr_a = 1e-3;
  Index batch_a = 128;
  double weight_decay_a = 1e-3;
  double init_std_a = 0.01;
};
// Arm B: --steps-b, --lr-fraction-b, --tol-b.
struct ArmBFlags {
  Index steps_b = 500;
  double lr_fraction_b = 0.5;
  double tol_b = 1e-3;
};
void add_arm_a_options(CLI::App* cmd, ArmAFlags& flags);
void add_arm_b_options(CLI::App* cmd, ArmBFlags& flags);

// "all" -> {} (every class); "0,6" -> {0, 6}. UsageError naming `flag` on anything else
// (empty items, non-integers, negative values, duplicates).
std::vector<int> parse_class_list(const std::string& text, const char* flag);

}  // namespace attnlab::cli
