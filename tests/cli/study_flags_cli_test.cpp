// CLI tests of the flags every study command shares (issue #16 items 2, 3 and 10): memory
// estimates checked before allocation (--max-memory), bounds on seeds and steps, progress lines on
// a non-terminal stderr, and --quick starting from the report's quick budget.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "tests/cli/gpt2_cli_support.hpp"
#include "tests/cli/kernel_cli_support.hpp"

namespace attnlab {
namespace {

using testing::contains;
using testing::KernelCli;
using testing::run_cli;
using StudyFlagsCli = KernelCli;

// Huge sizes: exit 2, one line naming the flag and value, the estimate and the limit; no output.
TEST_F(StudyFlagsCli, HugeSizesAreUsageErrorsNamingFlagBytesAndLimit) {
  const std::string x = p("x.npy"), y = p("y.npy"), json = p("r.json");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ntk", "--x", x, "--arms", "none", "--widths", "16,1000000000"}, "--widths 1000000000"},
      {{"malleability", "--x", x, "--y", y, "--width", "999999999"}, "--width 999999999"},
      {{"poison", "--x", x, "--y", y, "--width", "999999999"}, "--width 999999999"},
      {{"selectivity", "--dim", "999999999"}, "--dim 999999999"},
      {{"selectivity", "--heads", "2000000000"}, "--heads 2000000000"},
      {{"spectrum", "--x", x, "--sizes", "50", "--max-memory", "10K"}, "--sizes 50"},
  };
  for (auto [args, flag] : cases) {
    SCOPED_TRACE(args[0] + " " + flag);
    args.insert(args.end(), {"--json", json});
    expect_failure(args, 2, flag);
    const auto r = run_cli(args);
    EXPECT_TRUE(contains(r.err, ": needs ~")) << r.err;
    EXPECT_TRUE(contains(r.err, "above the memory limit")) << r.err;
    EXPECT_TRUE(contains(r.err, "--max-memory")) << r.err;
    EXPECT_FALSE(contains(r.err, "bad_alloc")) << r.err;
  }
}

TEST_F(StudyFlagsCli, MaxMemoryIsTheLimitAndBadSizesAreUsageErrors) {
  const std::vector<std::string> small = {
      "ntk", "--x",       p("x.npy"), "--arms",   "none", "--widths",  "64", "--seeds",
      "1",   "--n-train", "40",       "--n-test", "10",   "--threads", "1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = small;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  EXPECT_EQ(run_cli(with({"--max-memory", "64G", "--json", p("ok.json")})).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "ok.json"));
  expect_failure(with({"--max-memory", "100K", "--json", p("r.json")}), 2,
                 "above the memory limit 100.0 KiB (--max-memory 100K");
  expect_failure(with({"--max-memory", "lots", "--json", p("r.json")}), 2, "--max-memory");
  expect_failure(with({"--max-memory", "0", "--json", p("r.json")}), 2, "--max-memory");
}

TEST_F(StudyFlagsCli, SeedsAndStepsAreBounded) {
  const std::string x = p("x.npy"), y = p("y.npy"), json = p("r.json");
  expect_failure({"ntk", "--x", x, "--seeds", "2000000000", "--json", json}, 2,
                 "--seeds: must be <= 1000");
  expect_failure({"malleability", "--x", x, "--y", y, "--seeds", "1001", "--json", json}, 2,
                 "--seeds: must be <= 1000");
  expect_failure({"poison", "--x", x, "--y", y, "--steps", "10000001", "--json", json}, 2,
                 "--steps: must be <= 10000000");
  expect_failure({"ntk", "--x", x, "--epochs-a", "1000000000", "--json", json}, 2,
                 "--epochs-a: must be <= 10000000");
  expect_failure({"malleability", "--x", x, "--y", y, "--steps-b", "99999999", "--json", json}, 2,
                 "--steps-b: must be <= 10000000");
  expect_failure({"malleability", "--x", x, "--y", y, "--attack-steps", "20000000", "--json", json},
                 2, "--attack-steps: must be <= 10000000");
  expect_failure({"tradeoff", "--seeds", "5000", "--json", json}, 2,
                 "--seeds 5000 outside [1, 64]");
  expect_failure({"train", "--steps", "99999999999", "--json", json}, 2,
                 "--steps: must be <= 10000000");
}

TEST_F(StudyFlagsCli, HostileThreadCountsAreUsageErrors) {
  expect_failure({"ntk", "--x", p("x.npy"), "--threads", "100000", "--json", p("r.json")}, 2,
                 "--threads: must be <= 1024");
  expect_failure({"spectrum", "--x", p("x.npy"), "--threads", "-1", "--json", p("r.json")}, 2,
                 "--threads");
}

// --x with fewer rows than the defaults ask for (issue #15): the defaults shrink to the file.
TEST_F(StudyFlagsCli, UserDataWithoutSizesUsesTheRowsTheFileHas) {
  const auto s = run_cli({"spectrum", "--x", p("x.npy"), "--threads", "1", "--json", p("s.json")});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto rows = nlohmann::json::parse(read_file(dir_ / "s.json"))["result"]["rows"];
  ASSERT_EQ(rows.size(), 1u);  // defaults 100, 200, ... are all above 60: n = 60 only
  EXPECT_EQ(rows[0]["n"], 60);
  const auto n =
      run_cli({"ntk", "--x", p("x.npy"), "--y", p("y.npy"), "--widths", "16", "--seeds", "1",
               "--epochs-a", "1", "--steps-b", "2", "--threads", "1", "--json", p("n.json")});
  ASSERT_EQ(n.exit_code, 0) << n.err;
  const auto data = nlohmann::json::parse(read_file(dir_ / "n.json"))["result"]["data"];
  EXPECT_EQ(data["n_train"], 45);  // 60 rows: a quarter held out
  EXPECT_EQ(data["n_test"], 15);
  // Sizes given explicitly are still checked against the file.
  expect_failure({"spectrum", "--x", p("x.npy"), "--sizes", "80", "--json", p("r.json")}, 3, "60");
}

TEST_F(StudyFlagsCli, ProgressLinesOnANonTerminalStderr) {
  const std::vector<std::string> args = {
      "ntk", "--x",       p("x.npy"), "--arms",   "none", "--widths",  "16,32,64", "--seeds",
      "2",   "--n-train", "40",       "--n-test", "10",   "--threads", "1"};
  const auto every = run_cli(args, {{"ATTNLAB_PROGRESS_SECONDS", "0"}});
  ASSERT_EQ(every.exit_code, 0) << every.err;
  EXPECT_TRUE(contains(every.err, "ntk sweep: ")) << every.err;
  EXPECT_TRUE(contains(every.err, "(100.0%)")) << every.err;
  EXPECT_TRUE(contains(every.err, " s elapsed, ~")) << every.err;
  EXPECT_EQ(every.err.find('\r'), std::string::npos) << "no bar redraws in a log";
  // The default interval (10 s) keeps a sub-second run silent; ATTNLAB_NO_PROGRESS silences all.
  EXPECT_EQ(run_cli(args).err, "");
  EXPECT_EQ(run_cli(args, {{"ATTNLAB_PROGRESS_SECONDS", "0"}, {"ATTNLAB_NO_PROGRESS", "1"}}).err,
            "");
}

TEST_F(StudyFlagsCli, NtkQuickUsesTheReportBudgetAndExplicitFlagsWin) {
  const auto r =
      run_cli({"ntk", "--quick", "--x", p("x.npy"), "--y", p("y.npy"), "--n-train", "40",
               "--n-test", "10", "--seeds", "1", "--threads", "1", "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto res = nlohmann::json::parse(read_file(dir_ / "r.json"))["result"];
  const analysis::ConvergenceBudget b = analysis::convergence_budget(true);
  EXPECT_EQ(res["options"]["widths"].get<std::vector<Index>>(), b.options.widths);
  EXPECT_EQ(res["options"]["epochs_a"], b.options.epochs_a);
  EXPECT_EQ(res["options"]["steps_b"], b.options.steps_b);
  EXPECT_EQ(res["options"]["seeds"], 1);  // given explicitly
  EXPECT_EQ(res["data"]["n_train"], 40);  // given explicitly (the budget's 100 > 60 rows)
  EXPECT_NE(res["options"]["seeds"], b.options.seeds);
}

TEST_F(StudyFlagsCli, MalleabilityAndPoisonQuickUseTheReportBudget) {
  const auto m = run_cli({"malleability", "--quick", "--x", p("x.npy"), "--y", p("y.npy"),
                          "--threads", "1", "--json", p("m.json")});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const auto mo = nlohmann::json::parse(read_file(dir_ / "m.json"))["result"];
  const analysis::MalleabilityBudget mb = analysis::malleability_budget(true);
  EXPECT_EQ(mo["options"]["width"], mb.options.width);
  EXPECT_EQ(mo["options"]["seeds"], mb.options.seeds);
  EXPECT_EQ(mo["options"]["epochs_a"], mb.options.epochs_a);
  EXPECT_EQ(mo["options"]["attacks"], nlohmann::json({"fgsm", "pgd"}));
  EXPECT_EQ(mo["data"]["n_train"], mb.n_train);
  const auto p2 = run_cli({"poison", "--quick", "--x", p("x.npy"), "--y", p("y.npy"), "--n-val",
                           "10", "--n-test", "10", "--threads", "1", "--json", p("p.json")});
  ASSERT_EQ(p2.exit_code, 0) << p2.err;
  const auto po = nlohmann::json::parse(read_file(dir_ / "p.json"))["result"];
  const analysis::PoisonBudget pb = analysis::poison_budget(true);
  EXPECT_EQ(po["options"]["width"], pb.options.width);
  EXPECT_EQ(po["options"]["steps"], pb.options.steps);
  EXPECT_EQ(po["options"]["seeds"], pb.options.seeds);
  EXPECT_EQ(po["data"]["n_train"], pb.n_train);
}

TEST(StudyBudgets, QuickIsSmallerThanFullInEveryBudgetDimension) {
  const auto cq = analysis::convergence_budget(true), cf = analysis::convergence_budget(false);
  EXPECT_LT(cq.options.widths.back(), cf.options.widths.back());
  EXPECT_LE(cq.options.seeds, cf.options.seeds);
  EXPECT_LT(cq.options.epochs_a, cf.options.epochs_a);
  EXPECT_LT(cq.n_train, cf.n_train);
  const auto mq = analysis::malleability_budget(true), mf = analysis::malleability_budget(false);
  EXPECT_LT(mq.options.width, mf.options.width);
  EXPECT_LT(mq.n_train, mf.n_train);
  const auto pq = analysis::poison_budget(true), pf = analysis::poison_budget(false);
  EXPECT_LT(pq.options.seeds, pf.options.seeds);
  EXPECT_LT(pq.n_test, pf.n_test);
  EXPECT_LT(analysis::spectrum_budget(true).sizes.back(),
            analysis::spectrum_budget(false).sizes.back());
  EXPECT_LT(analysis::inspect_budget(true).map_tokens, analysis::inspect_budget(false).map_tokens);
}

class QuickInspectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_model_dir(dir_ / "m", true);
    std::string text;
    for (int i = 0; i < 12; ++i) text += "The keeper wrote in his log every evening. ";
    testing::write_bytes(dir_ / "t.txt", text);  // 516 byte tokens
  }
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  testing::TempDir dir_;
};

TEST_F(QuickInspectCli, QuickUsesTheReportBudgetAndExplicitFlagsWin) {
  const analysis::InspectBudget b = analysis::inspect_budget(true);
  const auto r = run_cli({"inspect", "--quick", "--model", p("m"), "--text", p("t.txt"),
                          "--context", "64", "--maps", "1:2", "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto res = nlohmann::json::parse(read_file(dir_ / "r.json"))["result"];
  EXPECT_EQ(res["maps"][0]["weights"].size(), static_cast<std::size_t>(b.map_tokens));
  EXPECT_EQ(res["order_test"]["tokens"], b.order_tokens);
  EXPECT_EQ(res["text"]["chunks"], b.max_tokens / 64);  // the first 256 of 516 tokens
  const auto e = run_cli({"inspect", "--quick", "--model", p("m"), "--text", p("t.txt"),
                          "--context", "64", "--maps", "1:2", "--map-tokens", "20", "--max-tokens",
                          "128", "--json", p("e.json")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto er = nlohmann::json::parse(read_file(dir_ / "e.json"))["result"];
  EXPECT_EQ(er["maps"][0]["weights"].size(), 20u);
  EXPECT_EQ(er["text"]["chunks"], 2);
}

TEST_F(QuickInspectCli, SelectivityWindowWasRenamedMaxTokens) {
  const auto r = run_cli({"selectivity", "--model", p("m"), "--text", p("t.txt"), "--window", "48",
                          "--json", p("r.json")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--window was renamed --max-tokens")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "r.json"));
}

}  // namespace
}  // namespace attnlab
