// CLI tests for `attnlab spectrum`: a small run on user NPY data with its JSON checked, one on
// Fashion-MNIST when installed, and bad input -> one stderr line, the DESIGN.md exit code, no
// output file.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/dataset.hpp"
#include "tests/cli/kernel_cli_support.hpp"

namespace attnlab {
namespace {

using testing::KernelCli;
using testing::run_cli;
using SpectrumCli = KernelCli;

TEST_F(SpectrumCli, SmallRunOnUserDataWritesTheTable) {
  const auto r =
      run_cli({"spectrum", "--x", p("x.npy"), "--y", p("y.npy"), "--sizes", "12,30", "--classes",
               "all", "--classes", "0,2", "--threads", "1", "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("kappa(G^3)"), std::string::npos);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "spectrum");
  EXPECT_EQ(env["threads"], 1);
  const auto& res = env["result"];
  ASSERT_EQ(res["rows"].size(), 4u);  // 2 class sets x 2 sizes
  EXPECT_EQ(res["dim"], 20);
  const auto& row = res["rows"][1];
  EXPECT_EQ(row["n"], 30);
  EXPECT_EQ(row["class_set"], "all");
  EXPECT_EQ(row["gram"]["rank"], 20);  // n > D
  EXPECT_TRUE(row["kappa_g_resolved"].get<bool>());
  EXPECT_NEAR(row["cube_ratio"].get<double>(), 1.0, 1e-6);
  EXPECT_GT(row["ntk_attn"]["kappa"].get<double>(), row["ntk_raw"]["kappa"].get<double>());
  EXPECT_EQ(res["rows"][2]["classes"], nlohmann::json({0, 2}));
}

TEST_F(SpectrumCli, FashionMnistSubset) {
  if (!std::filesystem::exists(std::filesystem::path(io::kFashionMnistDefaultDir) /
                               "train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  }
  const auto r = run_cli({"spectrum", "--sizes", "40", "--classes", "0,6", "--seed", "3",
                          "--threads", "1", "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["result"]["dim"], 784);
  EXPECT_EQ(env["result"]["rows"][0]["gram"]["rank"], 40);
  EXPECT_EQ(env["seed"], 3);
}

TEST_F(SpectrumCli, NonPositiveSizeIsAUsageError) {
  expect_failure({"spectrum", "--x", p("x.npy"), "--sizes", "0", "--json", p("r.json")}, 2,
                 "--sizes");
}

TEST_F(SpectrumCli, SizeOneIsAUsageError) {
  expect_failure({"spectrum", "--x", p("x.npy"), "--sizes", "1", "--json", p("r.json")}, 2,
                 "sizes must be >= 2");
}

TEST_F(SpectrumCli, MissingDataFileIsAnInputError) {
  expect_failure({"spectrum", "--x", p("nope.npy"), "--json", p("r.json")}, 3, "nope.npy");
}

TEST_F(SpectrumCli, MissingDatasetNamesThePackage) {
  expect_failure({"spectrum", "--data", p("no-such-dir"), "--json", p("r.json")}, 3,
                 "dataset-fashion-mnist");
}

TEST_F(SpectrumCli, DataPathThatIsAFileSaysSo) {
  write_file_atomic(p("plain.txt"), "not a directory");
  expect_failure({"spectrum", "--data", p("plain.txt"), "--json", p("r.json")}, 3,
                 "is a file; --data takes the directory");
}

TEST_F(SpectrumCli, LabelsWithoutDataAreAUsageError) {
  expect_failure({"spectrum", "--y", p("y.npy"), "--json", p("r.json")}, 2, "--y");
}

TEST_F(SpectrumCli, MalformedClassListIsAUsageError) {
  expect_failure({"spectrum", "--classes", "0,x", "--json", p("r.json")}, 2, "--classes");
}

TEST_F(SpectrumCli, ClassesWithoutLabelsAreAUsageError) {
  expect_failure({"spectrum", "--x", p("x.npy"), "--classes", "0,1", "--json", p("r.json")}, 2,
                 "labels");
}

TEST_F(SpectrumCli, TooFewRowsIsAnInputError) {
  expect_failure({"spectrum", "--x", p("x.npy"), "--sizes", "500", "--json", p("r.json")}, 3,
                 "60 rows");
}

TEST_F(SpectrumCli, AllZeroRowIsANumericError) {
  expect_failure({"spectrum", "--x", p("xzero.npy"), "--sizes", "60", "--json", p("r.json")}, 4,
                 "row");
}

TEST_F(SpectrumCli, UnknownDatasetIsAUsageError) {
  expect_failure({"spectrum", "--dataset", "cifar10", "--json", p("r.json")}, 2, "cifar10");
}

}  // namespace
}  // namespace attnlab
