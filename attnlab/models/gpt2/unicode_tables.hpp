// attnlab/models/gpt2/unicode_tables.hpp — the Unicode classes of GPT-2's pre-tokenizer.
//
// GPT-2 splits text with the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// evaluated by Python's third-party `regex` module, whose classes are:
//   \p{L}  General_Category L* (Lu, Ll, Lt, Lm, Lo)
//   \p{N}  General_Category N* (Nd, Nl, No)
//   \s     the White_Space property: exactly 25 code points (U+0009..U+000D, U+0020, U+0085,
//          U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) — not C's
//          isspace and not Python's str.isspace (which adds U+001C..U+001F).
// The tables are generated (gen_unicode_tables.py, beside this file) from the Unicode Character
// Database of Debian's unicode-data package; unicode_tables_version() names the version. Code
// points assigned after that version are classified as neither letter nor number; GPT-2's
// vocabulary predates them, so only texts using them could tokenize differently from a newer
// `regex` build.
//
// Lookups are binary searches over sorted ranges (ASCII callers may short-cut).
//
// Usage:
//   if (is_unicode_letter(U'é')) ...
#pragma once

#include <cstddef>

namespace attnlab::models::gpt2 {

// e.g. "15.0.0".
const char* unicode_tables_version();
std::size_t unicode_letter_count();
std::size_t unicode_number_count();

bool is_unicode_letter(char32_t c);
bool is_unicode_number(char32_t c);
bool is_unicode_white_space(char32_t c);

}  // namespace attnlab::models::gpt2
