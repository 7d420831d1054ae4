// libFuzzer target for the GPT-2 pre-tokenizer and byte-level BPE (not part of the CMake build;
// tests/models/bpe_tokenizer_test.cpp runs seeded random round trips in CI).
//
// Invariants checked on every input (any bytes, valid UTF-8 or not):
//   * pretokenize() pieces concatenate back to the input;
//   * with a byte-level tokenizer, decode(encode(s)) == s and every id is < 256.
//
// Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I/usr/include/eigen3 \
//     tests/fuzz/bpe_fuzz.cpp attnlab/models/gpt2/bpe_tokenizer.cpp \
//     attnlab/models/gpt2/unicode_tables.cpp attnlab/models/gpt2/weights.cpp \
//     attnlab/models/gpt2/config.cpp attnlab/io/json_strict.cpp attnlab/io/safetensors.cpp \
//     attnlab/core/error.cpp attnlab/core/atomic_file.cpp attnlab/core/rng.cpp -o build/bpe_fuzz
//   mkdir -p build/bpe_corpus && build/bpe_fuzz -max_total_time=60 build/bpe_corpus
#include <cstdint>
#include <cstdlib>
#include <string>

#include "attnlab/models/gpt2/bpe_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab::models::gpt2;
  static const BpeTokenizer tok = BpeTokenizer::byte_level();
  const std::string s(reinterpret_cast<const char*>(data), size);
  std::string joined;
  for (auto p : pretokenize(s)) joined += p;
  if (joined != s) std::abort();
  const auto ids = tok.encode(s);
  for (auto id : ids)
    if (id < 0 || id >= 256) std::abort();
  if (tok.decode(ids) != s) std::abort();
  return 0;
}
