#include "attnlab/io/text_corpus.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <system_error>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/sha256.hpp"
#include "attnlab/core/subprocess.hpp"

namespace attnlab::io {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kKjvInstallHint =
    "install the Debian packages bible-kjv and bible-kjv-text (scripts/bootstrap.sh does it)";

std::string hex_byte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {'\\', 'x', kHex[b >> 4], kHex[b & 0xf]};
}

// The bytes [offset, offset + count) as "\xNN\xNN", clipped to the text.
std::string hex_bytes(std::string_view text, std::size_t offset, std::size_t count) {
  std::string out;
  for (std::size_t i = offset; i < text.size() && i < offset + count; ++i) {
    out += hex_byte(static_cast<unsigned char>(text[i]));
  }
  return out;
}

// 1-based line number of byte `offset`.
std::size_t line_of(std::string_view text, std::size_t offset) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

bool is_continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

// FormatError unless `text` is non-empty, has no NUL byte and is well-formed UTF-8 (Unicode
// Table 3-7). `where` names the function and the source in the message.
void validate_text(std::string_view text, const std::string& where) {
  if (text.empty()) throw FormatError(str_cat(where, " is empty"));
  const std::size_t n = text.size();
  auto fail = [&](std::size_t at, std::size_t len, const char* what) {
    throw FormatError(str_cat(where, ": ", what, " at byte offset ", at, " (line ",
                              line_of(text, at), ", bytes ", hex_bytes(text, at, len),
                              "): not a UTF-8 text file"));
  };
  std::size_t i = 0;
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 == 0) {
      throw FormatError(str_cat(where, ": NUL byte at byte offset ", i, " (line ", line_of(text, i),
                                "): this looks like a binary file, not a text corpus"));
    }
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    // Sequence length and the allowed range of the second byte (Table 3-7).
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (is_continuation(b0)) {
      fail(i, 1, "invalid UTF-8: unexpected continuation byte");
    } else if (b0 == 0xC0 || b0 == 0xC1) {
      fail(i, 2, "invalid UTF-8: overlong 2-byte encoding");
    } else if (b0 <= 0xDF) {
      len = 2;
    } else if (b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;  // E0 80..9F would be overlong
      if (b0 == 0xED) hi = 0x9F;  // ED A0..BF would be a UTF-16 surrogate
    } else if (b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;  // F0 80..8F would be overlong
      if (b0 == 0xF4) hi = 0x8F;  // F4 90.. would be above U+10FFFF
    } else {
      fail(i, 1, "invalid UTF-8: byte above 0xF4 (code point above U+10FFFF)");
    }
    if (i + 1 >= n) fail(i, len, "invalid UTF-8: truncated sequence at end of text");
    const auto b1 = static_cast<unsigned char>(text[i + 1]);
    if (!is_continuation(b1)) fail(i, 2, "invalid UTF-8: truncated sequence");
    if (b1 < lo || b1 > hi) {
      if (b0 == 0xED) fail(i, len, "invalid UTF-8: encoded UTF-16 surrogate (U+D800..U+DFFF)");
      if (b0 == 0xF4) fail(i, len, "invalid UTF-8: code point above U+10FFFF");
      fail(i, len, "invalid UTF-8: overlong encoding");
    }
    for (std::size_t k = 2; k < len; ++k) {
      if (i + k >= n) fail(i, len, "invalid UTF-8: truncated sequence at end of text");
      if (!is_continuation(static_cast<unsigned char>(text[i + k]))) {
        fail(i, k + 1, "invalid UTF-8: truncated sequence");
      }
    }
    i += len;
  }
}

// Reads at most `limit` bytes of `path`; InputError when it is missing, a directory, unreadable
// or larger than `limit` (checked from its size first, then while reading).
std::string read_bounded(const fs::path& path, std::uint64_t limit, const char* fn) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    throw InputError(str_cat(fn, ": file not found: '", path.string(), "'"));
  }
  if (ec) throw InputError(str_cat(fn, ": cannot access '", path.string(), "': ", ec.message()));
  if (fs::is_directory(st)) {
    throw InputError(str_cat(fn, ": '", path.string(), "' is a directory, expected a text file"));
  }
  std::uint64_t expected = 0;
  if (fs::is_regular_file(st)) {
    expected = fs::file_size(path, ec);
    if (ec) throw InputError(str_cat(fn, ": cannot stat '", path.string(), "': ", ec.message()));
    if (expected > limit) {
      throw InputError(str_cat(fn, ": '", path.string(), "' is ", expected,
                               " bytes, more than the limit of ", limit, " bytes"));
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(str_cat(fn, ": cannot open '", path.string(), "': ", std::strerror(errno)));
  }
  std::string bytes;
  bytes.reserve(static_cast<std::size_t>(expected));
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    const auto got = static_cast<std::size_t>(in.gcount());
    if (bytes.size() + got > limit) {
      throw InputError(
          str_cat(fn, ": '", path.string(), "' has more than the limit of ", limit, " bytes"));
    }
    bytes.append(buf, got);
  }
  if (in.bad()) throw InputError(str_cat(fn, ": error reading '", path.string(), "'"));
  return bytes;
}

TextCorpus make_corpus(std::string text, std::string source) {
  TextCorpus c;
  c.sha256 = sha256_hex(text);
  c.text = std::move(text);
  c.source = std::move(source);
  return c;
}

// The cached dump in `cache_dir`, when it exists with the reference size and sha256.
bool read_kjv_cache(const fs::path& file, std::string& text) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  const std::uintmax_t size = fs::file_size(file, ec);
  if (ec || size != kKjvReferenceBytes) return false;  // checked before reading
  try {
    std::string bytes = read_bounded(file, kKjvReferenceBytes, "load_kjv_corpus");
    if (sha256_hex(bytes) != kKjvReferenceSha256) return false;
    text = std::move(bytes);
    return true;
  } catch (const InputError&) {
    return false;  // unreadable cache: regenerate it
  }
}

std::string run_kjv_dump(const KjvOptions& options) {
  const fs::path data_file = options.data_dir / std::string(kKjvDataFile);
  std::error_code ec;
  if (!fs::is_regular_file(data_file, ec)) {
    throw InputError(str_cat("load_kjv_corpus: the KJV data file '", data_file.string(),
                             "' was not found: ", kKjvInstallHint,
                             ", or pass the directory that holds ", kKjvDataFile));
  }
  const std::string program = options.program.empty() ? find_executable("bible")
                                                      : find_executable(options.program.string());
  if (program.empty()) {
    throw InputError(str_cat(
        "load_kjv_corpus: the program '",
        options.program.empty() ? std::string("bible") : options.program.string(),
        "' was not found", options.program.empty() ? " on PATH" : "", ": ", kKjvInstallHint));
  }
  // 4.4 MB for bible-kjv 4.38; allow a generous margin and detect truncation.
  constexpr std::size_t kMaxOutput = std::size_t{64} << 20;
  ProcessOptions popt;
  popt.timeout_s = options.timeout_s;
  popt.max_output = kMaxOutput;
  const std::vector<std::string> argv = {program, "-f", "-p", options.data_dir.string(),
                                         std::string(kKjvRange)};
  const ProcessResult r = run_process(argv, popt);
  const std::string cmd =
      str_cat(program, " -f -p ", options.data_dir.string(), " \"", kKjvRange, "\"");
  if (!r.started) {
    throw InputError(str_cat("load_kjv_corpus: cannot run '", program,
                             "': ", std::strerror(r.start_errno), ": ", kKjvInstallHint));
  }
  if (r.timed_out) {
    throw InputError(
        str_cat("load_kjv_corpus: '", cmd, "' did not finish within ", options.timeout_s, " s"));
  }
  if (r.exit_code != 0) {
    std::string err = r.err.substr(0, 500);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw InputError(
        str_cat("load_kjv_corpus: '", cmd, "' failed (",
                r.signal != 0 ? str_cat("signal ", r.signal) : str_cat("exit code ", r.exit_code),
                ")", err.empty() ? "" : ": ", err));
  }
  if (r.out.size() >= kMaxOutput) {
    throw FormatError(str_cat("load_kjv_corpus: '", cmd, "' wrote more than ", kMaxOutput,
                              " bytes; this is not the KJV dump"));
  }
  return r.out;
}

}  // namespace

TextCorpus load_text_corpus(const fs::path& path) {
  std::string text = read_bounded(path, kTextCorpusMaxBytes, "load_text_corpus");
  validate_text(text, str_cat("load_text_corpus: '", path.string(), "'"));
  return make_corpus(std::move(text), path.string());
}

std::string_view strip_verse_prefix(std::string_view line) {
  // ^[0-9]?[A-Za-z]+[0-9]+:[0-9]+<space> — the classes are disjoint, so a greedy scan decides it.
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  auto is_alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  std::size_t i = 0;
  const std::size_t n = line.size();
  if (i < n && is_digit(line[i])) ++i;
  const std::size_t letters = i;
  while (i < n && is_alpha(line[i])) ++i;
  if (i == letters) return line;
  const std::size_t chapter = i;
  while (i < n && is_digit(line[i])) ++i;
  if (i == chapter || i >= n || line[i] != ':') return line;
  const std::size_t verse = ++i;
  while (i < n && is_digit(line[i])) ++i;
  if (i == verse || i >= n || line[i] != ' ') return line;
  return line.substr(i + 1);
}

std::string strip_verse_prefixes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool has_newline = end != std::string_view::npos;
    if (!has_newline) end = text.size();
    out += strip_verse_prefix(text.substr(start, end - start));
    if (has_newline) out += '\n';
    start = end + 1;
  }
  return out;
}

TextCorpus load_kjv_corpus(const KjvOptions& options, bool* matches_reference) {
  const fs::path cache_file =
      options.cache_dir.empty() ? fs::path() : options.cache_dir / std::string(kKjvCacheFile);
  std::string text;
  if (!cache_file.empty() && read_kjv_cache(cache_file, text)) {
    if (matches_reference != nullptr) *matches_reference = true;
    return make_corpus(std::move(text), std::string(kKjvSource));
  }
  text = strip_verse_prefixes(run_kjv_dump(options));
  validate_text(text, "load_kjv_corpus: the output of bible");
  TextCorpus corpus = make_corpus(std::move(text), std::string(kKjvSource));
  if (matches_reference != nullptr) *matches_reference = corpus.sha256 == kKjvReferenceSha256;
  if (!cache_file.empty()) {
    std::error_code ec;
    fs::create_directories(options.cache_dir, ec);
    if (ec) {
      throw InputError(str_cat("load_kjv_corpus: cannot create the cache directory '",
                               options.cache_dir.string(), "': ", ec.message()));
    }
    write_file_atomic(cache_file, corpus.text);
  }
  return corpus;
}

CorpusSplit split_contiguous(std::size_t n, double train_fraction) {
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) {
    throw UsageError(
        str_cat("split_contiguous: train_fraction must be in (0, 1), got ", train_fraction));
  }
  const double t = std::floor(train_fraction * static_cast<double>(n));
  const std::size_t train_end = t >= static_cast<double>(n) ? n : static_cast<std::size_t>(t);
  if (train_end == 0 || train_end == n) {
    throw UsageError(str_cat("split_contiguous: n=", n, " with train_fraction=", train_fraction,
                             " leaves ", train_end == 0 ? "the train" : "the validation",
                             " part empty (train ", train_end, ", validation ", n - train_end,
                             ")"));
  }
  return CorpusSplit{0, train_end, train_end, n};
}

CharVocabulary::CharVocabulary(std::string symbols) : symbols_(std::move(symbols)) {
  id_of_.fill(-1);
  for (std::size_t i = 0; i < symbols_.size(); ++i) {
    id_of_[static_cast<unsigned char>(symbols_[i])] = static_cast<std::int32_t>(i);
  }
}

CharVocabulary CharVocabulary::from_text(std::string_view text) {
  if (text.empty()) throw UsageError("CharVocabulary::from_text: the text is empty");
  std::array<bool, 256> seen{};
  for (const char c : text) seen[static_cast<unsigned char>(c)] = true;
  std::string symbols;
  for (int b = 0; b < 256; ++b) {
    if (seen[b]) symbols += static_cast<char>(static_cast<unsigned char>(b));
  }
  return CharVocabulary(std::move(symbols));
}

CharVocabulary CharVocabulary::from_symbols(std::string symbols) {
  if (symbols.empty()) throw FormatError("CharVocabulary::from_symbols: the symbol list is empty");
  for (std::size_t i = 1; i < symbols.size(); ++i) {
    const auto prev = static_cast<unsigned char>(symbols[i - 1]);
    const auto cur = static_cast<unsigned char>(symbols[i]);
    if (cur == prev) {
      throw FormatError(str_cat("CharVocabulary::from_symbols: symbol ", hex_byte(cur),
                                " is repeated at positions ", i - 1, " and ", i));
    }
    if (cur < prev) {
      throw FormatError(
          str_cat("CharVocabulary::from_symbols: symbols are not ascending: ", hex_byte(prev),
                  " at position ", i - 1, " is followed by ", hex_byte(cur), " at position ", i));
    }
  }
  return CharVocabulary(std::move(symbols));
}

std::vector<std::int32_t> CharVocabulary::encode(std::string_view text) const {
  std::vector<std::int32_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    const std::int32_t id = id_of_[b];
    if (id < 0) {
      throw InputError(str_cat("CharVocabulary::encode: byte ", hex_byte(b), " at offset ", i,
                               " is not in the vocabulary of ", symbols_.size(), " symbols"));
    }
    ids[i] = id;
  }
  return ids;
}

std::string CharVocabulary::decode(std::span<const std::int32_t> ids) const {
  std::string out(ids.size(), '\0');
  const auto n = static_cast<std::int32_t>(symbols_.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n) {
      throw UsageError(str_cat("CharVocabulary::decode: id ", ids[i], " at position ", i,
                               " is out of range [0, ", n, ")"));
    }
    out[i] = symbols_[static_cast<std::size_t>(ids[i])];
  }
  return out;
}

}  // namespace attnlab::io
