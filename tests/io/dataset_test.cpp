// Tests for attnlab/io/dataset: Fashion-MNIST loading (real files when the Debian package is
// installed, synthetic IDX files always), balanced seeded subsets, user NPY data, normalize_rows.
#include "attnlab/io/dataset.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::io {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

std::string idx_bytes(const std::vector<std::uint32_t>& dims,
                      const std::vector<std::uint8_t>& data) {
  std::string out = std::string("\0\0\x08", 3) + static_cast<char>(dims.size());
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  }
  return out + std::string(data.begin(), data.end());
}

void write_gz(const fs::path& path, const std::string& plain) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, plain.data(), static_cast<unsigned>(plain.size())),
            static_cast<int>(plain.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// A fake Fashion-MNIST directory: `per_class` images of 4 x 3 pixels per class, label i % 10,
// pixel (i, j) = (i * 13 + j) % 256.
void write_fake_fashion(const fs::path& dir, const std::string& prefix, int per_class,
                        int n_labels_delta = 0, std::uint8_t bad_label = 0) {
  const int n = 10 * per_class;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n) * 12), labels(n + n_labels_delta);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 12; ++j) pixels[i * 12 + j] = static_cast<std::uint8_t>((i * 13 + j) % 256);
  }
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  if (bad_label != 0) labels[1] = bad_label;
  write_gz(dir / (prefix + "-images-idx3-ubyte.gz"),
           idx_bytes({static_cast<std::uint32_t>(n), 4, 3}, pixels));
  write_gz(dir / (prefix + "-labels-idx1-ubyte.gz"),
           idx_bytes({static_cast<std::uint32_t>(labels.size())}, labels));
}

std::map<int, int> count_labels(std::span<const std::uint8_t> labels,
                                const std::vector<Index>& idx) {
  std::map<int, int> counts;
  for (Index i : idx) ++counts[labels[i]];
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Synthetic Fashion-MNIST directories (always run)

TEST(Dataset, LoadsFakeFashionDir) {
  TempDir dir;
  write_fake_fashion(dir.path(), "train", 5);
  write_fake_fashion(dir.path(), "t10k", 2);
  const ImageSet train = load_fashion_mnist("train", dir.path());
  EXPECT_EQ(train.n, 50);
  EXPECT_EQ(train.rows, 4);
  EXPECT_EQ(train.cols, 3);
  ASSERT_EQ(train.pixels.size(), 600u);
  EXPECT_EQ(train.pixels[7 * 12 + 5], (7 * 13 + 5) % 256);
  EXPECT_EQ(train.labels[23], 3);
  const ImageSet test = load_fashion_mnist("test", dir.path());
  EXPECT_EQ(test.n, 20);
  EXPECT_THROW(load_fashion_mnist("validation", dir.path()), UsageError);
}

TEST(Dataset, MissingDirNamesPackageFileAndDir) {
  TempDir dir;
  const fs::path missing = dir / "nowhere";
  try {
    load_fashion_mnist("train", missing);
    ADD_FAILURE();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
    EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("--data DIR"), std::string::npos) << msg;
  }
  // Images present, labels missing: names the labels file.
  write_fake_fashion(dir.path(), "t10k", 1);
  fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
  try {
    load_fashion_mnist("test", dir.path());
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte.gz"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos);
  }
  DataOptions opt;
  opt.data_dir = missing;
  EXPECT_THROW(load_study_data(opt), InputError);
}

TEST(Dataset, RejectsCountMismatchAndBadLabels) {
  TempDir a, b;
  write_fake_fashion(a.path(), "train", 2, /*n_labels_delta=*/-1);
  try {
    load_fashion_mnist("train", a.path());
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("20 images but"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("19 labels"), std::string::npos) << e.what();
  }
  write_fake_fashion(b.path(), "train", 2, 0, /*bad_label=*/10);
  try {
    load_fashion_mnist("train", b.path());
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("label 10 at index 1"), std::string::npos) << e.what();
  }
}

TEST(Dataset, StudyDataFromFakeDir) {
  TempDir dir;
  write_fake_fashion(dir.path(), "train", 6);
  DataOptions opt;
  opt.data_dir = dir.path();
  opt.classes = {6, 0};
  opt.n = 9;
  opt.seed = 4;
  const StudyData d = load_study_data(opt);
  ASSERT_EQ(d.x.rows(), 9);
  EXPECT_EQ(d.x.cols(), 12);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"Shirt", "T-shirt/top"}));
  EXPECT_EQ(std::count(d.y.begin(), d.y.end(), 0), 5);  // class 6 first: gets the remainder
  EXPECT_EQ(std::count(d.y.begin(), d.y.end(), 1), 4);
  // Rows are pixels / 255 of some image of the right class (label i % 10 => i = 10 k + label).
  for (Index r = 0; r < d.x.rows(); ++r) {
    const int label = d.y[r] == 0 ? 6 : 0;
    bool found = false;
    for (int k = 0; k < 6 && !found; ++k) {
      const int i = 10 * k + label;
      bool same = true;
      for (int j = 0; j < 12; ++j) same &= d.x(r, j) == ((i * 13 + j) % 256) / 255.0;
      found = same;
    }
    EXPECT_TRUE(found) << "row " << r;
  }
  EXPECT_NE(d.source.find(dir.path().string()), std::string::npos);

  opt.n = 0;  // all of the requested classes, in file order
  const StudyData all = load_study_data(opt);
  EXPECT_EQ(all.x.rows(), 12);
  EXPECT_EQ(all.y[0], 1);  // image 0 has label 0 = position 1 in {6, 0}
  EXPECT_EQ(all.y[1], 0);

  opt.classes = {0, 0};
  EXPECT_THROW(load_study_data(opt), UsageError);
  opt.classes = {10};
  EXPECT_THROW(load_study_data(opt), UsageError);
  opt.classes = {};
  opt.dataset = "cifar";
  EXPECT_THROW(load_study_data(opt), UsageError);
}

// ---------------------------------------------------------------------------------------------
// balanced_subset on synthetic labels

TEST(BalancedSubset, CountsRemainderOrderAndErrors) {
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(static_cast<std::uint8_t>(i % 4));  // 25 each
  const std::vector<int> classes = {3, 1, 2};
  Rng rng(1);
  const auto idx = balanced_subset(labels, classes, 11, rng);  // 4, 4, 3
  ASSERT_EQ(idx.size(), 11u);
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  EXPECT_EQ(std::set<Index>(idx.begin(), idx.end()).size(), 11u);
  const auto counts = count_labels(labels, idx);
  EXPECT_EQ(counts.at(3), 4);
  EXPECT_EQ(counts.at(1), 4);
  EXPECT_EQ(counts.at(2), 3);
  EXPECT_EQ(counts.count(0), 0u);

  Rng r2(1);
  const auto all = balanced_subset(labels, classes, 75, r2);  // every member of 3 classes
  EXPECT_EQ(all.size(), 75u);
  Rng r3(1);
  try {
    balanced_subset(labels, classes, 76, r3);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("class 3 has 25 examples"), std::string::npos) << e.what();
  }
  const std::vector<int> dup = {1, 1}, none = {}, absent = {7};
  EXPECT_THROW(balanced_subset(labels, dup, 4, r3), UsageError);
  EXPECT_THROW(balanced_subset(labels, none, 4, r3), UsageError);
  EXPECT_THROW(balanced_subset(labels, classes, 2, r3), UsageError);
  EXPECT_THROW(balanced_subset(labels, absent, 1, r3), InputError);

  std::vector<std::int64_t> wide(labels.begin(), labels.end());
  Rng a(9), b(9);
  EXPECT_EQ(balanced_subset(wide, classes, 30, a),
            balanced_subset(std::span<const std::uint8_t>(labels), classes, 30, b));
}

// ---------------------------------------------------------------------------------------------
// User NPY data

TEST(StudyData, UserNpyRoundTrip) {
  TempDir dir;
  const Index n = 40, D = 6;
  MatrixF x(n, D);
  std::vector<std::int64_t> y(n);
  for (Index i = 0; i < n; ++i) {
    y[i] = (i % 4) * 10;  // labels 0, 10, 20, 30
    for (Index j = 0; j < D; ++j) x(i, j) = static_cast<float>(i) + 0.125f * static_cast<float>(j);
  }
  save_npy(dir / "x.npy", x);
  const Index shape[] = {n};
  save_npy(dir / "y.npy", y.data(), shape);

  DataOptions opt;
  opt.x_path = dir / "x.npy";
  opt.y_path = dir / "y.npy";
  StudyData all = load_study_data(opt);
  EXPECT_EQ(all.x, x.cast<double>());
  EXPECT_EQ(all.class_names, (std::vector<std::string>{"0", "10", "20", "30"}));
  for (Index i = 0; i < n; ++i) EXPECT_EQ(all.y[i], i % 4);

  opt.classes = {30, 10};
  opt.n = 8;
  opt.seed = 5;
  const StudyData sub = load_study_data(opt);
  ASSERT_EQ(sub.x.rows(), 8);
  EXPECT_EQ(sub.class_names, (std::vector<std::string>{"30", "10"}));
  for (Index r = 0; r < 8; ++r) {
    const auto i = static_cast<Index>(sub.x(r, 0));  // row r is original row i
    EXPECT_EQ(sub.x.row(r), x.row(i).cast<double>());
    EXPECT_EQ(sub.y[r], y[i] == 30 ? 0 : 1);
    if (r > 0) {
      EXPECT_LT(sub.x(r - 1, 0), sub.x(r, 0));  // file order kept
    }
  }
  EXPECT_EQ(std::count(sub.y.begin(), sub.y.end(), 0), 4);
  EXPECT_EQ(load_study_data(opt).x, sub.x);  // same seed, same rows

  // Without labels: a seeded uniform subset of rows, classes not allowed.
  DataOptions nolab;
  nolab.x_path = dir / "x.npy";
  nolab.n = 10;
  nolab.seed = 1;
  const StudyData u = load_study_data(nolab);
  EXPECT_EQ(u.x.rows(), 10);
  EXPECT_TRUE(u.y.empty());
  EXPECT_EQ(load_study_data(nolab).x, u.x);
  nolab.seed = 2;
  EXPECT_NE(load_study_data(nolab).x, u.x);
  nolab.n = 41;
  EXPECT_THROW(load_study_data(nolab), InputError);
  nolab.n = 0;
  nolab.classes = {0};
  EXPECT_THROW(load_study_data(nolab), UsageError);

  // Mismatched label count, y without x.
  const Index short_shape[] = {n - 1};
  save_npy(dir / "short.npy", y.data(), short_shape);
  DataOptions bad;
  bad.x_path = dir / "x.npy";
  bad.y_path = dir / "short.npy";
  try {
    load_study_data(bad);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("40 rows"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("39 labels"), std::string::npos) << e.what();
  }
  DataOptions y_only;
  y_only.y_path = dir / "y.npy";
  EXPECT_THROW(load_study_data(y_only), UsageError);
}

TEST(NormalizeRows, UnitNormsAndZeroRow) {
  MatrixD x(3, 2);
  x << 3, 4, -1, 0, 0.5, 0.5;
  const MatrixD n = normalize_rows(x);
  for (Index i = 0; i < 3; ++i) EXPECT_NEAR(n.row(i).norm(), 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(n(0, 0), 0.6);
  EXPECT_DOUBLE_EQ(n(1, 0), -1.0);
  x.row(1).setZero();
  try {
    normalize_rows(x);
    ADD_FAILURE();
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// The real Fashion-MNIST (skipped when the Debian package is not installed)

class FashionMnist : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(fs::path(kFashionMnistDefaultDir) / "train-images-idx3-ubyte.gz")) return;
    train_ = new ImageSet(load_fashion_mnist("train"));
    test_ = new ImageSet(load_fashion_mnist("test"));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
    train_ = test_ = nullptr;
  }
  void SetUp() override {
    if (train_ == nullptr) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  }
  static ImageSet* train_;
  static ImageSet* test_;
};
ImageSet* FashionMnist::train_ = nullptr;
ImageSet* FashionMnist::test_ = nullptr;

TEST_F(FashionMnist, ShapesLabelsAndMeanIntensity) {
  EXPECT_EQ(train_->n, 60000);
  EXPECT_EQ(train_->rows, 28);
  EXPECT_EQ(train_->cols, 28);
  EXPECT_EQ(test_->n, 10000);
  ASSERT_EQ(train_->pixels.size(), 60000u * 784);
  ASSERT_EQ(train_->labels.size(), 60000u);
  std::vector<int> train_counts(10, 0), test_counts(10, 0);
  for (auto l : train_->labels) ++train_counts.at(l);
  for (auto l : test_->labels) ++test_counts.at(l);
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
  // Mean intensity measured with numpy: train 0.286040, test 0.286849 (pixels / 255).
  double sum = 0;
  for (auto p : train_->pixels) sum += p;
  EXPECT_NEAR(sum / 255.0 / static_cast<double>(train_->pixels.size()), 0.286040, 1e-5);
  sum = 0;
  for (auto p : test_->pixels) sum += p;
  EXPECT_NEAR(sum / 255.0 / static_cast<double>(test_->pixels.size()), 0.286849, 1e-5);
}

TEST_F(FashionMnist, BalancedSubsetIsBalancedAndSeeded) {
  const std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  Rng a(42), b(42), c(43);
  const auto s1 = balanced_subset(train_->labels, all, 1003, a);
  const auto s2 = balanced_subset(train_->labels, all, 1003, b);
  const auto s3 = balanced_subset(train_->labels, all, 1003, c);
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
  const auto counts = count_labels(train_->labels, s1);
  for (int k = 0; k < 10; ++k) EXPECT_EQ(counts.at(k), k < 3 ? 101 : 100) << "class " << k;
  EXPECT_EQ(std::set<Index>(s1.begin(), s1.end()).size(), 1003u);
  Rng d(1);
  EXPECT_THROW(balanced_subset(test_->labels, all, 10010, d), InputError);
}

TEST_F(FashionMnist, StudyDataDefaultPair) {
  DataOptions opt;
  opt.classes = {0, 6};
  opt.n = 200;
  opt.seed = 3;
  const StudyData d = load_study_data(opt);
  ASSERT_EQ(d.x.rows(), 200);
  EXPECT_EQ(d.x.cols(), 784);
  EXPECT_GE(d.x.minCoeff(), 0.0);
  EXPECT_LE(d.x.maxCoeff(), 1.0);
  EXPECT_EQ(d.x.maxCoeff(), 1.0);
  EXPECT_EQ(std::count(d.y.begin(), d.y.end(), 0), 100);
  EXPECT_EQ(std::count(d.y.begin(), d.y.end(), 1), 100);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"T-shirt/top", "Shirt"}));
  EXPECT_EQ(load_study_data(opt).x, d.x);
  opt.seed = 4;
  EXPECT_NE(load_study_data(opt).x, d.x);
  const MatrixD xn = normalize_rows(d.x);
  EXPECT_NEAR(xn.row(17).norm(), 1.0, 1e-12);
}

}  // namespace
}  // namespace attnlab::io
