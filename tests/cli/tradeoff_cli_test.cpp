// CLI tests for `attnlab tradeoff`: every bad input fails with exit 2 (usage) or 3 (input), one
// stderr line naming the problem, nothing on stdout and no output file or directory left behind —
// and it fails before any training (a run that trained would have printed "tradeoff: trained …"
// progress lines on stderr, which is not a terminal here, so the one-line check catches it).
// One small successful run checks the result envelope and the CSV / NPY files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

namespace fs = std::filesystem;
using testing::expect_cli_failure;
using testing::run_cli;

class TradeoffCli : public ::testing::Test {
 protected:
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  // A small valid run writing --json J and --out-dir D; `steps` large enough that a failure
  // found only after training would show up as progress lines.
  std::vector<std::string> args(const std::string& steps = "200") const {
    return {
        "tradeoff",  "--tasks",     "retrieval:32", "--variants", "full",    "--seeds", "1",
        "--steps",   steps,         "--width",      "32",         "--heads", "2",       "--batch",
        "8",         "--eval-rows", "32",           "--threads",  "2",       "--json",  p("J.json"),
        "--out-dir", p("D")};
  }
  std::vector<fs::path> outputs() const {
    return {dir_ / "J.json", dir_ / "D" / "summaries.csv", dir_ / "D" / "runs.csv",
            dir_ / "D" / "retrieval_32_by_distance.npy"};
  }
  // args() with `flag`'s value replaced, or flag + value appended when absent.
  std::vector<std::string> with(const std::string& flag, const std::string& value,
                                std::vector<std::string> a = {}) const {
    if (a.empty()) a = args();
    for (std::size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == flag) {
        a[i + 1] = value;
        return a;
      }
    a.push_back(flag);
    a.push_back(value);
    return a;
  }
  void expect_failure(const std::vector<std::string>& a, int code, const std::string& mention) {
    expect_cli_failure(a, code, mention, outputs());
    EXPECT_FALSE(fs::exists(dir_ / "D")) << "the output directory was created";
  }
  testing::TempDir dir_;
};

TEST_F(TradeoffCli, BadTaskListsAreUsageErrors) {
  expect_failure(with("--tasks", "bogus"), 2, "unknown task 'bogus'");
  expect_failure(with("--tasks", "retrieval:abc"), 2,
                 "--tasks: context 'abc' of 'retrieval:abc' is not an integer");
  expect_failure(with("--tasks", "kjv:64:untyped"), 2, "the third part can only be 'untyped'");
  expect_failure(with("--tasks", ""), 2, "--tasks: empty item in ''");
  expect_failure(with("--tasks", "retrieval:12"), 2, "room for 2 pairs, fewer than 8");
}

TEST_F(TradeoffCli, BadVariantsAreUsageErrors) {
  expect_failure(with("--variants", "ring"), 2, "unknown variant 'ring'");
  expect_failure(with("--variants", "full,window-0"), 2,
                 "variant 'window-0': window '0' is not an integer");
  expect_failure(with("--variants", "full,,alibi"), 2, "--variants: empty item");
}

TEST_F(TradeoffCli, DuplicateVariantsAreUsageErrors) {
  // Duplicate seeds are rejected ("seed 1 twice") and parse_variants rejects duplicate names
  // ("--variants: 'full' twice"), but the CLI accepts --variants full,full and trains and reports
  // the same variant twice.
  expect_failure(with("--variants", "full,window-4,full", args("20")), 2, "'full' twice");
}

TEST_F(TradeoffCli, BadCountsAreUsageErrors) {
  expect_failure(with("--seeds", "0"), 2, "--seeds");
  expect_failure(with("--seeds", "100"), 2, "--seeds 100 outside [1, 64]");
  expect_failure(with("--steps", "0"), 2, "--steps");
  expect_failure(with("--steps", "20000000"), 2, "steps 20000000 outside [1, 10^7]");
  expect_failure(with("--heads", "3"), 2, "heads 3 outside the divisors of width");
  expect_failure(with("--seed", "18446744073709551615", with("--seeds", "2")), 2, "overflows");
  expect_failure(with("--frobnicate", "1"), 2, "frobnicate");
}

TEST_F(TradeoffCli, BadSearchBudgetsAreUsageErrors) {
  auto search = [&](const std::string& budget) {
    std::vector<std::string> a = with("--budget", budget);
    a.push_back("--search");
    return a;
  };
  expect_failure(search("0"), 2, "--budget");
  expect_failure(search("2"), 2, "--budget 2 outside (0, 1]");
  // Valid as a number, but no spec of the grid is that cheap: refused before the search trains.
  expect_failure(search("0.01"), 2, "no spec of the grid fits --budget 0.01");
}

TEST_F(TradeoffCli, OutDirThatIsARegularFileFailsBeforeTraining) {
  testing::write_bytes(dir_ / "D", "not a directory");
  // 10^6 steps: a check made after training would not return for a long time.
  const auto r = run_cli(with("--steps", "1000000"));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.rfind("attnlab: input error:", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("exists and is not a directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(p("D")), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(read_file(dir_ / "D"), "not a directory");
  EXPECT_FALSE(fs::exists(dir_ / "J.json"));
}

TEST_F(TradeoffCli, JsonIntoAMissingDirectoryFailsBeforeTraining) {
  // Found today only when the outputs are committed, after every model has trained (with
  // --steps 10^6 that is hours), and the --out-dir directory is left behind, empty.
  const std::string json = p("missing/J.json");
  expect_failure(with("--json", json), 3, p("missing"));
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

TEST_F(TradeoffCli, SmallRunWritesTheEnvelopeAndTheFiles) {
  std::vector<std::string> a = args("60");
  a = with("--variants", "full,window-4", a);
  a = with("--seeds", "2", a);
  a = with("--seed", "5", a);
  const auto r = run_cli(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The table on stdout, one progress line per training on stderr (not a terminal).
  EXPECT_NE(r.out.find("window-4"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 4) << r.err;
  EXPECT_NE(r.err.find("tradeoff: trained 4/4"), std::string::npos) << r.err;

  const auto env = nlohmann::json::parse(read_file(dir_ / "J.json"));
  EXPECT_EQ(env.at("kind"), "tradeoff");
  EXPECT_EQ(env.at("seed"), 5);
  EXPECT_EQ(env.at("threads"), 2);
  for (const char* k : {"schema_version", "command_line", "git_revision", "timings_s"})
    EXPECT_TRUE(env.contains(k)) << k;
  const auto& study = env.at("result").at("study");
  EXPECT_EQ(study.at("seeds"), (std::vector<int>{5, 6}));
  EXPECT_EQ(study.at("variants"), (std::vector<std::string>{"full", "window-4"}));
  EXPECT_EQ(study.at("train").at("steps"), 60);
  EXPECT_EQ(study.at("runs").size(), 4u);
  const auto& sums = study.at("summaries");
  ASSERT_EQ(sums.size(), 2u);
  EXPECT_EQ(sums[0].at("variant"), "full");
  EXPECT_EQ(sums[1].at("variant"), "window-4");
  for (const auto& s : sums) {
    const double mean = s.at("mean").get<double>();
    ASSERT_EQ(s.at("ci95").size(), 2u);
    EXPECT_LE(s.at("ci95")[0].get<double>(), mean);
    EXPECT_GE(s.at("ci95")[1].get<double>(), mean);
    EXPECT_GE(s.at("ci95")[0].get<double>(), 0.0);
    EXPECT_LE(s.at("ci95")[1].get<double>(), 1.0);
    EXPECT_EQ(s.at("per_seed").size(), 2u);
    EXPECT_EQ(s.at("metric"), "accuracy");
    EXPECT_EQ(s.at("bucket_mean").size(), 8u);
    EXPECT_EQ(s.at("costs").at("tokens"), 32);
  }
  // Counted costs (L = 2, H = 2, C = 32, T = 32): full visits 2·2·(32·33/2) = 2112 pairs and keeps
  // 32 rows of 2·32·4 bytes per layer; window-4 visits 2·2·(1+2+3+4·29) = 488 and keeps 4 rows.
  EXPECT_DOUBLE_EQ(sums[0].at("costs").at("attention_pairs").get<double>(), 2112);
  EXPECT_DOUBLE_EQ(sums[1].at("costs").at("attention_pairs").get<double>(), 488);
  EXPECT_DOUBLE_EQ(sums[0].at("costs").at("kv_bytes").get<double>(), 2 * 2 * 32 * 4 * 32);
  EXPECT_DOUBLE_EQ(sums[1].at("costs").at("kv_bytes").get<double>(), 2 * 2 * 32 * 4 * 4);
  EXPECT_TRUE(sums[1].at("on_frontier").get<bool>());  // the cheaper one is always on it

  const std::string csv = read_file(dir_ / "D" / "summaries.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "task,context,variant,family,metric,mean,ci_lo,ci_hi,seeds,forward_flops,"
            "training_flops,attention_pairs,kv_bytes,prunable_pairs,train_seconds,on_frontier");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  EXPECT_NE(csv.find("\nretrieval,32,window-4,window,accuracy,"), std::string::npos) << csv;
  const std::string runs = read_file(dir_ / "D" / "runs.csv");
  EXPECT_EQ(runs.substr(0, runs.find('\n')),
            "task,context,variant,seed,quality,eval_nll,scored,train_seconds");
  EXPECT_EQ(std::count(runs.begin(), runs.end(), '\n'), 5);
  EXPECT_NE(runs.find("\nretrieval,32,full,6,"), std::string::npos) << runs;
  const io::NpyArray npy = io::load_npy(dir_ / "D" / "retrieval_32_by_distance.npy");
  EXPECT_EQ(npy.dtype, io::NpyDtype::kF64);
  EXPECT_EQ(npy.shape, (std::vector<Index>{2, 8}));
  for (std::size_t i = 0; i < npy.values.size(); ++i) {
    const double v = npy.values[i];
    const auto& b = sums[i / 8].at("bucket_mean")[i % 8];
    if (b.is_null()) {
      EXPECT_TRUE(std::isnan(v)) << i;
    } else {
      EXPECT_DOUBLE_EQ(v, b.get<double>()) << i;
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "D" / "streaming.csv"));
}

}  // namespace
}  // namespace attnlab
