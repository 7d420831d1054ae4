// CLI tests for `attnlab selectivity`: synthetic, NPY and GPT-2-capture sources end to end
// (summary on stdout, JSON envelope, CSV tables, determinism for a seed), and bad input (one
// stderr line, exit code, no output files left behind).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

using testing::expect_cli_failure;
using testing::run_cli;

// Small sweeps: two lengths, a short critical grid, few draws and temperatures.
std::vector<std::string> small_sweeps() {
  return {"--lengths",
          "16,32",
          "--counts",
          "1,4",
          "--separability-counts",
          "1,2,4",
          "--critical-grid",
          "1,2,4,8",
          "--draws",
          "20",
          "--ks-draws",
          "4",
          "--t-points",
          "3",
          "--eps",
          "1e-3,0.1"};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class SelectivityCli : public ::testing::Test {
 protected:
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  testing::TempDir dir_;
};

TEST_F(SelectivityCli, SyntheticRunWritesJsonCsvAndIsDeterministic) {
  const auto args =
      with({"selectivity", "--heads", "4", "--queries", "3", "--dim", "8"}, small_sweeps());
  const auto r1 = run_cli(with(args, {"--json", p("a.json"), "--out-dir", p("csv")}));
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  for (const char* name : {"softmax", "sparsemax", "entmax15", "ssmax"})
    EXPECT_NE(r1.out.find(name), std::string::npos) << r1.out;
  const auto env = nlohmann::json::parse(read_file(dir_ / "a.json"));
  EXPECT_EQ(env["kind"], "selectivity");
  const auto& res = env["result"];
  EXPECT_EQ(res["schema"], "attnlab.selectivity");
  EXPECT_EQ(res["source"]["kind"], "synthetic");
  EXPECT_EQ(res["source"]["heads"], 4);
  ASSERT_EQ(res["normalizers"].size(), 4u);
  for (const auto& n : res["normalizers"]) {
    EXPECT_EQ(n["length_sweep"].size(), 2u);
    EXPECT_EQ(n["sensitivity"].size(), 3u);
  }
  bool any_csv = false;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "csv"))
    any_csv = any_csv || e.path().extension() == ".csv";
  EXPECT_TRUE(any_csv);

  const auto r2 = run_cli(with(args, {"--json", p("b.json")}));
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  auto a = env["result"], b = nlohmann::json::parse(read_file(dir_ / "b.json"))["result"];
  a.erase("timings_s"), a.erase("seconds"), b.erase("timings_s"), b.erase("seconds");
  EXPECT_EQ(a, b);
  // A different seed draws different tokens.
  const auto r3 = run_cli(with(args, {"--seed", "8", "--json", p("c.json")}));
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  auto c = nlohmann::json::parse(read_file(dir_ / "c.json"))["result"];
  c.erase("timings_s"), c.erase("seconds");
  EXPECT_NE(a["normalizers"], c["normalizers"]);
}

TEST_F(SelectivityCli, NpyArraysAreReadAsHeads) {
  Rng rng(3);
  Tensor3d q(4, 4, 8), k(4, 32, 8), v(4, 32, 6);
  for (auto* t : {&q, &k, &v})
    for (Index i = 0; i < t->size(); ++i) t->data()[i] = rng.normal();
  io::save_npy(dir_ / "q.npy", q);
  io::save_npy(dir_ / "k.npy", k);
  io::save_npy(dir_ / "v.npy", v);
  const auto r =
      run_cli(with({"selectivity", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"),
                    "--causal", "--normalizers", "softmax", "--json", p("r.json")},
                   small_sweeps()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto res = nlohmann::json::parse(read_file(dir_ / "r.json"))["result"];
  EXPECT_EQ(res["source"]["kind"], "npy");
  EXPECT_EQ(res["source"]["heads"], 4);
  EXPECT_EQ(res["source"]["causal"], true);
  EXPECT_EQ(res["source"]["token_dim"], 6);
  ASSERT_EQ(res["normalizers"].size(), 1u);

  // A NaN anywhere is an input error naming the array; nothing is written.
  v.data()[17] = std::numeric_limits<double>::quiet_NaN();
  io::save_npy(dir_ / "vbad.npy", v);
  expect_cli_failure(with({"selectivity", "--q", p("q.npy"), "--k", p("k.npy"), "--v",
                           p("vbad.npy"), "--json", p("bad.json")},
                          small_sweeps()),
                     3, "vbad.npy': value at [0, 2, 5] is NaN", {dir_ / "bad.json"});
}

// [B, H, L, d] arrays (PyTorch's layout) are B·H heads: the same numbers as the [B·H, L, d]
// arrays, with heads labelled by batch item and head.
TEST_F(SelectivityCli, FourDimNpyArraysAreBatchTimesHeadsHeads) {
  const Index B = 2, H = 2;
  Rng rng(5);
  Tensor3d q(B * H, 4, 8), k(B * H, 32, 8), v(B * H, 32, 6);
  for (auto* t : {&q, &k, &v})
    for (Index i = 0; i < t->size(); ++i) t->data()[i] = rng.normal();
  io::save_npy(dir_ / "q4.npy", q.data(), std::vector<Index>{B, H, 4, 8});
  io::save_npy(dir_ / "k4.npy", k.data(), std::vector<Index>{B, H, 32, 8});
  io::save_npy(dir_ / "v4.npy", v.data(), std::vector<Index>{B, H, 32, 6});
  io::save_npy(dir_ / "q3.npy", q);
  io::save_npy(dir_ / "k3.npy", k);
  io::save_npy(dir_ / "v3.npy", v);
  auto run = [&](const std::string& n) {
    return run_cli(
        with({"selectivity", "--q", p("q" + n + ".npy"), "--k", p("k" + n + ".npy"), "--v",
              p("v" + n + ".npy"), "--normalizers", "softmax", "--json", p("r" + n + ".json")},
             small_sweeps()));
  };
  const auto r4 = run("4");
  ASSERT_EQ(r4.exit_code, 0) << r4.err;
  const auto r3 = run("3");
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  auto res4 = nlohmann::json::parse(read_file(dir_ / "r4.json"))["result"];
  auto res3 = nlohmann::json::parse(read_file(dir_ / "r3.json"))["result"];
  EXPECT_EQ(res4["source"]["kind"], "npy");
  EXPECT_EQ(res4["source"]["heads"], B * H);
  EXPECT_EQ(res4["source"]["length"], 32);
  EXPECT_EQ(res4["source"]["token_dim"], 6);
  ASSERT_EQ(res4["source"]["labels"].size(), 4u);
  EXPECT_EQ(res4["source"]["labels"][0], "b0.h0");
  EXPECT_EQ(res4["source"]["labels"][3], "b1.h1");
  EXPECT_EQ(res4["normalizers"], res3["normalizers"]);

  // q, k and v must agree on [B, H]; the same B·H in another split is not enough.
  io::save_npy(dir_ / "k_split.npy", k.data(), std::vector<Index>{H * B, 1, 32, 8});
  expect_cli_failure(with({"selectivity", "--q", p("q4.npy"), "--k", p("k_split.npy"), "--v",
                           p("v4.npy"), "--json", p("bad.json")},
                          small_sweeps()),
                     3, "need the same batch and head dims [B, H]", {dir_ / "bad.json"});
  expect_cli_failure(with({"selectivity", "--q", p("q4.npy"), "--k", p("k3.npy"), "--v",
                           p("v4.npy"), "--json", p("bad.json")},
                          small_sweeps()),
                     3, "k [4, 32, 8]", {dir_ / "bad.json"});
}

TEST_F(SelectivityCli, GptTwoCaptureGivesOneUnitPerLayerAndHead) {
  testing::write_model_dir(dir_ / "m", true);
  std::string text;
  for (int i = 0; i < 12; ++i) text += "the lamp is burning on the third night. ";
  testing::write_bytes(dir_ / "t.txt", text);
  const auto r = run_cli(
      with({"selectivity", "--model", p("m"), "--text", p("t.txt"), "--max-tokens", "48",
            "--model-queries", "6", "--normalizers", "softmax,sparsemax", "--json", p("r.json")},
           small_sweeps()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto res = nlohmann::json::parse(read_file(dir_ / "r.json"))["result"];
  EXPECT_EQ(res["source"]["kind"], "model");
  EXPECT_EQ(res["source"]["causal"], true);
  EXPECT_EQ(res["source"]["heads"], 8);  // 2 layers x 4 heads
  EXPECT_EQ(res["source"]["queries"], 6);
  EXPECT_EQ(res["source"]["length"], 48);
  EXPECT_EQ(res["source"]["labels"][0], "L0.H0");
  EXPECT_EQ(res["source"]["labels"][7], "L1.H3");
  EXPECT_DOUBLE_EQ(res["temperature"].get<double>(), std::sqrt(8.0));  // d = 32 / 4

  const auto one = run_cli(with(
      {"selectivity", "--model", p("m"), "--text", p("t.txt"), "--max-tokens", "48", "--layers",
       "1", "--tokens", "hidden", "--normalizers", "softmax", "--json", p("one.json")},
      small_sweeps()));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto r1 = nlohmann::json::parse(read_file(dir_ / "one.json"))["result"];
  EXPECT_EQ(r1["source"]["heads"], 4);
  EXPECT_EQ(r1["source"]["labels"][0], "L1.H0");
  EXPECT_EQ(r1["source"]["tokens"], "hidden");
  EXPECT_EQ(r1["source"]["token_dim"], 32);  // the residual stream, n_embd
}

TEST_F(SelectivityCli, BadInputIsOneClearLineAndNoOutput) {
  testing::write_model_dir(dir_ / "m", true);
  testing::write_bytes(dir_ / "t.txt", "a short text that is long enough for a window of forty");
  const auto out = dir_ / "r.json";
  const std::vector<std::string> base = {"selectivity", "--json", out.string()};
  expect_cli_failure(with(base, {"--normalizers", "softermax"}), 2, "softermax", {out});
  expect_cli_failure(with(base, {"--sweeps", "lengthy"}), 2, "lengthy", {out});
  // Lengths are checked when parsed (a length needs at least 2 keys), not deep in a sweep.
  expect_cli_failure(with(base, {"--lengths", "0"}), 2, "--lengths: Value 0 not in range", {out});
  expect_cli_failure(with(base, {"--lengths", "64,-5"}), 2, "Value -5", {out});
  expect_cli_failure(with(base, {"--counts", "0"}), 2, "--counts", {out});
  expect_cli_failure(with(base, {"--model", p("m")}), 2, "--text", {out});
  expect_cli_failure(with(base, {"--text", p("t.txt")}), 2, "--model", {out});
  expect_cli_failure(with(base, {"--model", p("m"), "--text", p("t.txt"), "--layers", "2"}), 2,
                     "layer 2", {out});
  expect_cli_failure(with(base, {"--model", p("m"), "--text", p("t.txt"), "--heads", "3"}), 2,
                     "--model", {out});
  expect_cli_failure(with(base, {"--model", p("nowhere"), "--text", p("t.txt")}), 3, "nowhere",
                     {out});
  expect_cli_failure(with(base, {"--model", p("m"), "--text", p("missing.txt")}), 3, "missing.txt",
                     {out});
  expect_cli_failure(with(base, {"--q", p("q.npy")}), 2, "--k", {out});
  expect_cli_failure(with(base, {"--v", p("v.npy")}), 2, "--q", {out});
  expect_cli_failure(with(base, {"--ks-level", "-1"}), 2, "--ks-level", {out});
}

}  // namespace
}  // namespace attnlab
