// attnlab/models/bert/wordpiece_tables.hpp — the Unicode data of BERT's BasicTokenizer.
//
// What Hugging Face tokenizers' BertNormalizer / BertPreTokenizer (normalizers/bert.rs,
// pre_tokenizers/bert.rs) ask of each code point:
//   is_other_category      General_Category Cc, Cf, Cs, Co: clean_text drops these (except
//                          \t \n \r, which the caller maps to a space). Unassigned code points
//                          (Cn) are kept as ordinary characters, as BertTokenizerFast does
//                          (Google's original and HF's slow tokenizer drop them; measured in
//                          bench/bert/crosscheck.py)
//   is_mark_nonspacing     Mn: dropped after NFD when accents are stripped
//   is_unicode_punctuation P*: isolated as one-character words (the caller adds the ASCII
//                          symbol ranges BERT also treats as punctuation)
//   canonical_decomposition / canonical_combining_class: NFD (Hangul syllables are decomposed
//                          algorithmically by the caller; they are not in the table)
//   simple_lowercase       UnicodeData's simple lowercase mapping (U+0130's full mapping
//                          "i\u0307" is handled by the caller)
// The tables are generated (gen_wordpiece_tables.py, beside this file) from the Unicode
// Character Database of Debian's unicode-data package; wordpiece_tables_version() names it.
// Lookups are binary searches over sorted tables.
//
// Usage:
//   if (is_mark_nonspacing(U'\u0301')) ...                    // true
//   std::span<const char32_t> d = canonical_decomposition(U'é');   // {U'e', U'\u0301'}
#pragma once

#include <span>

namespace attnlab::models::bert {

// e.g. "15.0.0".
const char* wordpiece_tables_version();

bool is_other_category(char32_t c);
bool is_mark_nonspacing(char32_t c);
bool is_unicode_punctuation(char32_t c);
// The full (recursive) canonical decomposition, or empty when c has none.
std::span<const char32_t> canonical_decomposition(char32_t c);
int canonical_combining_class(char32_t c);
char32_t simple_lowercase(char32_t c);

}  // namespace attnlab::models::bert
