// attnlab/io/text_corpus.hpp — text corpora for the tiny-LM trainer: the user's text file or the
// King James Bible, a contiguous train/validation split, and a byte-level character vocabulary.
//
// Sources:
//   * load_text_corpus(path): a user's UTF-8 text file, taken byte for byte (no newline or BOM
//     normalization). Rejected: a missing or unreadable path or a directory (InputError), a file
//     larger than kTextCorpusMaxBytes (InputError, checked from the file size before reading and
//     again while reading, so a growing file cannot make it allocate more), an empty file, a NUL
//     byte ("binary corpus") or any ill-formed UTF-8 (FormatError naming the byte offset, the
//     line and the bytes). Well-formed UTF-8 is Unicode's Table 3-7: no overlong encodings
//     (C0, C1, E0 80..9F, F0 80..8F), no UTF-16 surrogates (ED A0..BF), nothing above U+10FFFF
//     (F4 90.., F5..FF), no stray continuation bytes and no truncated sequences.
//   * load_kjv_corpus(): the King James Version from Debian's bible-kjv-text (bible.data in
//     /usr/lib), dumped by the `bible` program of package bible-kjv as
//         bible -f -p /usr/lib "Gen1:1-Rev22:21"      (one verse per line, "Ge1:1 In the ...")
//     with every line's reference prefix removed exactly as
//         sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //'
//     would (strip_verse_prefixes; ASCII classes, one space consumed, lines without a prefix
//     kept). The program runs without a shell (core/subprocess). The result for bible-kjv 4.38 is
//     kKjvReferenceBytes bytes in kKjvReferenceLines lines (every line ends in '\n'), 63 distinct
//     bytes, md5 kKjvReferenceMd5, sha256 kKjvReferenceSha256. A dump whose sha256 differs (another
//     package version) is not an error: *matches_reference is set to false so that the caller can
//     report it. With options.cache_dir set, the stripped text is written there atomically as
//     kjv.txt and, on later calls, reused without running the program when its size and sha256
//     match the reference (a stale or damaged cache is silently regenerated).
//
// Split (nanoGPT style): train = [0, floor(train_fraction * n)), validation = [that, n), no
// shuffling, so the split depends only on n and the fraction. For the KJV (n = 4137850) and the
// default 0.9: train [0, 3724065), validation [3724065, 4137850).
//
// Vocabulary: the distinct bytes of a text sorted ascending (as unsigned bytes); a byte's id is its
// rank. Multi-byte UTF-8 characters are therefore several symbols, which keeps the vocabulary at
// most 256 and makes encode/decode an exact byte round trip.
//
// Errors: InputError (missing/unreadable/too-large file; missing `bible` program or bible.data,
// naming the Debian packages bible-kjv and bible-kjv-text and scripts/bootstrap.sh; the program
// failed; a byte not in the vocabulary); FormatError (empty, binary or ill-formed UTF-8 text;
// unsorted or repeated vocabulary symbols); UsageError (bad split fraction, id out of range).
//
// Usage:
//   TextCorpus c = load_text_corpus("input.txt");               // c.text, c.source, c.sha256
//   bool same = false;
//   TextCorpus kjv = load_kjv_corpus({.cache_dir = ".cache/corpus"}, &same);
//   CorpusSplit s = split_contiguous(kjv.text.size());         // 0.9 / 0.1
//   CharVocabulary vocab = CharVocabulary::from_text(kjv.text);  // vocab.size() == 63
//   std::vector<std::int32_t> ids = vocab.encode(kjv.text);     // [n] in 0..62
//   std::string back = vocab.decode(ids);                        // == kjv.text
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::io {

// Largest text file load_text_corpus reads (1 GiB).
inline constexpr std::uint64_t kTextCorpusMaxBytes = std::uint64_t{1} << 30;

// The KJV dump of bible-kjv / bible-kjv-text 4.38 after prefix stripping.
inline constexpr std::string_view kKjvSource = "KJV (bible-kjv 4.38 via bible -f)";
inline constexpr std::string_view kKjvRange = "Gen1:1-Rev22:21";
inline constexpr std::string_view kKjvDefaultDataDir = "/usr/lib";
inline constexpr std::string_view kKjvDataFile = "bible.data";
inline constexpr std::string_view kKjvCacheFile = "kjv.txt";
inline constexpr std::size_t kKjvReferenceBytes = 4137850;
inline constexpr std::size_t kKjvReferenceLines = 31102;
inline constexpr std::string_view kKjvReferenceMd5 = "0442864d38d37131885626cd0cfa2a12";
inline constexpr std::string_view kKjvReferenceSha256 =
    "b5c4940bcfeee072c0935b5200d0f9d88a00a0199cb0961d16133458fcdfae5d";

struct TextCorpus {
  std::string text;    // the bytes
  std::string source;  // where it came from: the path, or kKjvSource
  std::string sha256;  // of text, 64 lowercase hex characters
};

// A user's text file (see the header comment for what is rejected).
TextCorpus load_text_corpus(const std::filesystem::path& path);

struct KjvOptions {
  std::filesystem::path data_dir = kKjvDefaultDataDir;  // directory holding bible.data
  std::filesystem::path cache_dir;  // empty = no cache; else kjv.txt is written/reused here
  std::filesystem::path program;    // empty = `bible` on PATH (find_executable); for tests
  double timeout_s = 300.0;         // for the `bible` run
};

// The King James Bible, one verse per line without reference prefixes. *matches_reference (when
// non-null) is set to whether the text's sha256 equals kKjvReferenceSha256.
TextCorpus load_kjv_corpus(const KjvOptions& options = {}, bool* matches_reference = nullptr);

// One line (without its '\n') with its verse reference removed, as
// sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //' does: "1Co13:4 Charity" -> "Charity"; a line
// without such a prefix is returned unchanged.
std::string_view strip_verse_prefix(std::string_view line);
// strip_verse_prefix applied to every '\n'-separated line of `text` (the newlines are kept,
// including a missing final one).
std::string strip_verse_prefixes(std::string_view text);

// Half-open byte ranges [train_begin, train_end) and [val_begin, val_end); train_end == val_begin.
struct CorpusSplit {
  std::size_t train_begin = 0, train_end = 0, val_begin = 0, val_end = 0;
};

// train = [0, floor(train_fraction * n)), validation = [floor(train_fraction * n), n).
// UsageError unless 0 < train_fraction < 1 and both parts are non-empty.
CorpusSplit split_contiguous(std::size_t n, double train_fraction = 0.9);

// Byte-level "character" vocabulary: symbols are distinct bytes, ascending; id = rank.
class CharVocabulary {
 public:
  // The distinct bytes of `text`; UsageError when text is empty.
  static CharVocabulary from_text(std::string_view text);
  // `symbols` as given; FormatError unless it is non-empty, strictly ascending (as unsigned bytes)
  // and so without repeats.
  static CharVocabulary from_symbols(std::string symbols);

  std::int32_t size() const { return static_cast<std::int32_t>(symbols_.size()); }
  const std::string& symbols() const { return symbols_; }  // the bytes, ascending
  // Ids of the bytes of `text`: [text.size()]. InputError naming the offset and the byte (\xNN)
  // of the first byte that is not a symbol.
  std::vector<std::int32_t> encode(std::string_view text) const;
  // Bytes of the ids: [ids.size()]. UsageError naming the position and the id when an id is not
  // in [0, size()).
  std::string decode(std::span<const std::int32_t> ids) const;

 private:
  explicit CharVocabulary(std::string symbols);
  std::string symbols_;
  std::array<std::int32_t, 256> id_of_{};  // byte -> id, -1 when not a symbol
};

}  // namespace attnlab::io
