// CLI tests for `attnlab malleability` and `attnlab poison`: small runs on user NPY data with
// their JSON checked, and bad input -> one stderr line, the DESIGN.md exit code, no output file.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "tests/cli/kernel_cli_support.hpp"

namespace attnlab {
namespace {

using testing::KernelCli;
using testing::run_cli;
using InfluenceCli = KernelCli;

std::vector<std::string> mall_args(std::vector<std::string> extra,
                                   const std::string& n_train = "30",
                                   const std::string& n_test = "6") {
  std::vector<std::string> a = {
      "malleability", "--n-train",   n_train,      "--n-test",  n_test,      "--seeds", "2",
      "--width",      "16",          "--epochs-a", "2",         "--steps-b", "10",      "--eps",
      "0,0.3",        "--m3-points", "2",          "--threads", "1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<std::string> poison_args(std::vector<std::string> extra,
                                     const std::string& n_train = "24",
                                     const std::string& n_val = "9",
                                     const std::string& n_test = "12") {
  std::vector<std::string> a = {"poison",    "--n-train", n_train,     "--n-val", n_val,
                                "--n-test",  n_test,      "--seeds",   "1",       "--eps",
                                "0.1",       "--steps",   "2",         "--width", "16",
                                "--steps-b", "10",        "--threads", "1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST_F(InfluenceCli, MalleabilityOnUserDataWritesTheEnvelope) {
  const auto r = run_cli(mall_args({"--x", p("x.npy"), "--y", p("y.npy"), "--m4-points", "3",
                                    "--json", p("r.json"), "--seed", "5"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Influence malleability"), std::string::npos);
  EXPECT_NE(r.out.find("attn/relu"), std::string::npos);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "malleability");
  EXPECT_EQ(env["seed"], 5);
  const auto& res = env["result"];
  EXPECT_EQ(res["study"], "malleability");
  EXPECT_EQ(res["data"]["classes"], 3);
  ASSERT_EQ(res["records"].size(), 8u);  // 2 models x 2 arms x 2 seeds
  for (const auto& rec : res["records"]) {
    const auto& m = rec["metrics"];
    // ε = 0 leaves every point in place: no flips, identical rankings.
    EXPECT_EQ(m["fr.pgd.0"].get<double>(), 0.0);
    EXPECT_NEAR(m["rho.fgsm.0"].get<double>(), 1.0, 1e-12);
    const double fr = m["fr.mim.0.3"].get<double>();
    EXPECT_GE(fr, 0.0);
    EXPECT_LE(fr, 1.0);
    EXPECT_GT(m["m3.max_grad"].get<double>(), 0.0);
    if (rec["arm"] == "b") EXPECT_TRUE(m.contains("m4.spearman_T"));
  }
}

TEST_F(InfluenceCli, MarginTargetRetrainAndInfiniteKernelRun) {
  const auto r = run_cli(mall_args(
      {"--x",      p("x.npy"),    "--y",       p("y.npy"),     "--target", "margin", "--retrain",
       "--kernel", "infinite",    "--attacks", "pgd",          "--top",    "signed", "--arms",
       "b",        "--m4-points", "2",         "--m4-context", "keep",     "--json", p("r.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["result"]["options"]["target"], "margin");
  EXPECT_EQ(env["result"]["options"]["retrain"], true);
  EXPECT_EQ(env["result"]["options"]["top"], "signed");
  EXPECT_EQ(env["result"]["options"]["m4_context"], "keep");
  for (const auto& rec : env["result"]["records"]) {
    EXPECT_TRUE(rec["metrics"].contains("m4.spearman_T"));
  }
  EXPECT_EQ(env["result"]["records"].size(), 4u);
}

TEST_F(InfluenceCli, PoisonOnUserDataWritesTheEnvelope) {
  const auto r =
      run_cli(poison_args({"--x", p("x.npy"), "--y", p("y.npy"), "--json", p("r.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("poisoning"), std::string::npos);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "poison");
  const auto& recs = env["result"]["records"];
  ASSERT_EQ(recs.size(), 4u);  // 2 models x (clean, 0.1)
  for (const auto& rec : recs) {
    const double acc = rec["metrics"]["kernel_acc"].get<double>();
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
  }
}

TEST_F(InfluenceCli, BadFlagsAreUsageErrors) {
  const std::vector<std::string> xy = {"--x", p("x.npy"), "--y", p("y.npy"), "--json", p("r.json")};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), xy.begin(), xy.end());
    return a;
  };
  expect_failure(with(mall_args({"--eps", "1.5"})), 2, "--eps");
  expect_failure(with(mall_args({"--tau", "2"})), 2, "--tau");
  expect_failure(with(mall_args({"--attacks", "cw"})), 2, "--attacks");
  expect_failure(with(mall_args({"--target", "logit"})), 2, "--target");
  expect_failure(with(mall_args({"--kernel", "final"})), 2, "--kernel");
  expect_failure(with(mall_args({"--top", "max"})), 2, "--top");
  expect_failure(with(mall_args({"--m4-context", "both"})), 2, "--m4-context");
  expect_failure(with(mall_args({"--lr-fraction-b", "1.5"})), 2, "lr-fraction-b");
  expect_failure(with(mall_args({"--arms", "c"})), 2, "--arms");
  expect_failure(with(mall_args({"--ridge", "-1"})), 2, "--ridge");
  expect_failure(with(mall_args({"--m4-points", "2"}, "301", "6")), 2, "300");
  expect_failure(with(poison_args({"--eps", "0"})), 2, "--eps");
  expect_failure(with(poison_args({"--fraction", "1.5"})), 2, "--fraction");
  expect_failure(with(poison_args({"--models", "gpt"})), 2, "--models");
}

TEST_F(InfluenceCli, MissingLabelsIsAUsageError) {
  expect_failure(mall_args({"--x", p("x.npy"), "--json", p("r.json")}), 2, "labels");
  expect_failure(poison_args({"--x", p("x.npy"), "--json", p("r.json")}), 2, "labels");
}

TEST_F(InfluenceCli, BadDataFailsCleanly) {
  // NaN pixels are an input error naming the value; an all-zero row cannot be normalized (a
  // numeric error naming the row).
  MatrixD x(60, 20);
  Rng rng(3);
  rng.fill_uniform(x.data(), x.size(), 0.0, 1.0);
  x(4, 2) = std::numeric_limits<double>::quiet_NaN();
  io::save_npy(dir_ / "xnan.npy", x);
  expect_failure(
      mall_args({"--x", p("xnan.npy"), "--y", p("y.npy"), "--json", p("r.json")}, "57", "3"), 3,
      "NaN");
  expect_failure(poison_args({"--x", p("xzero.npy"), "--y", p("y.npy"), "--json", p("r.json")},
                             "45", "9", "6"),
                 4, "row");
  expect_failure(mall_args({"--x", p("missing.npy"), "--y", p("y.npy"), "--json", p("r.json")}), 3,
                 "missing.npy");
  expect_failure(mall_args({"--data", p("nowhere"), "--json", p("r.json")}), 3,
                 "dataset-fashion-mnist");
}

}  // namespace
}  // namespace attnlab
