// libFuzzer target for GPT-2's tokenizer files, BpeTokenizer::parse (vocab.json / encoder.json
// and merges.txt / vocab.bpe) in attnlab/models/gpt2/bpe_tokenizer (fuzz_bpe_vocab;
// `make fuzz` runs it).
//
// Input layout: vocab.json, a NUL byte, merges.txt, a NUL byte, a text to encode. NUL can appear
// in neither file (raw control bytes are invalid inside JSON strings and outside GPT-2's byte
// alphabet), so the split loses nothing.
//
// Invariants checked on every input:
//   * parse either returns or throws attnlab::InputError (FormatError, JsonFormatError);
//     anything else escapes and libFuzzer reports it;
//   * an accepted tokenizer has all 256 byte tokens; encode(text) gives ids inside the
//     vocabulary and decode(encode(text)) == text, with and without allow_special; bpe_piece
//     equals the literal reference algorithm bpe_reference on every pre-token;
//   * writer round trip: vocab_json() + merges_txt() parse back to a tokenizer with the same
//     vocabulary size, merge count, ordered-ness, token bytes, and the same encoding of the text.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  using models::gpt2::BpeTokenizer;
  const auto parts = fuzz::split_at(fuzz::as_view(data, size), std::string_view("\0", 1), 3);
  const std::string_view text = parts[2];
  std::optional<BpeTokenizer> tok;
  try {
    tok = BpeTokenizer::parse(parts[0], parts[1], "fuzz");
  } catch (const InputError&) {
    return 0;
  }
  const auto V = static_cast<std::int32_t>(tok->vocab_size());
  FUZZ_CHECK(V >= 256);
  const auto ids = tok->encode(text);
  for (const auto id : ids) FUZZ_CHECK(id >= 0 && id < V);
  FUZZ_CHECK(tok->decode(ids) == text);
  models::gpt2::EncodeOptions special;
  special.allow_special = true;
  FUZZ_CHECK(tok->decode(tok->encode(text, special)) == text);
  for (const auto piece : models::gpt2::pretokenize(text)) {
    FUZZ_CHECK(tok->bpe_piece(piece) == tok->bpe_reference(piece));
  }

  const BpeTokenizer again = BpeTokenizer::parse(tok->vocab_json(), tok->merges_txt(), "roundtrip");
  FUZZ_CHECK(again.vocab_size() == tok->vocab_size());
  FUZZ_CHECK(again.merge_count() == tok->merge_count());
  FUZZ_CHECK(again.ordered_merges() == tok->ordered_merges());
  for (std::int32_t id = 0; id < V; ++id) FUZZ_CHECK(again.token_bytes(id) == tok->token_bytes(id));
  FUZZ_CHECK(again.encode(text) == ids);
  return 0;
}
