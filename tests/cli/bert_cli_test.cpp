// CLI tests for the BERT commands: `attnlab embed` (embeddings, ids, attention maps, JSON) and
// `attnlab inspect` on a BERT directory, on a small random BERT written with attnlab's writer,
// plus bad input (one stderr line, exit code, no output files).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/models/bert/weights.hpp"
#include "tests/cli/gpt2_cli_support.hpp"

namespace attnlab {
namespace {

using testing::expect_cli_failure;
using testing::run_cli;
using testing::write_bytes;

const char* kVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nlamp\nis\nburning\nsea\n.\n,\n";

class BertCli : public ::testing::Test {
 protected:
  void SetUp() override {
    models::bert::BertConfig c;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.hidden_size = 16;
    c.intermediate_size = 32;
    c.vocab_size = 12;
    c.max_position_embeddings = 24;
    models::bert::save_bert_hf(models::bert::random_bert_weights(c, 4, 0.1), dir_ / "m");
    write_bytes(dir_ / "m" / "vocab.txt", kVocab);
    write_bytes(dir_ / "t.txt", "The lamp is burning.\n\nThe sea, the lamp.\n");
    write_bytes(dir_ / "empty.txt", "\n\n");
  }
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  testing::TempDir dir_;
};

TEST_F(BertCli, EmbedWritesEmbeddingsIdsAndMaps) {
  const auto r = run_cli({"embed", "--model", p("m"), "--text", p("t.txt"), "--out", p("e.npy"),
                          "--ids-out", p("ids.json"), "--attention-out", p("a.npy"), "--json",
                          p("r.json"), "--batch", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 sentences"), std::string::npos) << r.out;
  const auto e = io::load_npy(dir_ / "e.npy");
  ASSERT_EQ(e.shape, (std::vector<Index>{2, 16}));
  for (Index s = 0; s < 2; ++s) {
    double n = 0;
    for (Index c = 0; c < 16; ++c)
      n += e.values[static_cast<std::size_t>(s * 16 + c)] *
           e.values[static_cast<std::size_t>(s * 16 + c)];
    EXPECT_NEAR(n, 1.0, 1e-5);  // L2-normalized
  }
  const auto ids = nlohmann::json::parse(read_file(dir_ / "ids.json"));
  EXPECT_EQ(ids[0], (std::vector<int>{2, 5, 6, 7, 8, 10, 3}));
  // [L, H, n, n] float32 (4-D, beyond load_npy's 3 dims: read the header and data directly).
  const std::string a = read_file(dir_ / "a.npy");
  EXPECT_NE(a.find("'shape': (2, 2, 7, 7)"), std::string::npos);
  ASSERT_GT(a.size(), 2u * 2 * 7 * 7 * 4);
  std::vector<float> w(2 * 2 * 7 * 7);
  std::memcpy(w.data(), a.data() + a.size() - w.size() * 4, w.size() * 4);
  for (std::size_t row = 0; row < w.size() / 7; ++row) {
    double sum = 0;
    for (std::size_t j = 0; j < 7; ++j) sum += w[row * 7 + j];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["kind"], "embed");
  EXPECT_EQ(env["result"]["sentences"], 2);
  EXPECT_EQ(env["result"]["cosine"].size(), 2u);
  // The same sentences with --batch 2 and --sentence give the same vectors.
  const auto r2 = run_cli({"embed", "--model", p("m"), "--sentence", "The lamp is burning.",
                           "--sentence", "The sea, the lamp.", "--out", p("e2.npy")});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const auto e2 = io::load_npy(dir_ / "e2.npy");
  for (std::size_t k = 0; k < e.values.size(); ++k) EXPECT_NEAR(e.values[k], e2.values[k], 1e-6);
}

TEST_F(BertCli, InspectDetectsTheEncoder) {
  const auto r = run_cli({"inspect", "--model", p("m"), "--text", p("t.txt"), "--json", p("r.json"),
                          "--html", p("page.html")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[CLS]  [SEP]  punct"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("order test"), std::string::npos) << r.out;
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["result"]["heads"].size(), 4u);
  EXPECT_EQ(env["result"]["layers"].size(), 2u);
  EXPECT_NE(read_file(dir_ / "page.html").find("<svg"), std::string::npos);
}

TEST_F(BertCli, SelectivityReadsTheEncodersHeads) {
  const auto r = run_cli(
      {"selectivity", "--model",      p("m"),          "--text", p("t.txt"),           "--quick",
       "--sweeps",    "length,count", "--lengths",     "4,8",    "--reference-length", "8",
       "--counts",    "1,2",          "--n-at-length", "2",      "--model-queries",    "3",
       "--json",      p("s.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto env = nlohmann::json::parse(read_file(dir_ / "s.json"));
  EXPECT_EQ(env["result"]["source"]["causal"], false) << env["result"]["source"].dump();
  EXPECT_EQ(env["result"]["source"]["heads"], 4);
}

TEST_F(BertCli, BadInputFailsCleanly) {
  const auto out = dir_ / "o.npy";
  const std::vector<std::filesystem::path> outs = {out};
  expect_cli_failure({"embed", "--model", p("m"), "--out", out.string()}, 2, "--text", outs);
  expect_cli_failure(
      {"embed", "--model", p("m"), "--text", p("t.txt"), "--sentence", "x", "--out", out.string()},
      2, "either", outs);
  expect_cli_failure({"embed", "--model", p("m"), "--text", p("empty.txt"), "--out", out.string()},
                     3, "no sentence", outs);
  expect_cli_failure(
      {"embed", "--model", p("m"), "--sentence", "x", "--max-length", "1", "--out", out.string()},
      2, "--max-length", outs);
  expect_cli_failure(
      {"embed", "--model", p("m"), "--sentence", "x", "--max-length", "25", "--out", out.string()},
      2, "max_position_embeddings", outs);
  expect_cli_failure({"embed", "--model", p("m"), "--sentence", "x", "--batch", "0"}, 2, "batch");
  expect_cli_failure({"embed", "--model", p("nope"), "--sentence", "x", "--out", out.string()}, 3,
                     "model.safetensors", outs);
  expect_cli_failure({"embed", "--model", p("m"), "--sentence", "x", "--attention", "window=abc",
                      "--out", out.string()},
                     2, "window", outs);
  // A model directory without vocab.txt, and one with a malformed config.json.
  std::filesystem::create_directories(dir_ / "novocab");
  std::filesystem::copy(dir_ / "m" / "config.json", dir_ / "novocab" / "config.json");
  std::filesystem::copy(dir_ / "m" / "model.safetensors", dir_ / "novocab" / "model.safetensors");
  expect_cli_failure({"embed", "--model", p("novocab"), "--sentence", "x", "--out", out.string()},
                     3, "vocab.txt", outs);
  write_bytes(dir_ / "novocab" / "config.json", R"({"model_type": "bert", "hidden_size": 16})");
  expect_cli_failure({"embed", "--model", p("novocab"), "--sentence", "x", "--out", out.string()},
                     3, "num_hidden_layers", outs);
  // A vocabulary larger than the model's embedding table.
  write_bytes(dir_ / "m" / "vocab.txt", std::string(kVocab) + "extra\n");
  expect_cli_failure({"embed", "--model", p("m"), "--sentence", "x", "--out", out.string()}, 2,
                     "tokenizer", outs);
  write_bytes(dir_ / "m" / "vocab.txt", kVocab);
  // inspect on a BERT directory.
  const auto js = dir_ / "r.json";
  expect_cli_failure({"inspect", "--model", p("m"), "--text", p("t.txt"), "--tokenizer", p("m"),
                      "--json", js.string()},
                     2, "vocab.txt", {js});
  expect_cli_failure(
      {"inspect", "--model", p("m"), "--text", p("t.txt"), "--context", "2", "--json", js.string()},
      2, "segment length", {js});
  expect_cli_failure(
      {"inspect", "--model", p("m"), "--text", p("t.txt"), "--maps", "5:0", "--json", js.string()},
      2, "outside the model", {js});
  expect_cli_failure(
      {"inspect", "--model", p("m"), "--text", p("empty.txt"), "--json", js.string()}, 3,
      "no token", {js});
}

}  // namespace
}  // namespace attnlab
