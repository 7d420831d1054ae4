#include "apps/attnlab/study_data_options.hpp"

#include <algorithm>
#include <charconv>

#include "attnlab/core/error.hpp"

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

}  // namespace attnlab::cli
