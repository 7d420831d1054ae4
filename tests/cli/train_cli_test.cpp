// CLI tests for `attnlab train`: a tiny run writes a model every tool reads (inspect, perplexity
// — which reproduces the validation loss train reported), --resume continues bit-identically, and
// bad input (empty or binary corpus, unknown variant, bad sizes, corrupt or mismatched checkpoint,
// unwritable output) fails with one line, the right exit code and no model or checkpoint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

using testing::expect_cli_failure;
using testing::run_cli;

std::string corpus_text() {
  return testing::tiny_train_corpus();
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_bytes(dir_ / "c.txt", corpus_text()); }
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  std::vector<std::string> tiny(const std::string& out, const std::string& steps = "20") {
    return {"train", "--corpus",         p("c.txt"), "--out",
            p(out),  "--layers",         "2",        "--width",
            "16",    "--heads",          "2",        "--context",
            "16",    "--batch",          "4",        "--steps",
            steps,   "--eval-every",     "10",       "--sink-seq",
            "8",     "--sink-sequences", "4",        "--eval-windows",
            "4",     "--threads",        "2",        "--seed",
            "3"};
  }
  testing::TempDir dir_;
};

// args with the value after `flag` replaced.
std::vector<std::string> set(std::vector<std::string> args, const std::string& flag,
                             const std::string& value) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) args[i + 1] = value;
  return args;
}

TEST_F(TrainCli, WritesAModelThatInspectAndPerplexityRead) {
  auto args = tiny("m");
  args.insert(args.end(), {"--json", p("t.json")});
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"model.safetensors", "config.json", "vocab.json", "merges.txt",
                        "checkpoint.safetensors", "train.json"})
    EXPECT_TRUE(std::filesystem::exists(dir_ / "m" / f)) << f;
  const auto env = nlohmann::json::parse(read_file(dir_ / "m" / "train.json"));
  EXPECT_EQ(env["kind"], "train");
  const auto& res = env["result"];
  EXPECT_EQ(res["steps_done"], 20);
  EXPECT_EQ(res["history"]["curve"].size(), 20u);
  EXPECT_EQ(res["history"]["evals"].size(), 3u);
  EXPECT_GT(res["baselines"]["best_bits_per_token"].get<double>(), 0.0);
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ / "t.json")), env);
  // The validation text: bytes after floor(0.9 n) of the corpus.
  const std::string text = corpus_text();
  testing::write_bytes(dir_ / "val.txt", text.substr(text.size() * 9 / 10));
  const auto pp = run_cli({"perplexity", "--model", p("m"), "--text", p("val.txt"), "--context",
                           "16", "--stride", "15"});
  ASSERT_EQ(pp.exit_code, 0) << pp.err;
  const auto pj = nlohmann::json::parse(pp.out);
  EXPECT_EQ(pj["tokens_scored"], res["final_val_scored"]);
  EXPECT_NEAR(pj["nll_mean"].get<double>(), res["final_val_loss"].get<double>(),
              1e-5 * res["final_val_loss"].get<double>());
  const auto in =
      run_cli({"inspect", "--model", p("m"), "--text", p("val.txt"), "--json", p("i.json")});
  EXPECT_EQ(in.exit_code, 0) << in.err;
}

TEST_F(TrainCli, ResumeContinuesBitIdentically) {
  ASSERT_EQ(run_cli(tiny("full")).exit_code, 0);
  auto first = tiny("split");
  first.insert(first.end(), {"--stop-after", "7"});
  const auto a = run_cli(first);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "split" / "checkpoint.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "split" / "model.safetensors"));
  auto second = tiny("split");
  second.push_back("--resume");
  const auto b = run_cli(second);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(read_file(dir_ / "split" / "model.safetensors"),
            read_file(dir_ / "full" / "model.safetensors"));
}

TEST_F(TrainCli, BadInputFailsCleanly) {
  testing::write_bytes(dir_ / "empty.txt", "");
  testing::write_bytes(dir_ / "bin.txt", std::string("abc\0def", 7));
  const auto out = dir_ / "bad" / "model.safetensors";
  const auto ckpt = dir_ / "bad" / "checkpoint.safetensors";
  auto with = [&](std::vector<std::string> extra) {
    auto a = tiny("bad");
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto corpus = [&](const std::string& c) { return set(tiny("bad"), "--corpus", p(c)); };
  expect_cli_failure(corpus("empty.txt"), 3, "empty", {out, ckpt});
  expect_cli_failure(corpus("bin.txt"), 3, "binary", {out, ckpt});
  expect_cli_failure(corpus("missing.txt"), 3, "missing.txt", {out, ckpt});
  expect_cli_failure(with({"--attention", "fancy"}), 2, "fancy", {out, ckpt});
  expect_cli_failure(with({"--attention", "linear,window=4"}), 2, "linear", {out, ckpt});
  expect_cli_failure(with({"--positions", "spiral"}), 2, "spiral", {out, ckpt});
  expect_cli_failure(set(tiny("bad"), "--width", "15"), 2, "width", {out, ckpt});
  expect_cli_failure(set(tiny("bad"), "--context", "100000"), 2, "context", {out, ckpt});
  expect_cli_failure(set(tiny("bad"), "--context", "8000"), 2, "train split", {out, ckpt});
  expect_cli_failure(with({"--resume"}), 3, "checkpoint", {out, ckpt});
  testing::write_bytes(dir_ / "not_a_dir", "x");
  auto file_out = tiny("not_a_dir");
  expect_cli_failure(file_out, 3, "not a directory");
  // Corrupt and mismatched checkpoints on --resume.
  auto stop = tiny("run");
  stop.insert(stop.end(), {"--stop-after", "3"});
  ASSERT_EQ(run_cli(stop).exit_code, 0);
  const auto run_out = dir_ / "run" / "model.safetensors";
  auto wider = set(tiny("run"), "--width", "32");
  wider.push_back("--resume");
  expect_cli_failure(wider, 2, "width", {run_out});
  std::string bytes = read_file(dir_ / "run" / "checkpoint.safetensors");
  testing::write_bytes(dir_ / "run" / "checkpoint.safetensors", bytes.substr(0, bytes.size() - 9));
  auto resume = tiny("run");
  resume.push_back("--resume");
  expect_cli_failure(resume, 3, "checkpoint", {run_out});
}

}  // namespace
}  // namespace attnlab
