// tests/fuzz/fuzz_bpe.hpp — a small GPT-2-style BPE tokenizer with real merges, built through the
// public file reader (BpeTokenizer::parse) from the byte-level vocabulary plus a few merge
// rules; used by bpe_fuzz.cpp and by make_corpus.cpp for the bpe_vocab seeds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnlab/models/gpt2/bpe_tokenizer.hpp"

namespace attnlab::fuzz {

// Raw bytes -> GPT-2 byte-alphabet string (UTF-8).
inline std::string to_alphabet(const std::string& bytes) {
  std::string out;
  for (const unsigned char b : bytes) {
    const char32_t c = models::gpt2::byte_to_unicode(b);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {  // the alphabet stays below U+0800
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// vocab.json and merges.txt texts: the 256 byte tokens in GPT-2 order, then one token per merge
// (rules by rank, each merging two tokens that exist by then), then "<|endoftext|>" if asked.
inline std::pair<std::string, std::string> small_bpe_files(
    const std::vector<std::pair<std::string, std::string>>& merges, bool endoftext) {
  nlohmann::ordered_json vocab =
      nlohmann::ordered_json::parse(models::gpt2::BpeTokenizer::byte_level().vocab_json());
  std::string merges_txt = "#version: 0.2\n";
  for (const auto& [a, b] : merges) {
    const std::string merged = to_alphabet(a + b);
    if (!vocab.contains(merged)) vocab[merged] = vocab.size();
    merges_txt += to_alphabet(a) + " " + to_alphabet(b) + "\n";
  }
  if (endoftext) vocab["<|endoftext|>"] = vocab.size();
  return {vocab.dump(), merges_txt};
}

// English-ish merges: " t", "he", " the", "in", " a", "er", "on", "re", " in", "ing", "'s", ...
inline std::vector<std::pair<std::string, std::string>> small_bpe_merges() {
  return {{" ", "t"},   {"h", "e"}, {" t", "he"}, {"i", "n"},       {" ", "a"}, {"e", "r"},
          {"o", "n"},   {"r", "e"}, {" ", "in"},  {"in", "g"},      {"'", "s"}, {" ", "w"},
          {"e", "d"},   {"a", "n"}, {" ", "s"},   {"o", "r"},       {"1", "2"}, {"12", "3"},
          {"\n", "\n"}, {" ", " "}, {"  ", "  "}, {"\xc3", "\xa9"}, {"l", "l"}, {"he", "ll"}};
}

}  // namespace attnlab::fuzz
