#include "apps/attnlab/study_data_options.hpp"

#include <algorithm>
#include <charconv>

#include "apps/attnlab/command.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"

namespace attnlab::cli {

io::DataOptions StudyDataFlags::to_options(std::uint64_t seed) const {
  if (dataset != "fashion-mnist") {
    throw UsageError(str_cat("--dataset: unknown dataset '", dataset,
                             "'; the built-in dataset is fashion-mnist (or pass --x X.npy)"));
  }
  if (!y_path.empty() && x_path.empty()) {
    throw UsageError("--y needs --x: labels were given without data");
  }
  if (!x_path.empty() && !data_dir.empty()) {
    throw UsageError("--data selects the Fashion-MNIST directory; it cannot be combined with --x");
  }
  io::DataOptions o;
  o.dataset = dataset;
  o.data_dir = data_dir;
  o.x_path = x_path;
  o.y_path = y_path;
  o.seed = seed;
  return o;
}

Index StudyDataFlags::feature_dim() const {
  if (x_path.empty()) return 28 * 28;
  const io::NpyHeader h = io::load_npy_header(x_path, "--x");
  if (h.shape.size() != 2) {
    throw InputError(str_cat("--x '", x_path, "': expected a 2-D array [n, D], got ",
                             h.shape.size(), " dimensions"));
  }
  return h.shape[1];
}

Index StudyDataFlags::user_rows() const {
  if (x_path.empty()) return 0;
  const io::NpyHeader h = io::load_npy_header(x_path, "--x");
  return h.shape.empty() ? 0 : h.shape[0];
}

std::vector<Index> sizes_within(const std::vector<Index>& defaults, Index rows) {
  if (rows <= 0) return defaults;
  std::vector<Index> out;
  for (const Index n : defaults)
    if (n < rows) out.push_back(n);
  out.push_back(rows);
  return out;
}

void add_study_data_options(CLI::App* cmd, StudyDataFlags& f) {
  cmd->add_option("--dataset", f.dataset,
                  "Built-in dataset: fashion-mnist (Debian package dataset-fashion-mnist)")
      ->default_val("fashion-mnist");
  cmd->add_option("--data", f.data_dir,
                  "Fashion-MNIST directory (default /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--x", f.x_path,
                  "User data instead of the dataset: NPY float rows [n, D] (used as given, then "
                  "unit-normalized)");
  cmd->add_option("--y", f.y_path, "Labels for --x: NPY integer [n]");
}

std::vector<int> parse_class_list(const std::string& text, const char* flag) {
  if (text == "all") return {};
  std::vector<int> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int v = -1;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || v < 0) {
      throw UsageError(str_cat(flag, ": expected 'all' or a comma-separated list of class labels ",
                               "such as 0,6; got '", text, "'"));
    }
    if (std::find(out.begin(), out.end(), v) != out.end()) {
      throw UsageError(str_cat(flag, ": class ", v, " is listed twice in '", text, "'"));
    }
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() < 2) {
    throw UsageError(str_cat(flag, ": need at least 2 classes, got '", text, "'"));
  }
  return out;
}

void add_arm_a_options(CLI::App* cmd, ArmAFlags& f) {
  cmd->add_option("--epochs-a", f.epochs_a, "Arm A epochs (the paper: 500)")
      ->default_val(f.epochs_a)
      ->check(non_negative_number())
      ->check(steps_bound());
  cmd->add_option("--lr-a", f.lr_a, "Arm A Adam learning rate")
      ->default_val(f.lr_a)
      ->check(positive_number());
  cmd->add_option("--batch-a", f.batch_a, "Arm A minibatch size")
      ->default_val(f.batch_a)
      ->check(positive_number());
  cmd->add_option("--weight-decay-a", f.weight_decay_a, "Arm A coupled L2 coefficient")
      ->default_val(f.weight_decay_a)
      ->check(non_negative_number());
  cmd->add_option("--init-std-a", f.init_std_a, "Arm A init standard deviation of W")
      ->default_val(f.init_std_a)
      ->check(positive_number());
}

void add_arm_b_options(CLI::App* cmd, ArmBFlags& f) {
  cmd->add_option("--steps-b", f.steps_b, "Arm B maximum full-batch GD steps")
      ->default_val(f.steps_b)
      ->check(non_negative_number())
      ->check(steps_bound());
  cmd->add_option("--lr-fraction-b", f.lr_fraction_b,
                  "Arm B step eta = fraction * 2n/lambda_max(Theta_0), fraction in (0, 1)")
      ->default_val(f.lr_fraction_b)
      ->check(positive_number());
  cmd->add_option("--tol-b", f.tol_b, "Arm B stops when the training MSE is below this")
      ->default_val(f.tol_b)
      ->check(non_negative_number());
}

}  // namespace attnlab::cli
