// attnlab/io/dataset.hpp — the study data: Fashion-MNIST or the user's NPY arrays, subsets,
// scaling.
//
// Conventions (SCIENCE.md section 0):
//   * Fashion-MNIST comes from the Debian package dataset-fashion-mnist, which installs the four
//     gzip IDX files under /usr/share/datasets/fashion-mnist; a directory override (--data DIR)
//     replaces that path. Uncompressed copies (same names without .gz) are accepted too.
//   * Pixels are scaled to [0, 1] and flattened row-major (D = rows * cols = 784). Models see rows
//     normalized to unit l2 norm (normalize_rows); load_study_data does NOT normalize, because
//     attacks act in [0, 1] pixel space first.
//   * Subsets are class-balanced and drawn with an explicit seed: n split evenly over the classes,
//     the remainder going to the first classes in the requested order, drawn without replacement.
//     The Rng of load_study_data is Rng::stream(seed, kDataStreamId), so the subset does not
//     consume or correlate with draws a study makes from Rng(seed).
//   * StudyData rows keep the order of the source file (subset indices are sorted), and y holds
//     the position of the label in the requested class list, so y is always 0..C-1.
//
// Errors: InputError for missing files (naming the file, the directory and the package to
// install), label/image count mismatches, labels out of range, classes with too few examples;
// UsageError for inconsistent options; NumericError from normalize_rows on an all-zero row.
//
// Usage:
//   DataOptions opt;  opt.classes = {0, 6};  opt.n = 1000;  opt.seed = 7;
//   StudyData data = load_study_data(opt);          // x [1000, 784] in [0, 1], y in {0, 1}
//   MatrixD xn = normalize_rows(data.x);            // unit-norm rows, what the models see
//   ImageSet test = load_fashion_mnist("test", ""); // raw bytes, 10000 x 28 x 28
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/rng.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::io {

inline constexpr std::string_view kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int kFashionMnistClasses = 10;
inline constexpr std::array<std::string_view, kFashionMnistClasses> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
// Stream id of the subset Rng in load_study_data: Rng::stream(seed, kDataStreamId).
inline constexpr std::uint64_t kDataStreamId = 0xDA7A5E7ull;

// Raw images and labels of one split.
struct ImageSet {
  Index n = 0;                       // number of images
  Index rows = 0, cols = 0;          // image size (28 x 28)
  std::vector<std::uint8_t> pixels;  // [n, rows * cols], 0..255
  std::vector<std::uint8_t> labels;  // [n], 0..9
};

// Loads split "train" (60000 images) or "test" (10000) from `dir` (empty = the default dir).
// Checks that images are [n, rows, cols], labels are [n] and every label is < 10.
ImageSet load_fashion_mnist(std::string_view split, const std::filesystem::path& dir = {});

// Indices of a class-balanced subset of n_total examples over `classes` (distinct values that
// occur in `labels`): each class gets n_total / C, the first n_total % C classes one more, drawn
// without replacement with `rng` (classes in the given order). Returned sorted ascending, so the
// result depends only on (labels, classes, n_total, rng state). InputError if a class has too
// few examples; UsageError if classes is empty or has duplicates, or n_total < C.
std::vector<Index> balanced_subset(std::span<const std::uint8_t> labels,  // [n]
                                   std::span<const int> classes, Index n_total, Rng& rng);
std::vector<Index> balanced_subset(std::span<const std::int64_t> labels,  // [n]
                                   std::span<const int> classes, Index n_total, Rng& rng);

struct DataOptions {
  std::string dataset = "fashion-mnist";  // the only built-in dataset; ignored when x_path is set
  std::filesystem::path data_dir;         // empty = kFashionMnistDefaultDir
  std::filesystem::path x_path;           // user data: NPY float [n, D]; empty = built-in dataset
  std::filesystem::path y_path;           // user labels: NPY integer [n]; optional with x_path
  std::string split = "train";            // "train" or "test" (built-in dataset only)
  std::vector<int> classes;               // label values to keep, in this order; empty = all
  Index n = 0;                            // rows to draw (balanced over classes); 0 = all
  std::uint64_t seed = 0;                 // seeds the subset draw
};

struct StudyData {
  MatrixD x;           // [n, D] in [0, 1] (user data: as stored); not normalized
  std::vector<int> y;  // [n] index into class_names (0..C-1); empty without labels
  std::vector<std::string> class_names;  // [C] in the requested class order
  std::string source;                    // where the data came from, for reports
};

// Loads Fashion-MNIST or the user's x/y NPY files, keeps the requested classes, draws the subset.
// User labels: classes default to the distinct label values, ascending, and class_names are the
// label values as text ("0", "7", ...).
// Without labels (x_path and no y_path) classes must be empty and n > 0 draws a seeded uniform
// subset of rows.
StudyData load_study_data(const DataOptions& options);

// Each row scaled to unit l2 norm: [n, D] -> [n, D]. NumericError naming the row if its norm is
// zero or not finite.
MatrixD normalize_rows(const MatrixD& x);

}  // namespace attnlab::io
