#include "attnlab/models/bert/wordpiece_tokenizer.hpp"

#include <algorithm>
#include <system_error>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/models/bert/wordpiece_tables.hpp"
#include "attnlab/models/gpt2/unicode_tables.hpp"

namespace attnlab::models::bert {
namespace {

namespace fs = std::filesystem;
constexpr std::uintmax_t kMaxVocabBytes = std::uintmax_t{64} << 20;
constexpr std::size_t kMaxVocabLines = std::size_t{1} << 22;

// Decodes UTF-8; every byte that does not start a valid, shortest-form, non-surrogate sequence
// becomes U+FFFD and decoding resumes at the next byte. `valid` (if given) reports whether all
// bytes were valid.
std::u32string decode_utf8(std::string_view s, bool* valid = nullptr) {
  std::u32string out;
  out.reserve(s.size());
  bool ok = true;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len = 0;
    char32_t c = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2, c = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, c = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, c = b0 & 0x07, min = 0x10000;
    }
    bool good = len > 0 && i + static_cast<std::size_t>(len) <= s.size();
    for (int k = 1; good && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      good = (b & 0xC0) == 0x80;
      c = (c << 6) | (b & 0x3F);
    }
    good = good && c >= min && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
    if (good) {
      out.push_back(c);
      i += static_cast<std::size_t>(len);
    } else {
      out.push_back(0xFFFD);
      ok = false;
      ++i;
    }
  }
  if (valid) *valid = ok;
  return out;
}

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(c, out);
  return out;
}

bool is_bert_whitespace(char32_t c) {
  return c == U'\t' || c == U'\n' || c == U'\r' || gpt2::is_unicode_white_space(c);
}

bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return is_other_category(c);
}

// Hangul syllable composition constants (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

void decompose(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const auto d = canonical_decomposition(c);
  if (d.empty()) {
    out.push_back(c);
  } else {
    out.append(d.begin(), d.end());
  }
}

bool read_optional_bool(const nlohmann::json& j, const char* field, std::string_view source,
                        std::optional<bool>& out) {
  if (!j.contains(field)) return false;
  const auto& v = j[field];
  if (v.is_null()) {
    out.reset();
    return true;
  }
  if (!v.is_boolean()) {
    throw FormatError(
        str_cat(source, ": field '", field, "' must be true, false or null, got ", v.dump()));
  }
  out = v.get<bool>();
  return true;
}

WordPieceOptions read_tokenizer_config(const fs::path& file) {
  WordPieceOptions o;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return o;
  const auto size = fs::file_size(file, ec);
  if (ec || size > (std::uintmax_t{1} << 20)) {
    throw FormatError(str_cat(file.string(), ": tokenizer config is larger than 1 MiB"));
  }
  const auto j = io::parse_json_strict(read_file(file, "tokenizer_config.json"), file.string());
  if (!j.is_object()) {
    throw FormatError(str_cat(file.string(), ": must be a JSON object, got ", j.type_name()));
  }
  std::optional<bool> v;
  if (read_optional_bool(j, "do_lower_case", file.string(), v)) o.lowercase = v.value_or(true);
  if (read_optional_bool(j, "tokenize_chinese_chars", file.string(), v)) {
    o.handle_chinese_chars = v.value_or(true);
  }
  read_optional_bool(j, "strip_accents", file.string(), o.strip_accents);
  return o;
}

}  // namespace

bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return c >= 0x80 && is_unicode_punctuation(c);
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) decompose(c, out);
  // Canonical reordering: stable sort of every run of nonzero combining classes by class.
  std::size_t i = 0;
  while (i < out.size()) {
    if (canonical_combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < out.size() && canonical_combining_class(out[j]) != 0) ++j;
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i),
                     out.begin() + static_cast<std::ptrdiff_t>(j), [](char32_t a, char32_t b) {
                       return canonical_combining_class(a) < canonical_combining_class(b);
                     });
    i = j;
  }
  return out;
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_text(std::string_view text,
                                                       std::string_view source,
                                                       const WordPieceOptions& options) {
  if (text.size() > kMaxVocabBytes) {
    throw FormatError(str_cat(source, ": vocabulary is ", text.size(), " bytes, above the ",
                              kMaxVocabBytes, "-byte limit"));
  }
  if (options.max_input_chars_per_word < 1) {
    throw UsageError(str_cat("WordPiece: max_input_chars_per_word must be >= 1, got ",
                             options.max_input_chars_per_word));
  }
  WordPieceTokenizer t;
  t.options_ = options;
  t.source_ = std::string(source);
  std::size_t pos = 0, line = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view tok = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!tok.empty() && tok.back() == '\r') tok.remove_suffix(1);
    if (t.tokens_.size() >= kMaxVocabLines) {
      throw FormatError(
          str_cat(source, ": more than ", kMaxVocabLines, " vocabulary lines (line ", line, ")"));
    }
    if (tok.empty()) throw FormatError(str_cat(source, ": line ", line, " is empty"));
    bool valid = true;
    decode_utf8(tok, &valid);
    if (!valid) throw FormatError(str_cat(source, ": line ", line, " is not valid UTF-8"));
    const auto id = static_cast<std::int32_t>(t.tokens_.size());
    auto [it, inserted] = t.ids_.emplace(std::string(tok), id);
    if (!inserted) {
      throw FormatError(str_cat(source, ": line ", line, ": token '", tok,
                                "' already appeared on line ", it->second + 1));
    }
    t.tokens_.emplace_back(tok);
  }
  auto need = [&](const char* name) {
    const auto id = t.find(name);
    if (!id) throw FormatError(str_cat(source, ": the vocabulary has no ", name, " token"));
    t.specials_.emplace_back(name, *id);
    return *id;
  };
  t.unk_ = need("[UNK]");
  t.cls_ = need("[CLS]");
  t.sep_ = need("[SEP]");
  t.pad_ = need("[PAD]");
  if (auto m = t.find("[MASK]")) t.specials_.emplace_back("[MASK]", *m);
  return t;
}

WordPieceTokenizer WordPieceTokenizer::load(const fs::path& path) {
  std::error_code ec;
  fs::path vocab = path;
  fs::path config;
  if (fs::is_directory(path, ec)) {
    vocab = path / "vocab.txt";
    config = path / "tokenizer_config.json";
    if (!fs::exists(vocab, ec)) {
      throw InputError(str_cat("WordPiece vocabulary not found: '", vocab.string(),
                               "' (a BERT model directory holds vocab.txt beside config.json)"));
    }
  } else {
    config = path.parent_path() / "tokenizer_config.json";
  }
  if (fs::exists(vocab, ec) && fs::is_regular_file(vocab, ec)) {
    const auto size = fs::file_size(vocab, ec);
    if (!ec && size > kMaxVocabBytes) {
      throw FormatError(str_cat(vocab.string(), ": vocabulary is ", size, " bytes, above the ",
                                kMaxVocabBytes, "-byte limit"));
    }
  }
  const std::string text = read_file(vocab, "WordPiece vocabulary");
  return from_vocab_text(text, vocab.string(), read_tokenizer_config(config));
}

std::optional<std::int32_t> WordPieceTokenizer::find(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string& WordPieceTokenizer::token(std::int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw UsageError(
        str_cat("WordPiece: id ", id, " is outside the vocabulary [0, ", vocab_size(), ")"));
  }
  return tokens_[static_cast<std::size_t>(id)];
}

void WordPieceTokenizer::split_basic(std::string_view text, std::vector<std::string>& words) const {
  std::u32string s = decode_utf8(text);
  if (options_.clean_text) {
    std::u32string cleaned;
    cleaned.reserve(s.size());
    for (char32_t c : s) {
      if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
      cleaned.push_back(is_bert_whitespace(c) ? U' ' : c);
    }
    s.swap(cleaned);
  }
  if (options_.handle_chinese_chars) {
    std::u32string spaced;
    spaced.reserve(s.size());
    for (char32_t c : s) {
      if (is_cjk_ideograph(c)) {
        spaced.push_back(U' ');
        spaced.push_back(c);
        spaced.push_back(U' ');
      } else {
        spaced.push_back(c);
      }
    }
    s.swap(spaced);
  }
  if (options_.strip_accents.value_or(options_.lowercase)) {
    std::u32string decomposed = nfd(s);
    s.clear();
    for (char32_t c : decomposed)
      if (!is_mark_nonspacing(c)) s.push_back(c);
  }
  if (options_.lowercase) {
    std::u32string lower;
    lower.reserve(s.size());
    for (char32_t c : s) {
      if (c == 0x130) {
        lower.push_back(U'i');
        lower.push_back(0x307);
      } else {
        lower.push_back(simple_lowercase(c));
      }
    }
    s.swap(lower);
  }
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(to_utf8(word));
    word.clear();
  };
  for (char32_t c : s) {
    if (is_bert_whitespace(c)) {
      flush();
    } else if (is_bert_punctuation(c)) {
      flush();
      word.push_back(c);
      flush();
    } else {
      word.push_back(c);
    }
  }
  flush();
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(std::string_view text) const {
  std::vector<std::string> words;
  split_basic(text, words);
  return words;
}

void WordPieceTokenizer::wordpiece(std::string_view word, std::vector<std::int32_t>& out) const {
  const std::u32string chars = decode_utf8(word);
  if (static_cast<Index>(chars.size()) > options_.max_input_chars_per_word) {
    out.push_back(unk_);
    return;
  }
  // Byte offset of every code point boundary.
  std::vector<std::size_t> cut(chars.size() + 1, 0);
  {
    std::string tmp;
    for (std::size_t i = 0; i < chars.size(); ++i) {
      append_utf8(chars[i], tmp);
      cut[i + 1] = tmp.size();
    }
  }
  const std::string bytes = to_utf8(chars);
  const std::size_t mark = out.size();
  std::size_t start = 0;
  std::string piece;
  while (start < chars.size()) {
    std::size_t end = chars.size();
    std::optional<std::int32_t> hit;
    while (end > start) {
      piece.assign(start > 0 ? "##" : "");
      piece.append(bytes, cut[start], cut[end] - cut[start]);
      hit = find(piece);
      if (hit) break;
      --end;
    }
    if (!hit) {
      out.resize(mark);
      out.push_back(unk_);
      return;
    }
    out.push_back(*hit);
    start = end;
  }
}

std::vector<std::int32_t> WordPieceTokenizer::encode_pieces(std::string_view text) const {
  std::vector<std::int32_t> ids;
  std::vector<std::string> words;
  auto run = [&](std::string_view part) {
    words.clear();
    split_basic(part, words);
    for (const auto& w : words) wordpiece(w, ids);
  };
  if (options_.split_special_tokens) {
    run(text);
    return ids;
  }
  std::size_t pos = 0;
  while (pos < text.size()) {
    // The earliest special-token string at or after pos (the longest on a tie).
    std::size_t best = std::string_view::npos, best_len = 0;
    std::int32_t best_id = -1;
    for (const auto& [name, id] : specials_) {
      const std::size_t at = text.find(name, pos);
      if (at == std::string_view::npos) continue;
      if (at < best || (at == best && name.size() > best_len)) {
        best = at, best_len = name.size(), best_id = id;
      }
    }
    if (best == std::string_view::npos) {
      run(text.substr(pos));
      break;
    }
    run(text.substr(pos, best - pos));
    ids.push_back(best_id);
    pos = best + best_len;
  }
  return ids;
}

std::vector<std::int32_t> WordPieceTokenizer::encode(std::string_view text,
                                                     Index max_length) const {
  if (max_length != 0 && max_length < 2) {
    throw UsageError(
        str_cat("WordPiece: max_length must be 0 (no limit) or >= 2 ([CLS] and "
                "[SEP]), got ",
                max_length));
  }
  std::vector<std::int32_t> pieces = encode_pieces(text);
  if (max_length > 0 && static_cast<Index>(pieces.size()) > max_length - 2) {
    pieces.resize(static_cast<std::size_t>(max_length - 2));
  }
  std::vector<std::int32_t> ids;
  ids.reserve(pieces.size() + 2);
  ids.push_back(cls_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(sep_);
  return ids;
}

std::string WordPieceTokenizer::decode(const std::vector<std::int32_t>& ids) const {
  std::string out;
  for (std::int32_t id : ids) {
    const std::string& t = token(id);
    if (t.size() > 2 && t.compare(0, 2, "##") == 0) {
      out.append(t, 2, std::string::npos);
    } else {
      if (!out.empty()) out.push_back(' ');
      out += t;
    }
  }
  return out;
}

}  // namespace attnlab::models::bert
