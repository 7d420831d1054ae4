// apps/attnlab/study_data_options.hpp — the data flags shared by the kernel study commands
// (`attnlab spectrum`, `attnlab ntk`): --dataset, --data, --x, --y, and class-list parsing.
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
};

void add_study_data_options(CLI::App* cmd, StudyDataFlags& flags);

// "all" -> {} (every class); "0,6" -> {0, 6}. UsageError naming `flag` on anything else
// (empty items, non-integers, negative values, duplicates).
std::vector<int> parse_class_list(const std::string& text, const char* flag);

}  // namespace attnlab::cli
