// CLI tests for `attnlab inspect`: the per-head table on stdout, the JSON result (every head,
// maps, order test), the standalone HTML page, --maps and thresholds, the real GPT-2 tokenizer
// with a 50257-token model, and bad input (one stderr line, exit code, no output files).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

using testing::run_cli;

constexpr const char* kText =
    "The keeper wrote in his log every evening. On the first night of the storm he noted the "
    "wind, the boats and the lamp. On the third night he wrote one line: the lamp is burning.";

class InspectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_model_dir(dir_ / "m", true);
    testing::write_bytes(dir_ / "t.txt", kText);
  }
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  testing::TempDir dir_;
};

TEST_F(InspectCli, TableJsonAndHtml) {
  const auto r = run_cli({"inspect", "--model", p("m"), "--text", p("t.txt"), "--context", "64",
                          "--maps", "1:2,0:3", "--map-tokens", "20", "--order-tokens", "16",
                          "--json", p("r.json"), "--html", p("page.html")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 8 head lines + header + summary + order test.
  EXPECT_NE(r.out.find("layer head  norm_ent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("summary:"), std::string::npos);
  EXPECT_NE(r.out.find("order test (16 tokens"), std::string::npos);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "inspect");
  const auto& res = env["result"];
  EXPECT_EQ(res["heads"].size(), 8u);
  EXPECT_EQ(res["text"]["chunks"], 3);  // 164 byte tokens in chunks of 64
  ASSERT_EQ(res["maps"].size(), 2u);
  EXPECT_EQ(res["maps"][0]["layer"], 1);
  EXPECT_EQ(res["maps"][0]["head"], 2);
  EXPECT_EQ(res["maps"][0]["weights"].size(), 20u);
  EXPECT_EQ(res["order_test"]["rows"].size(), 10u);
  for (const auto& h : res["heads"]) {
    EXPECT_TRUE(h.contains("norm_entropy") && h.contains("effective_support") &&
                h.contains("sink_mass") && h.contains("sparsity") && h.contains("top8_mass") &&
                h.contains("wasted_share") && h.contains("labels"));
  }
  const std::string html = read_file(dir_ / "page.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("normalized entropy"), std::string::npos);
}

TEST_F(InspectCli, ThresholdsChangeLabelsAndRealTokenizerWorks) {
  const auto all = run_cli({"inspect", "--model", p("m"), "--text", p("t.txt"), "--no-order-test",
                            "--sink-threshold", "0", "--json", p("a.json")});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto env_all = nlohmann::json::parse(read_file(dir_ / "a.json"));
  for (const auto& h : env_all["result"]["heads"]) EXPECT_TRUE(h["sink"].get<bool>());
  EXPECT_NE(all.out.find("summary: 8 sink"), std::string::npos) << all.out;
  // A 50257-token model with GPT-2's own tokenizer files.
  testing::write_model_dir(dir_ / "big", false, 50257);
  const auto big = run_cli({"inspect", "--model", p("big"), "--tokenizer",
                            testing::gpt2_tokenizer_dir().string(), "--text", p("t.txt"),
                            "--no-order-test", "--json", p("b.json")});
  ASSERT_EQ(big.exit_code, 0) << big.err;
  const auto res = nlohmann::json::parse(read_file(dir_ / "b.json"))["result"];
  EXPECT_LT(res["text"]["tokens"].get<int>(), 60);  // BPE, not bytes
  EXPECT_EQ(res["maps"][0]["tokens"][1], " keeper");
}

TEST_F(InspectCli, BadInputFailsCleanly) {
  using testing::expect_cli_failure;
  const std::vector<std::filesystem::path> outs{dir_ / "r.json", dir_ / "page.html"};
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"inspect", "--model",   p("m"),   "--text",      p("t.txt"),
                               "--json",  p("r.json"), "--html", p("page.html")};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_cli_failure(args({"--maps", "9:0"}), 2, "outside the model", outs);
  expect_cli_failure(args({"--maps", "one:two"}), 2, "LAYER:HEAD", outs);
  expect_cli_failure(args({"--attention", "sinks=2"}), 2, "needs a window", outs);
  expect_cli_failure(args({"--sink-threshold", "2"}), 2, "sink-threshold", outs);
  expect_cli_failure({"inspect", "--model", p("none"), "--text", p("t.txt"), "--json", p("r.json")},
                     3, "cannot download", outs);
  expect_cli_failure(
      {"inspect", "--model", p("m"), "--text", p("nothing.txt"), "--json", p("r.json")}, 3,
      "nothing.txt", outs);
  // An empty text is an input error (exit 3), as in perplexity; --max-tokens 1 is a usage error.
  testing::write_bytes(dir_ / "empty.txt", "");
  expect_cli_failure(
      {"inspect", "--model", p("m"), "--text", p("empty.txt"), "--json", p("r.json")}, 3,
      "0 token(s)", outs);
  expect_cli_failure(args({"--max-tokens", "1"}), 2, "--max-tokens 1", outs);
  // Overlapping tensors in the safetensors file: FormatError naming the file.
  const std::string st = read_file(dir_ / "m" / "model.safetensors");
  std::string bad = st;
  const auto at = bad.find("\"data_offsets\":[0,");
  ASSERT_NE(at, std::string::npos);
  bad[at + 16] = '4';  // [0, ...] -> [4, ...] (a gap, then an overlap)
  testing::write_bytes(dir_ / "m" / "model.safetensors", bad);
  expect_cli_failure(args({}), 3, "model.safetensors", outs);
}

}  // namespace
}  // namespace attnlab
