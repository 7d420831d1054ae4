// attnlab/models/bert/wordpiece_tokenizer.hpp — BERT's uncased WordPiece tokenizer, as the
// Hugging Face fast tokenizer (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece +
// the [CLS] A [SEP] template) computes it.
//
// Encoding a text:
//   0. Literal special-token strings ([CLS], [SEP], [PAD], [UNK], [MASK]; case-sensitive) are
//      cut out first and become their ids, like HF's added tokens; the pieces between them go
//      through steps 1–6 separately (WordPieceOptions::split_special_tokens = false turns this
//      off: the strings are then ordinary text, "[", "sep", "]").
//   1. Decode UTF-8; a byte that is not part of a valid sequence becomes U+FFFD.
//   2. clean_text: drop U+0000, U+FFFD and every code point of category Cc, Cf, Cs or Co except
//      \t \n \r (unassigned code points stay, as in BertTokenizerFast); map \t \n \r and every
//      White_Space code point to U+0020.
//   3. handle_chinese_chars: a space before and after each CJK ideograph (U+4E00–9FFF,
//      3400–4DBF, 20000–2A6DF, 2A700–2B73F, 2B740–2B81F, 2B920–2CEAF, F900–FAFF, 2F800–2FA1F).
//   4. strip_accents (default: same as lowercase): NFD (canonical decomposition with Hangul
//      syllables decomposed to jamo, then canonical reordering), then drop category Mn.
//   5. lowercase: each code point's simple lowercase mapping (U+0130 → "i\u0307").
//   6. Split on whitespace (dropped), and make every punctuation code point a word of its own:
//      ASCII 33–47, 58–64, 91–96, 123–126 or category P*.
//   7. WordPiece per word: a word of more than max_input_chars_per_word (100) code points is
//      [UNK]; otherwise greedy longest-match-first from the left, continuation pieces carrying
//      the "##" prefix; if some position matches no vocabulary entry the whole word is [UNK].
//   8. [CLS] ids [SEP]; with max_length > 0 the word pieces are cut so the total is ≤ max_length
//      (sentence-transformers' limit for all-MiniLM-L6-v2 is 256, not tokenizer.json's 128).
// decode() joins pieces with spaces and glues "##" pieces to the previous one (the uncased
// vocabulary cannot restore case or accents).
//
// Files (untrusted): vocab.txt, one token per line, the line number is the id (a trailing "\r"
// is dropped); at most 64 MiB and 2^22 lines; every line a non-empty valid UTF-8 token, no
// duplicates; [UNK], [CLS], [SEP] and [PAD] must be present ([MASK] is optional). FormatError
// naming the file, the line and the value. tokenizer_config.json beside it, when present, may set
// do_lower_case, strip_accents (null/true/false) and tokenize_chinese_chars (strict JSON, other
// keys ignored).
//
// Usage:
//   WordPieceTokenizer tok = WordPieceTokenizer::load(".cache/minilm/all-MiniLM-L6-v2");
//   std::vector<std::int32_t> ids = tok.encode("Hello, world!");  // 101 7592 1010 2088 999 102
//   std::vector<std::string> words = tok.basic_tokenize("Québec!");   // {"quebec", "!"}
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::models::bert {

struct WordPieceOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // unset = follow lowercase
  bool lowercase = true;
  bool split_special_tokens = false;  // false: literal "[SEP]" in the text is the [SEP] id
  Index max_input_chars_per_word = 100;
};

class WordPieceTokenizer {
 public:
  // `path` is a directory holding vocab.txt (and optionally tokenizer_config.json) or a vocab
  // file. InputError when missing, FormatError when malformed.
  static WordPieceTokenizer load(const std::filesystem::path& path);
  // From vocab.txt text; `source` names it in messages.
  static WordPieceTokenizer from_vocab_text(std::string_view text, std::string_view source,
                                            const WordPieceOptions& options = {});

  // Steps 1–6: the normalized words of a text (no special-token handling).
  std::vector<std::string> basic_tokenize(std::string_view text) const;
  // Step 7 for one normalized word.
  void wordpiece(std::string_view word, std::vector<std::int32_t>& out) const;
  // Steps 0–7: ids without [CLS]/[SEP].
  std::vector<std::int32_t> encode_pieces(std::string_view text) const;
  // [CLS] pieces [SEP], truncated to max_length ids when max_length > 0 (must then be >= 2).
  std::vector<std::int32_t> encode(std::string_view text, Index max_length = 0) const;
  // Pieces joined, "##" glued; ids outside the vocabulary are a UsageError naming the id.
  std::string decode(const std::vector<std::int32_t>& ids) const;

  Index vocab_size() const { return static_cast<Index>(tokens_.size()); }
  const std::string& token(std::int32_t id) const;  // UsageError outside the vocabulary
  std::optional<std::int32_t> find(std::string_view token) const;
  std::int32_t cls_id() const { return cls_; }
  std::int32_t sep_id() const { return sep_; }
  std::int32_t pad_id() const { return pad_; }
  std::int32_t unk_id() const { return unk_; }
  const WordPieceOptions& options() const { return options_; }
  const std::string& source() const { return source_; }

 private:
  void split_basic(std::string_view text, std::vector<std::string>& words) const;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int32_t> ids_;
  std::vector<std::pair<std::string, std::int32_t>> specials_;  // literal strings matched in text
  std::int32_t cls_ = -1, sep_ = -1, pad_ = -1, unk_ = -1;
  WordPieceOptions options_;
  std::string source_;
};

// True for the code points BERT isolates as punctuation (step 6).
bool is_bert_punctuation(char32_t c);
// True for the CJK ideograph ranges of step 3.
bool is_cjk_ideograph(char32_t c);
// Step 4 on a sequence of code points: NFD then canonical reordering.
std::u32string nfd(std::u32string_view text);

}  // namespace attnlab::models::bert
