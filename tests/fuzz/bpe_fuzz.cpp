// libFuzzer target for GPT-2's pre-tokenizer and byte-level BPE encoder/decoder,
// attnlab/models/gpt2/bpe_tokenizer (fuzz_bpe; `make fuzz` runs it; the vocabulary and merges
// file readers have their own target, bpe_vocab_fuzz.cpp). tests/models/bpe_tokenizer_test.cpp
// runs seeded random round trips in CI as well.
//
// Invariants checked on every input (any bytes, valid UTF-8 or not):
//   * pretokenize() pieces are non-empty and concatenate back to the input;
//   * with the byte-level tokenizer (256 tokens, no merges): one id per byte, every id < 256,
//     decode(encode(s)) == s;
//   * with a small tokenizer with real merges (fuzz_bpe.hpp) and "<|endoftext|>": every id in
//     the vocabulary, decode(encode(s)) == s with and without allow_special, the heap
//     algorithm (bpe_piece) equals the literal pass-by-pass reference (bpe_reference) on every
//     pre-token, and encode() is the concatenation of bpe_piece over the pre-tokens.
// Nothing here may throw: any exception escapes and libFuzzer reports it.
#include <cstdint>
#include <string>
#include <vector>

#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "tests/fuzz/fuzz_bpe.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab::models::gpt2;
  static const BpeTokenizer bytes_tok = BpeTokenizer::byte_level();
  static const BpeTokenizer merges_tok = [] {
    const auto [vocab, merges] =
        attnlab::fuzz::small_bpe_files(attnlab::fuzz::small_bpe_merges(), true);
    return BpeTokenizer::parse(vocab, merges, "fuzz small BPE");
  }();
  const std::string s(reinterpret_cast<const char*>(data), size);

  const std::vector<std::string_view> pieces = pretokenize(s);
  std::string joined;
  for (const auto p : pieces) {
    FUZZ_CHECK(!p.empty());
    joined += p;
  }
  FUZZ_CHECK(joined == s);

  const auto ids = bytes_tok.encode(s);
  FUZZ_CHECK(ids.size() == s.size());
  for (const auto id : ids) FUZZ_CHECK(id >= 0 && id < 256);
  FUZZ_CHECK(bytes_tok.decode(ids) == s);

  const auto V = static_cast<std::int32_t>(merges_tok.vocab_size());
  const auto merged = merges_tok.encode(s);
  for (const auto id : merged) FUZZ_CHECK(id >= 0 && id < V);
  FUZZ_CHECK(merges_tok.decode(merged) == s);
  std::vector<std::int32_t> by_piece;
  for (const auto p : pieces) {
    const auto fast = merges_tok.bpe_piece(p);
    FUZZ_CHECK(fast == merges_tok.bpe_reference(p));
    by_piece.insert(by_piece.end(), fast.begin(), fast.end());
  }
  FUZZ_CHECK(by_piece == merged);
  attnlab::models::gpt2::EncodeOptions special;
  special.allow_special = true;
  FUZZ_CHECK(merges_tok.decode(merges_tok.encode(s, special)) == s);
  return 0;
}
