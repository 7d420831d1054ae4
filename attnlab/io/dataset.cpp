#include "attnlab/io/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <system_error>

#include "attnlab/core/error.hpp"
#include "attnlab/io/idx.hpp"
#include "attnlab/io/npy.hpp"

namespace attnlab::io {
namespace fs = std::filesystem;
namespace {

// The file `name` (.gz preferred, else the uncompressed name) in `dir`, or an InputError that
// says how to get it.
fs::path find_dataset_file(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  const fs::path gz = dir / (name + ".gz");
  if (fs::is_regular_file(gz, ec)) return gz;
  const fs::path plain = dir / name;
  if (fs::is_regular_file(plain, ec)) return plain;
  const bool dir_exists = fs::is_directory(dir, ec);
  const bool is_file = !dir_exists && fs::exists(dir, ec);
  throw InputError(str_cat("Fashion-MNIST file '", name, ".gz' not found in '", dir.string(), "'",
                           dir_exists ? ""
                           : is_file  ? " ('" + dir.string() +
                                           "' is a file; --data takes the directory that holds "
                                           "the four IDX files)"
                                     : " (the directory does not exist)",
                           ": install the Debian package dataset-fashion-mnist "
                           "(scripts/bootstrap.sh does it) or pass --data DIR"));
}

template <class Label>
std::vector<Index> balanced_subset_impl(std::span<const Label> labels, std::span<const int> classes,
                                        Index n_total, Rng& rng) {
  const auto n_classes = static_cast<Index>(classes.size());
  if (n_classes == 0) throw UsageError("balanced_subset: the class list is empty");
  for (std::size_t a = 0; a < classes.size(); ++a) {
    for (std::size_t b = a + 1; b < classes.size(); ++b) {
      if (classes[a] == classes[b]) {
        throw UsageError(str_cat("balanced_subset: class ", classes[a], " is listed twice"));
      }
    }
  }
  if (n_total < n_classes) {
    throw UsageError(str_cat("balanced_subset: n=", n_total, " is smaller than the number of ",
                             "classes (", n_classes, ")"));
  }
  // Members of every class, in dataset order; check all counts before drawing anything.
  std::vector<std::vector<Index>> members(classes.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (std::size_t c = 0; c < classes.size(); ++c) {
      if (static_cast<std::int64_t>(labels[i]) == classes[c]) {
        members[c].push_back(static_cast<Index>(i));
        break;
      }
    }
  }
  const Index per_class = n_total / n_classes, remainder = n_total % n_classes;
  for (Index c = 0; c < n_classes; ++c) {
    const Index need = per_class + (c < remainder ? 1 : 0);
    const auto have = static_cast<Index>(members[c].size());
    if (have < need) {
      throw InputError(str_cat("balanced_subset: class ", classes[c], " has ", have,
                               " examples, but n=", n_total, " over ", n_classes, " classes needs ",
                               need));
    }
  }
  std::vector<Index> out;
  out.reserve(static_cast<std::size_t>(n_total));
  for (Index c = 0; c < n_classes; ++c) {
    const Index need = per_class + (c < remainder ? 1 : 0);
    const auto& pool = members[c];
    for (const Index j : rng.sample_without_replacement(static_cast<Index>(pool.size()), need)) {
      out.push_back(pool[j]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Rows to keep: all rows whose label is in `classes` (n == 0), or a balanced subset.
template <class Label>
std::vector<Index> select_rows(std::span<const Label> labels, std::span<const int> classes, Index n,
                               Rng& rng) {
  if (n > 0) return balanced_subset_impl(labels, classes, n, rng);
  std::vector<Index> rows;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (std::find(classes.begin(), classes.end(), static_cast<std::int64_t>(labels[i])) !=
        classes.end()) {
      rows.push_back(static_cast<Index>(i));
    }
  }
  return rows;
}

// y[i] = position of labels[rows[i]] in classes.
template <class Label>
std::vector<int> remap_labels(std::span<const Label> labels, std::span<const int> classes,
                              const std::vector<Index>& rows) {
  std::vector<int> y(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto value = static_cast<std::int64_t>(labels[static_cast<std::size_t>(rows[i])]);
    const auto it = std::find(classes.begin(), classes.end(), value);
    y[i] = static_cast<int>(it - classes.begin());
  }
  return y;
}

void check_distinct(const std::vector<int>& classes) {
  for (std::size_t a = 0; a < classes.size(); ++a) {
    for (std::size_t b = a + 1; b < classes.size(); ++b) {
      if (classes[a] == classes[b]) {
        throw UsageError(str_cat("load_study_data: class ", classes[a], " is listed twice"));
      }
    }
  }
}

StudyData load_fashion_mnist_study(const DataOptions& opt, Rng& rng) {
  if (opt.dataset != "fashion-mnist") {
    throw UsageError(str_cat("load_study_data: unknown dataset '", opt.dataset,
                             "'; the built-in dataset is 'fashion-mnist' (or pass --x X.npy)"));
  }
  std::vector<int> classes = opt.classes;
  if (classes.empty()) {
    for (int c = 0; c < kFashionMnistClasses; ++c) classes.push_back(c);
  }
  check_distinct(classes);
  for (const int c : classes) {
    if (c < 0 || c >= kFashionMnistClasses) {
      throw UsageError(str_cat("load_study_data: Fashion-MNIST class ", c, " does not exist; ",
                               "classes are 0..9"));
    }
  }
  const ImageSet set = load_fashion_mnist(opt.split, opt.data_dir);
  const std::span<const std::uint8_t> labels(set.labels);
  const std::vector<Index> rows = select_rows(labels, std::span<const int>(classes), opt.n, rng);

  StudyData data;
  const Index d = set.rows * set.cols;
  data.x.resize(static_cast<Index>(rows.size()), d);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::uint8_t* src = set.pixels.data() + rows[i] * d;
    double* dst = data.x.data() + static_cast<Index>(i) * d;
    for (Index j = 0; j < d; ++j) dst[j] = src[j] / 255.0;
  }
  data.y = remap_labels(labels, std::span<const int>(classes), rows);
  for (const int c : classes) data.class_names.emplace_back(kFashionMnistClassNames[c]);
  const fs::path dir = opt.data_dir.empty() ? fs::path(kFashionMnistDefaultDir) : opt.data_dir;
  data.source = str_cat("fashion-mnist ", opt.split, " (", dir.string(), ")");
  return data;
}

StudyData load_user_study(const DataOptions& opt, Rng& rng) {
  MatrixD x = load_npy_matrix(opt.x_path, "x");
  StudyData data;
  if (opt.y_path.empty()) {
    if (!opt.classes.empty()) {
      throw UsageError("load_study_data: selecting classes needs labels (--y y.npy)");
    }
    if (opt.n > x.rows()) {
      throw InputError(str_cat("load_study_data: n=", opt.n, " but x '", opt.x_path.string(),
                               "' has only ", x.rows(), " rows"));
    }
    if (opt.n > 0) {
      std::vector<Index> rows = rng.sample_without_replacement(x.rows(), opt.n);
      std::sort(rows.begin(), rows.end());
      data.x.resize(opt.n, x.cols());
      for (Index i = 0; i < opt.n; ++i) data.x.row(i) = x.row(rows[i]);
    } else {
      data.x = std::move(x);
    }
    data.source = opt.x_path.string();
    return data;
  }

  const std::vector<std::int64_t> labels = load_npy_labels(opt.y_path);
  if (static_cast<Index>(labels.size()) != x.rows()) {
    throw InputError(str_cat("load_study_data: x '", opt.x_path.string(), "' has ", x.rows(),
                             " rows but y '", opt.y_path.string(), "' has ", labels.size(),
                             " labels"));
  }
  std::vector<int> classes = opt.classes;
  if (classes.empty()) {
    std::vector<std::int64_t> distinct = labels;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (const std::int64_t v : distinct) {
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
        throw InputError(str_cat("load_study_data: label ", v, " in '", opt.y_path.string(),
                                 "' does not fit in an int"));
      }
      classes.push_back(static_cast<int>(v));
    }
  }
  check_distinct(classes);
  const std::span<const std::int64_t> label_span(labels);
  const std::vector<Index> rows =
      select_rows(label_span, std::span<const int>(classes), opt.n, rng);
  data.x.resize(static_cast<Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) data.x.row(static_cast<Index>(i)) = x.row(rows[i]);
  data.y = remap_labels(label_span, std::span<const int>(classes), rows);
  for (const int c : classes) data.class_names.push_back(std::to_string(c));
  data.source = str_cat(opt.x_path.string(), " + ", opt.y_path.string());
  return data;
}

}  // namespace

ImageSet load_fashion_mnist(std::string_view split, const fs::path& dir_in) {
  if (split != "train" && split != "test") {
    throw UsageError(
        str_cat("load_fashion_mnist: split must be 'train' or 'test', got '", split, "'"));
  }
  const fs::path dir = dir_in.empty() ? fs::path(kFashionMnistDefaultDir) : dir_in;
  const std::string prefix = split == "train" ? "train" : "t10k";
  const fs::path image_path = find_dataset_file(dir, prefix + "-images-idx3-ubyte");
  const fs::path label_path = find_dataset_file(dir, prefix + "-labels-idx1-ubyte");

  IdxArray images = load_idx(image_path);
  IdxArray labels = load_idx(label_path);
  if (images.dims.size() != 3) {
    throw InputError(str_cat("'", image_path.string(), "': expected images [n, rows, cols], got ",
                             images.dims.size(), " dims"));
  }
  if (labels.dims.size() != 1) {
    throw InputError(str_cat("'", label_path.string(), "': expected labels [n], got ",
                             labels.dims.size(), " dims"));
  }
  if (images.dims[0] != labels.dims[0]) {
    throw InputError(str_cat("Fashion-MNIST ", split, ": '", image_path.string(), "' has ",
                             images.dims[0], " images but '", label_path.string(), "' has ",
                             labels.dims[0], " labels"));
  }
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= kFashionMnistClasses) {
      throw InputError(str_cat("'", label_path.string(), "': label ", int(labels.data[i]),
                               " at index ", i, " is out of range 0..9"));
    }
  }
  ImageSet set;
  set.n = images.dims[0];
  set.rows = images.dims[1];
  set.cols = images.dims[2];
  set.pixels = std::move(images.data);
  set.labels = std::move(labels.data);
  return set;
}

std::vector<Index> balanced_subset(std::span<const std::uint8_t> labels,
                                   std::span<const int> classes, Index n_total, Rng& rng) {
  return balanced_subset_impl(labels, classes, n_total, rng);
}

std::vector<Index> balanced_subset(std::span<const std::int64_t> labels,
                                   std::span<const int> classes, Index n_total, Rng& rng) {
  return balanced_subset_impl(labels, classes, n_total, rng);
}

StudyData load_study_data(const DataOptions& opt) {
  if (opt.n < 0) throw UsageError(str_cat("load_study_data: n must be >= 0, got ", opt.n));
  Rng rng = Rng::stream(opt.seed, kDataStreamId);
  if (opt.x_path.empty()) {
    if (!opt.y_path.empty()) {
      throw UsageError("load_study_data: labels (--y) were given without data (--x X.npy)");
    }
    return load_fashion_mnist_study(opt, rng);
  }
  return load_user_study(opt, rng);
}

MatrixD normalize_rows(const MatrixD& x) {
  MatrixD out(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i) {
    const double norm = x.row(i).norm();
    if (!(norm > 0.0) || !std::isfinite(norm)) {
      throw NumericError(str_cat("normalize_rows: row ", i, " of [", x.rows(), ", ", x.cols(),
                                 "] has l2 norm ", norm, "; cannot scale it to unit norm"));
    }
    out.row(i) = x.row(i) / norm;
  }
  return out;
}

}  // namespace attnlab::io
