// libFuzzer target for BERT's WordPiece vocabulary reader and tokenizer,
// attnlab/models/bert/wordpiece_tokenizer (fuzz_wordpiece; `make fuzz` runs it).
//
// Input layout: one flags byte, then vocab.txt, "\n\n", the text to encode, and (only when flag
// bit 7 is set) "\n\n" and a tokenizer_config.json. vocab.txt cannot contain an empty line, so the
// first "\n\n" always ends it. Flag bits 0-4 choose WordPieceOptions (lowercase, strip_accents
// set / value, tokenize_chinese_chars, split_special_tokens) for the in-memory reader
// from_vocab_text; with bit 7 the files are written to a per-process scratch directory and read
// with WordPieceTokenizer::load(dir), which also reads tokenizer_config.json (an empty config
// part means no such file).
//
// Invariants checked on every input:
//   * the reader either returns or throws attnlab::InputError (FormatError, JsonFormatError);
//     anything else escapes and libFuzzer reports it;
//   * an accepted vocabulary maps every id to its token and back (find(token(id)) == id), has
//     one id per line, and has [UNK] [CLS] [SEP] [PAD];
//   * encode(text) is [CLS] pieces [SEP] with encode_pieces(text) in the middle, every id inside
//     the vocabulary, and decode() takes it without error; encode(text, k) is the same cut to at
//     most k ids, still ending in [SEP]; basic_tokenize() gives non-empty words without spaces.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/models/bert/wordpiece_tokenizer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  using models::bert::WordPieceOptions;
  using models::bert::WordPieceTokenizer;
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  const auto parts = fuzz::split_at(fuzz::as_view(data + 1, size - 1), "\n\n", 2);
  const std::string_view vocab = parts[0];
  std::string_view text = parts[1], config;
  if (flags & 0x80) {
    const auto rest = fuzz::split_at(text, "\n\n", 2);
    text = rest[0];
    config = rest[1];
  }
  std::optional<WordPieceTokenizer> tok;
  try {
    if (flags & 0x80) {
      fuzz::write_scratch("vocab.txt", vocab);
      if (config.empty()) {
        std::error_code ec;
        std::filesystem::remove(fuzz::scratch_dir() / "tokenizer_config.json", ec);
      } else {
        fuzz::write_scratch("tokenizer_config.json", config);
      }
      tok = WordPieceTokenizer::load(fuzz::scratch_dir());
    } else {
      WordPieceOptions o;
      o.lowercase = (flags & 1) != 0;
      if (flags & 2) o.strip_accents = (flags & 4) != 0;
      o.handle_chinese_chars = (flags & 8) != 0;
      o.split_special_tokens = (flags & 16) != 0;
      tok = WordPieceTokenizer::from_vocab_text(vocab, "fuzz vocab.txt", o);
    }
  } catch (const InputError&) {
    return 0;
  }
  const Index V = tok->vocab_size();
  FUZZ_CHECK(V >= 4);
  FUZZ_CHECK(V == static_cast<Index>(std::count(vocab.begin(), vocab.end(), '\n')) +
                      (vocab.empty() || vocab.back() == '\n' ? 0 : 1));
  for (Index id = 0; id < V; ++id) {
    const auto back = tok->find(tok->token(static_cast<std::int32_t>(id)));
    FUZZ_CHECK(back && *back == id);
  }
  for (const char* special : {"[UNK]", "[CLS]", "[SEP]", "[PAD]"}) FUZZ_CHECK(tok->find(special));

  const std::vector<std::int32_t> ids = tok->encode(text);
  const std::vector<std::int32_t> pieces = tok->encode_pieces(text);
  FUZZ_CHECK(ids.size() == pieces.size() + 2);
  FUZZ_CHECK(ids.front() == tok->cls_id() && ids.back() == tok->sep_id());
  FUZZ_CHECK(std::equal(pieces.begin(), pieces.end(), ids.begin() + 1));
  for (const std::int32_t id : ids) FUZZ_CHECK(id >= 0 && id < V);
  (void)tok->decode(ids);
  for (const Index k : {Index{2}, Index{3}, Index{8}}) {
    const auto cut = tok->encode(text, k);
    FUZZ_CHECK(static_cast<Index>(cut.size()) ==
               std::min<Index>(k, static_cast<Index>(ids.size())));
    FUZZ_CHECK(cut.front() == tok->cls_id() && cut.back() == tok->sep_id());
    FUZZ_CHECK(std::equal(cut.begin(), cut.end() - 1, ids.begin()));
  }
  for (const std::string& w : tok->basic_tokenize(text)) {
    FUZZ_CHECK(!w.empty() && w.find(' ') == std::string::npos);
  }
  return 0;
}
