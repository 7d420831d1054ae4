// CLI tests for `attnlab ntk`: a small sweep on user NPY data with its JSON checked, and bad
// input -> one stderr line, the DESIGN.md exit code, no output file.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "tests/cli/kernel_cli_support.hpp"

namespace attnlab {
namespace {

using testing::KernelCli;
using testing::run_cli;
using NtkCli = KernelCli;

std::vector<std::string> small_args(const KernelCli& t, std::vector<std::string> extra) {
  (void)t;
  std::vector<std::string> a = {"ntk",       "--widths",  "8,32",     "--seeds",   "2",
                                "--n-train", "40",        "--n-test", "20",        "--epochs-a",
                                "2",         "--steps-b", "5",        "--threads", "1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST_F(NtkCli, SmallSweepOnUserDataWritesTheEnvelope) {
  const auto r = run_cli(small_args(
      *this, {"--x", p("x.npy"), "--y", p("y.npy"), "--json", p("r.json"), "--seed", "4"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NTK convergence"), std::string::npos);
  EXPECT_NE(r.out.find("MLP-Attn"), std::string::npos);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "ntk");
  EXPECT_EQ(env["seed"], 4);
  const auto& res = env["result"];
  EXPECT_EQ(res["study"], "ntk_convergence");
  EXPECT_EQ(res["data"]["n_train"], 40);
  EXPECT_EQ(res["data"]["n_test"], 20);
  EXPECT_EQ(res["data"]["classes"], 3);
  EXPECT_EQ(res["options"]["targets"], "centered");
  EXPECT_EQ(res["options"]["loss_a"], "ce");
  ASSERT_EQ(res["records"].size(), 8u);  // 2 widths x 2 seeds x 2 models
  for (const auto& rec : res["records"]) {
    EXPECT_TRUE(rec["rel_frob_init"].is_number());
    EXPECT_EQ(rec["a"]["steps"], 2);  // 40 rows: one batch per epoch
    EXPECT_EQ(rec["b"]["steps"], 5);
    EXPECT_LT(rec["b"]["lr"].get<double>() * rec["b"]["lambda_max_0"].get<double>() / 40.0, 2.0);
    EXPECT_TRUE(rec["a"]["dist_gd_abs"].is_null());  // arm A has no kernel-GD twin
  }
  ASSERT_EQ(res["references"].size(), 2u);
  EXPECT_TRUE(res["references"][0]["theta_inf"]["resolved"].get<bool>());
}

// Width 2 on nonnegative pixels: some seeds draw a network whose units are inactive on every row
// (Θ_0 = 0, no gradient). Arm B records those seeds as not run instead of stopping the sweep with
// "power iteration produced 0".
TEST_F(NtkCli, DeadNetworksAtInitSkipArmBForThatSeedOnly) {
  const auto r = run_cli({"ntk", "--x", p("x.npy"), "--y", p("y.npy"), "--widths", "2", "--seeds",
                          "30", "--arms", "b", "--n-train", "40", "--n-test", "20", "--threads",
                          "1", "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto records = nlohmann::json::parse(read_file(dir_ / "r.json"))["result"]["records"];
  int skipped = 0, ran = 0;
  for (const auto& rec : records) (rec["b"].is_null() ? skipped : ran) += 1;
  EXPECT_GT(skipped, 0);
  EXPECT_GT(ran, 0);
}

TEST_F(NtkCli, KernelsOnlyRunWithoutLabels) {
  const auto r = run_cli(small_args(
      *this, {"--x", p("x.npy"), "--arms", "none", "--models", "relu", "--json", p("r.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["result"]["records"].size(), 4u);
  EXPECT_TRUE(env["result"]["records"][0]["a"].is_null());
}

TEST_F(NtkCli, OddWidthWithAntisymmetricInitIsAUsageError) {
  expect_failure(small_args(*this, {"--x", p("x.npy"), "--y", p("y.npy"), "--widths", "15",
                                    "--json", p("r.json")}),
                 2, "even");
}

TEST_F(NtkCli, StepFractionAtTheBoundIsAUsageError) {
  expect_failure(small_args(*this, {"--x", p("x.npy"), "--y", p("y.npy"), "--lr-fraction-b", "1.5",
                                    "--json", p("r.json")}),
                 2, "fraction");
}

TEST_F(NtkCli, UnknownArmIsAUsageError) {
  expect_failure(small_args(*this, {"--arms", "c", "--json", p("r.json")}), 2, "--arms");
}

TEST_F(NtkCli, TrainingWithoutLabelsIsAUsageError) {
  expect_failure(small_args(*this, {"--x", p("x.npy"), "--json", p("r.json")}), 2, "labels");
}

TEST_F(NtkCli, PlusMinusOneTargetsNeedTwoClasses) {
  expect_failure(small_args(*this, {"--x", p("x.npy"), "--y", p("y.npy"), "--targets", "pm1",
                                    "--loss-a", "mse", "--json", p("r.json")}),
                 2, "pm1");
}

TEST_F(NtkCli, NoTestRowsWithArmsIsAUsageError) {
  expect_failure(small_args(*this, {"--x", p("x.npy"), "--y", p("y.npy"), "--n-test", "0", "--json",
                                    p("r.json")}),
                 2, "--n-test");
}

TEST_F(NtkCli, MissingDatasetNamesThePackage) {
  expect_failure(small_args(*this, {"--data", p("nowhere"), "--json", p("r.json")}), 3,
                 "dataset-fashion-mnist");
}

TEST_F(NtkCli, TooManyRowsIsAnInputError) {
  expect_failure({"ntk", "--x", p("x.npy"), "--y", p("y.npy"), "--n-train", "100", "--n-test", "20",
                  "--widths", "8", "--seeds", "1", "--json", p("r.json")},
                 3, "class");
}

TEST_F(NtkCli, AllZeroRowIsANumericError) {
  expect_failure({"ntk", "--x", p("xzero.npy"), "--arms", "none", "--n-train", "50", "--n-test",
                  "10", "--widths", "8", "--seeds", "1", "--json", p("r.json")},
                 4, "row");
}

TEST_F(NtkCli, UnwritableJsonIsAnInputErrorAndWritesNothing) {
  const auto r = run_cli(small_args(*this, {"--x", p("x.npy"), "--y", p("y.npy"), "--arms", "none",
                                            "--json", p("no/such/dir/r.json")}));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.rfind("attnlab:", 0), 0u);
  EXPECT_TRUE(r.out.empty()) << "the summary is printed only after the outputs are written";
}

}  // namespace
}  // namespace attnlab
