// CLI tests for `attnlab perplexity`: the JSON it prints equals the library's evaluation on the
// same files, HF and llm.c checkpoints agree, --attention changes the model, and bad input
// (missing files, broken config, bad flags) fails with one line, the right exit code and no
// output file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/models/gpt2/perplexity.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

using testing::run_cli;

constexpr const char* kText =
    "Attention is a budget: every query spends one unit of weight over the keys it can see. "
    "Some heads spend it on the first token, some on the previous one, some everywhere.";

class PerplexityCli : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = testing::write_model_dir(dir_ / "m", true);
    testing::write_bytes(dir_ / "t.txt", kText);
  }
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  testing::TempDir dir_;
  models::gpt2::Gpt2Weights weights_;
};

TEST_F(PerplexityCli, PrintsTheLibraryResultAsJson) {
  const auto r = run_cli({"perplexity", "--model", p("m"), "--text", p("t.txt"), "--context", "32",
                          "--stride", "16", "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto tok = models::gpt2::BpeTokenizer::byte_level();
  const auto ids = tok.encode(kText);
  models::gpt2::PerplexityOptions o;
  o.context = 32;
  o.stride = 16;
  const auto want = models::gpt2::evaluate_perplexity(models::gpt2::Gpt2Model(weights_), ids, o);
  EXPECT_EQ(j["tokens"], static_cast<Index>(ids.size()));
  EXPECT_EQ(j["tokens_scored"], want.tokens_scored);
  EXPECT_EQ(j["windows"], want.windows);
  EXPECT_NEAR(j["perplexity"].get<double>(), want.perplexity, 1e-9 * want.perplexity);
  EXPECT_EQ(j["attention"], "full causal softmax");
  EXPECT_GT(j["bits_per_byte"].get<double>(), 0.0);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "perplexity");
  EXPECT_EQ(env["result"]["perplexity"], j["perplexity"]);
}

TEST_F(PerplexityCli, LlmcCheckpointAndAttentionOverride) {
  testing::write_bytes(dir_ / "gpt2.bin", models::gpt2::encode_gpt2_llmc(weights_, 3));
  const auto hf = run_cli({"perplexity", "--model", p("m"), "--text", p("t.txt")});
  const auto bin = run_cli(
      {"perplexity", "--model", p("gpt2.bin"), "--tokenizer", p("m"), "--text", p("t.txt")});
  ASSERT_EQ(hf.exit_code, 0) << hf.err;
  ASSERT_EQ(bin.exit_code, 0) << bin.err;
  EXPECT_EQ(nlohmann::json::parse(hf.out)["perplexity"],
            nlohmann::json::parse(bin.out)["perplexity"]);
  const auto win = run_cli(
      {"perplexity", "--model", p("m"), "--text", p("t.txt"), "--attention", "window=4,sinks=1"});
  ASSERT_EQ(win.exit_code, 0) << win.err;
  const auto w = nlohmann::json::parse(win.out);
  EXPECT_EQ(w["attention"], "sinks=1 + window=4");
  EXPECT_NE(w["perplexity"], nlohmann::json::parse(hf.out)["perplexity"]);
}

TEST_F(PerplexityCli, BosUsesTheEndOfTextToken) {
  // The byte-level tokenizer has no <|endoftext|> and the config's 50256 is outside V = 256.
  testing::expect_cli_failure({"perplexity", "--model", p("m"), "--text", p("t.txt"), "--bos"}, 2,
                              "bos_token_id");
  // GPT-2's tokenizer with a 50257-token model: --bos scores every token of the text.
  testing::write_model_dir(dir_ / "big", false, 50257);
  const std::string tok = testing::gpt2_tokenizer_dir().string();
  const auto plain =
      run_cli({"perplexity", "--model", p("big"), "--tokenizer", tok, "--text", p("t.txt")});
  const auto bos = run_cli(
      {"perplexity", "--model", p("big"), "--tokenizer", tok, "--text", p("t.txt"), "--bos"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(bos.exit_code, 0) << bos.err;
  const auto a = nlohmann::json::parse(plain.out), b = nlohmann::json::parse(bos.out);
  EXPECT_EQ(b["tokens_scored"], a["tokens"]);
  EXPECT_EQ(a["tokens_scored"].get<int>(), a["tokens"].get<int>() - 1);
}

TEST_F(PerplexityCli, BadInputFailsCleanly) {
  using testing::expect_cli_failure;
  const auto out = dir_ / "r.json";
  const std::vector<std::filesystem::path> outs{out};
  expect_cli_failure(
      {"perplexity", "--model", p("nope"), "--text", p("t.txt"), "--json", p("r.json")}, 3,
      "openai-community/gpt2", outs);
  std::filesystem::create_directories(dir_ / "empty");
  expect_cli_failure({"perplexity", "--model", p("empty"), "--text", p("t.txt")}, 3,
                     "model.safetensors + config.json");
  expect_cli_failure({"perplexity", "--model", p("m"), "--text", p("t.txt"), "--attention",
                      "window=0", "--json", p("r.json")},
                     2, "window", outs);
  expect_cli_failure(
      {"perplexity", "--model", p("m"), "--text", p("t.txt"), "--attention", "flash"}, 2,
      "unknown item 'flash'");
  expect_cli_failure({"perplexity", "--model", p("m"), "--text", p("t.txt"), "--context", "65"}, 2,
                     "context 65");
  expect_cli_failure({"perplexity", "--model", p("m"), "--text", p("missing.txt")}, 3,
                     "missing.txt");
  testing::write_bytes(dir_ / "one.txt", "x");
  expect_cli_failure({"perplexity", "--model", p("m"), "--text", p("one.txt")}, 3, "at least 2");
  // A model without tokenizer files and no --tokenizer.
  testing::write_model_dir(dir_ / "bare", false);
  expect_cli_failure({"perplexity", "--model", p("bare"), "--text", p("t.txt")}, 3, "--tokenizer");
  // A tokenizer larger than the model's vocabulary.
  expect_cli_failure({"perplexity", "--model", p("m"), "--tokenizer",
                      testing::gpt2_tokenizer_dir().string(), "--text", p("t.txt")},
                     2, "50257");
  // Broken config.json names the file and the field.
  testing::write_bytes(dir_ / "m" / "config.json", R"({"n_embd": 32, "n_head": "4"})");
  expect_cli_failure({"perplexity", "--model", p("m"), "--text", p("t.txt"), "--json", p("r.json")},
                     3, "'n_head' must be an integer", outs);
  // Truncated safetensors names the file.
  testing::write_model_dir(dir_ / "m2", true);
  const std::string st = read_file(dir_ / "m2" / "model.safetensors");
  testing::write_bytes(dir_ / "m2" / "model.safetensors", st.substr(0, st.size() / 2));
  expect_cli_failure({"perplexity", "--model", p("m2"), "--text", p("t.txt")}, 3,
                     "model.safetensors");
}

}  // namespace
}  // namespace attnlab
