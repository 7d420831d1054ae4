// Tests for attnlab/io/text_corpus: user text files (good UTF-8, empty, NUL, ill-formed UTF-8,
// size limit), verse-prefix stripping against hand-written lines (and sed itself when present),
// the contiguous split rule, the byte vocabulary, load_kjv_corpus with a fake `bible` program
// (errors, cache) and, when Debian's bible-kjv and bible-kjv-text are installed, the real dump.
#include "attnlab/io/text_corpus.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/sha256.hpp"
#include "attnlab/core/subprocess.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::io {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// An executable shell script at `path` with this body.
void write_script(const fs::path& path, const std::string& body) {
  write_bytes(path, "#!/bin/sh\n" + body);
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace);
}

// The message of the `Error` that `fn` throws (empty when it throws nothing or something else).
template <class Err, class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const Err& e) {
    return e.what();
  } catch (...) {
    return "<other exception>";
  }
  return "<no exception>";
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// ---------------------------------------------------------------------------- load_text_corpus

TEST(TextCorpus, LoadsUtf8TextByteForByte) {
  TempDir dir;
  const std::string text =
      "\xEF\xBB\xBFPlain ASCII, caf\xC3\xA9, \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC, "
      "\xF0\x9F\x98\x80, max \xF4\x8F\xBF\xBF, last BMP \xEF\xBF\xBF\r\nno final newline";
  write_bytes(dir / "in.txt", text);
  const TextCorpus c = load_text_corpus(dir / "in.txt");
  EXPECT_EQ(c.text, text);
  EXPECT_EQ(c.source, (dir / "in.txt").string());
  EXPECT_EQ(c.sha256, sha256_hex(text));
  EXPECT_EQ(c.sha256.size(), 64u);
}

TEST(TextCorpus, MissingFileOrDirectoryIsInputErrorNamingThePath) {
  TempDir dir;
  const fs::path missing = dir / "nope.txt";
  const std::string msg = message_of<InputError>([&] { load_text_corpus(missing); });
  EXPECT_NE(msg.find("load_text_corpus"), std::string::npos) << msg;
  EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
  const std::string dmsg = message_of<InputError>([&] { load_text_corpus(dir.path()); });
  EXPECT_NE(dmsg.find("directory"), std::string::npos) << dmsg;
}

TEST(TextCorpus, EmptyFileIsFormatError) {
  TempDir dir;
  write_bytes(dir / "empty.txt", "");
  const std::string msg = message_of<FormatError>([&] { load_text_corpus(dir / "empty.txt"); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty.txt"), std::string::npos) << msg;
}

TEST(TextCorpus, NulByteIsRejectedAsBinary) {
  TempDir dir;
  write_bytes(dir / "bin.txt", std::string("ab\ncd\0ef", 8));
  const std::string msg = message_of<FormatError>([&] { load_text_corpus(dir / "bin.txt"); });
  EXPECT_NE(msg.find("NUL byte at byte offset 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("binary"), std::string::npos) << msg;
}

struct BadUtf8Case {
  const char* name;
  std::string bytes;
  std::size_t offset;  // of the offending sequence
  const char* what;    // part of the message
};

TEST(TextCorpus, IllFormedUtf8IsFormatErrorNamingTheOffset) {
  const std::vector<BadUtf8Case> cases = {
      {"stray continuation", "ab\x80z", 2, "continuation"},
      {"overlong 2-byte C0", "abc\xC0\xAF", 3, "overlong"},
      {"overlong 2-byte C1", "\xC1\xBF", 0, "overlong"},
      {"overlong 3-byte", "x\xE0\x80\xAFy", 1, "overlong"},
      {"overlong 4-byte", "x\xF0\x80\x80\xAF", 1, "overlong"},
      {"high surrogate", "ok \xED\xA0\x80", 3, "surrogate"},
      {"low surrogate", "ok \xED\xBF\xBF", 3, "surrogate"},
      {"above U+10FFFF via F4", "\xF4\x90\x80\x80", 0, "U+10FFFF"},
      {"F5 lead byte", "a\xF5\x80\x80\x80", 1, "U+10FFFF"},
      {"FF byte", "ab\xFF", 2, "U+10FFFF"},
      {"truncated at end (2 of 3)", "ab\xE6\x97", 2, "truncated"},
      {"truncated at end (1 of 2)", "ab\xC3", 2, "truncated"},
      {"truncated at end (3 of 4)", "\xF0\x9F\x98", 0, "truncated"},
      {"truncated in the middle", "\xE6\x97x more", 0, "truncated"},
      {"Latin-1 e-acute", "caf\xE9 au lait", 3, "truncated"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    write_bytes(dir / "bad.txt", c.bytes);
    const std::string msg = message_of<FormatError>([&] { load_text_corpus(dir / "bad.txt"); });
    EXPECT_NE(msg.find("invalid UTF-8"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset " + std::to_string(c.offset) + " "), std::string::npos) << msg;
    EXPECT_NE(msg.find("bad.txt"), std::string::npos) << msg;
  }
}

TEST(TextCorpus, ErrorNamesLineAndBytes) {
  TempDir dir;
  write_bytes(dir / "bad.txt",
              "one\ntwo\nthr\xFF"
              "ee\n");
  const std::string msg = message_of<FormatError>([&] { load_text_corpus(dir / "bad.txt"); });
  EXPECT_NE(msg.find("byte offset 11 (line 3, bytes \\xff)"), std::string::npos) << msg;
}

TEST(TextCorpus, SizeLimitIsCheckedBeforeReading) {
  TempDir dir;
  const fs::path big = dir / "big.txt";
  write_bytes(big, "x");
  std::error_code ec;
  fs::resize_file(big, kTextCorpusMaxBytes + 1, ec);  // sparse: no disk space, no read
  if (ec) GTEST_SKIP() << "cannot make a sparse file: " << ec.message();
  const std::string msg = message_of<InputError>([&] { load_text_corpus(big); });
  EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(kTextCorpusMaxBytes + 1)), std::string::npos) << msg;
}

// ------------------------------------------------------------------------ verse prefix strip

TEST(CorpusPrefixStrip, HandWrittenLines) {
  EXPECT_EQ(strip_verse_prefix("Ge1:1 In the beginning"), "In the beginning");
  EXPECT_EQ(strip_verse_prefix("1Co13:4 Charity suffereth long"), "Charity suffereth long");
  EXPECT_EQ(strip_verse_prefix("2Ki2:23 And he went up"), "And he went up");
  EXPECT_EQ(strip_verse_prefix("3Jo1:14 But I trust"), "But I trust");
  EXPECT_EQ(strip_verse_prefix("Ps119:176 I have gone astray"), "I have gone astray");
  EXPECT_EQ(strip_verse_prefix("Rev22:21 The grace"), "The grace");
  EXPECT_EQ(strip_verse_prefix("Ge1:1  two spaces"), " two spaces");  // one space consumed
  EXPECT_EQ(strip_verse_prefix("Ge1:1 Ge1:2 twice"), "Ge1:2 twice");  // anchored, once
  EXPECT_EQ(strip_verse_prefix("Ge1:1 "), "");
  EXPECT_EQ(strip_verse_prefix("Ge1:1 x\r"), "x\r");
  // Lines without a prefix are unchanged.
  for (const char* line : {"", "No prefix here", "Ge1:1", "Ge1:1x", "Ge:1 x", "Ge1: x", "1:1 x",
                           "12Co1:1 x", "1 Co13:4 x", " Ge1:1 x", "Ge1:1\tx",
                           "G\xC3\xA9"
                           "1:1 x",
                           "Ge1.1 x", "Ge1:a x"}) {
    EXPECT_EQ(strip_verse_prefix(line), line) << line;
  }
}

TEST(CorpusPrefixStrip, WholeTextKeepsNewlines) {
  EXPECT_EQ(strip_verse_prefixes("Ge1:1 A\n1Co13:4 B\n\nplain\nRev22:21 C"), "A\nB\n\nplain\nC");
  EXPECT_EQ(strip_verse_prefixes("Ge1:1 A\n"), "A\n");
  EXPECT_EQ(strip_verse_prefixes("\n\n"), "\n\n");
  EXPECT_EQ(strip_verse_prefixes(""), "");
}

TEST(CorpusPrefixStrip, AgreesWithSedWhenAvailable) {
  const std::string sed = find_executable("sed");
  if (sed.empty()) GTEST_SKIP() << "sed not on PATH";
  const std::string text =
      "Ge1:1 In the beginning\n1Co13:4 Charity\n2Ki2:23 And\nPs119:176 I\nGe1:1  two\n"
      "Ge1:1 Ge1:2 twice\nGe1:1 \n\nNo prefix\nGe1:1\nGe:1 x\nGe1: x\n1:1 x\n12Co1:1 x\n"
      " Ge1:1 x\nGe1:1\tx\nGe1.1 x\nGe1:a x\nGe1:1 x\r\nRev22:21 last";
  TempDir dir;
  write_bytes(dir / "lines.txt", text);
  const ProcessResult r =
      run_process({sed, "-E", "s/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //", (dir / "lines.txt").string()});
  ASSERT_TRUE(r.started);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(strip_verse_prefixes(text), r.out);
}

// -------------------------------------------------------------------------- split_contiguous

TEST(CorpusSplit, NanoGptRule) {
  const CorpusSplit s = split_contiguous(4137850);
  EXPECT_EQ(s.train_begin, 0u);
  EXPECT_EQ(s.train_end, 3724065u);
  EXPECT_EQ(s.val_begin, 3724065u);
  EXPECT_EQ(s.val_end, 4137850u);
  const CorpusSplit t = split_contiguous(10);
  EXPECT_EQ(t.train_end, 9u);
  EXPECT_EQ(t.val_begin, 9u);
  EXPECT_EQ(t.val_end, 10u);
  EXPECT_EQ(split_contiguous(10, 0.5).train_end, 5u);
  EXPECT_EQ(split_contiguous(2, 0.5).train_end, 1u);
  EXPECT_EQ(split_contiguous(7, 0.99).train_end, 6u);  // floor(6.93)
  EXPECT_EQ(split_contiguous(1000, 0.001).train_end, 1u);
}

TEST(CorpusSplit, RejectsBadFractionsAndEmptyParts) {
  for (double f : {0.0, 1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(split_contiguous(100, f), UsageError) << f;
  }
  EXPECT_THROW(split_contiguous(0), UsageError);
  EXPECT_THROW(split_contiguous(1), UsageError);       // train 0
  EXPECT_THROW(split_contiguous(2, 0.1), UsageError);  // train floor(0.2) = 0
}

// --------------------------------------------------------------------------- CharVocabulary

TEST(CharVocabulary, FromTextSortsDistinctBytes) {
  const CharVocabulary v = CharVocabulary::from_text("hello");
  EXPECT_EQ(v.size(), 4);
  EXPECT_EQ(v.symbols(), "ehlo");
  EXPECT_EQ(v.encode("hello"), (std::vector<std::int32_t>{1, 0, 2, 2, 3}));
  const std::vector<std::int32_t> ids = {3, 2, 0};
  EXPECT_EQ(v.decode(ids), "ole");
}

TEST(CharVocabulary, HighBytesSortAsUnsigned) {
  const std::string text = "\xFF a\x80\n\xC3\xA9";
  const CharVocabulary v = CharVocabulary::from_text(text);
  EXPECT_EQ(v.symbols(), std::string("\n a\x80\xA9\xC3\xFF"));
  const auto ids = v.encode(text);
  EXPECT_EQ(v.decode(ids), text);
}

TEST(CharVocabulary, RoundTripAllBytesAndFromSymbols) {
  std::string all;
  for (int b = 255; b >= 0; --b) all += static_cast<char>(b);
  const CharVocabulary v = CharVocabulary::from_text(all);
  EXPECT_EQ(v.size(), 256);
  const auto ids = v.encode(all);
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], 255 - static_cast<int>(i));
  EXPECT_EQ(v.decode(ids), all);
  const CharVocabulary w = CharVocabulary::from_symbols(v.symbols());
  EXPECT_EQ(w.symbols(), v.symbols());
  EXPECT_EQ(w.encode(all), ids);
  EXPECT_EQ(v.decode(std::vector<std::int32_t>{}), "");
  EXPECT_TRUE(v.encode("").empty());
}

TEST(CharVocabulary, EncodeRejectsUnknownByteNamingOffsetAndByte) {
  const CharVocabulary v = CharVocabulary::from_text("ab");
  const std::string msg = message_of<InputError>([&] { v.encode("abac"); });
  EXPECT_NE(msg.find("\\x63"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 3"), std::string::npos) << msg;
  const std::string hi = message_of<InputError>([&] { v.encode("a\xE9"); });
  EXPECT_NE(hi.find("\\xe9"), std::string::npos) << hi;
  EXPECT_NE(hi.find("offset 1"), std::string::npos) << hi;
}

TEST(CharVocabulary, DecodeRejectsOutOfRangeIds) {
  const CharVocabulary v = CharVocabulary::from_text("abc");
  const std::string msg = message_of<UsageError>([&] {
    v.decode(std::vector<std::int32_t>{0, 1, 3});
  });
  EXPECT_NE(msg.find("id 3 at position 2"), std::string::npos) << msg;
  EXPECT_THROW(v.decode(std::vector<std::int32_t>{-1}), UsageError);
}

TEST(CharVocabulary, FromSymbolsValidates) {
  EXPECT_THROW(CharVocabulary::from_symbols(""), FormatError);
  const std::string unsorted =
      message_of<FormatError>([] { CharVocabulary::from_symbols("abdc"); });
  EXPECT_NE(unsorted.find("ascending"), std::string::npos) << unsorted;
  const std::string repeated = message_of<FormatError>([] { CharVocabulary::from_symbols("abb"); });
  EXPECT_NE(repeated.find("repeated"), std::string::npos) << repeated;
  EXPECT_THROW(CharVocabulary::from_symbols("\xFF"
                                            "a"),
               FormatError);  // unsigned order
  EXPECT_EQ(CharVocabulary::from_symbols("a\xFF").size(), 2);
  EXPECT_THROW(CharVocabulary::from_text(""), UsageError);
}

// ---------------------------------------------------------------- load_kjv_corpus with a fake

// A directory with an (empty) bible.data and a fake `bible` that prints its arguments as a
// verse, then two verses and a line without a prefix.
struct FakeKjv {
  TempDir dir;
  fs::path data_dir = dir / "data";
  fs::path program = dir / "bible";
  FakeKjv() {
    fs::create_directories(data_dir);
    write_bytes(data_dir / "bible.data", "");
    write_script(program,
                 "echo \"Ge1:1 $*\"\n"
                 "printf '1Co13:4 Charity suffereth long.\\nNo prefix\\n'\n");
  }
  KjvOptions options() const {
    KjvOptions o;
    o.data_dir = data_dir;
    o.program = program;
    return o;
  }
};

TEST(KjvCorpus, FakeProgramOutputIsStrippedAndFlaggedAsNotReference) {
  FakeKjv fake;
  bool matches = true;
  const TextCorpus c = load_kjv_corpus(fake.options(), &matches);
  EXPECT_EQ(c.text, "-f -p " + fake.data_dir.string() +
                        " Gen1:1-Rev22:21\nCharity suffereth long.\nNo prefix\n");
  EXPECT_EQ(c.source, kKjvSource);
  EXPECT_EQ(c.sha256, sha256_hex(c.text));
  EXPECT_FALSE(matches);
  EXPECT_NO_THROW(load_kjv_corpus(fake.options()));  // matches_reference is optional
}

TEST(KjvCorpus, MissingDataFileNamesThePackages) {
  FakeKjv fake;
  KjvOptions o = fake.options();
  o.data_dir = fake.dir / "no-such-dir";
  const std::string msg = message_of<InputError>([&] { load_kjv_corpus(o); });
  EXPECT_NE(msg.find("bible.data"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bible-kjv-text"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/bootstrap.sh"), std::string::npos) << msg;
  EXPECT_NE(msg.find(o.data_dir.string()), std::string::npos) << msg;
}

TEST(KjvCorpus, MissingProgramNamesThePackages) {
  FakeKjv fake;
  KjvOptions o = fake.options();
  o.program = fake.dir / "no-such-bible";
  const std::string msg = message_of<InputError>([&] { load_kjv_corpus(o); });
  EXPECT_NE(msg.find("bible-kjv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/bootstrap.sh"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no-such-bible"), std::string::npos) << msg;
}

TEST(KjvCorpus, FailingProgramIsInputErrorWithItsStderr) {
  FakeKjv fake;
  write_script(fake.program, "echo 'Cannot open data file bible.data' >&2\nexit 255\n");
  const std::string msg = message_of<InputError>([&] { load_kjv_corpus(fake.options()); });
  EXPECT_NE(msg.find("exit code 255"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Cannot open data file"), std::string::npos) << msg;
}

TEST(KjvCorpus, BinaryOrEmptyOutputIsFormatError) {
  FakeKjv fake;
  write_script(fake.program, "printf 'Ge1:1 a\\000b\\n'\n");
  const std::string msg = message_of<FormatError>([&] { load_kjv_corpus(fake.options()); });
  EXPECT_NE(msg.find("NUL"), std::string::npos) << msg;
  write_script(fake.program, "exit 0\n");
  EXPECT_THROW(load_kjv_corpus(fake.options()), FormatError);
}

TEST(KjvCorpus, CacheIsWrittenButANonReferenceCacheIsNotReused) {
  FakeKjv fake;
  KjvOptions o = fake.options();
  o.cache_dir = fake.dir / "cache" / "nested";
  const TextCorpus first = load_kjv_corpus(o);
  const fs::path cached = o.cache_dir / "kjv.txt";
  ASSERT_TRUE(fs::is_regular_file(cached));
  std::ifstream in(cached, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, first.text);
  // The cache does not match the reference, so the program runs again (and a changed output is
  // picked up and re-cached).
  write_script(fake.program, "printf 'Ge1:1 changed\\n'\n");
  bool matches = true;
  const TextCorpus second = load_kjv_corpus(o, &matches);
  EXPECT_EQ(second.text, "changed\n");
  EXPECT_FALSE(matches);
  std::ifstream in2(cached, std::ios::binary);
  const std::string again((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  EXPECT_EQ(again, "changed\n");
}

// -------------------------------------------------------------------- the real KJV (optional)

TEST(KjvCorpus, RealDumpMatchesReference) {
  std::error_code ec;
  if (!fs::exists("/usr/bin/bible", ec) || !fs::exists("/usr/lib/bible.data", ec)) {
    GTEST_SKIP() << "Debian packages bible-kjv and bible-kjv-text are not installed "
                    "(scripts/bootstrap.sh installs them)";
  }
  TempDir dir;
  KjvOptions o;
  o.program = "/usr/bin/bible";
  o.cache_dir = dir / "cache";
  bool matches = false;
  const TextCorpus c = load_kjv_corpus(o, &matches);
  EXPECT_EQ(c.text.size(), kKjvReferenceBytes);
  EXPECT_EQ(c.text.size(), 4137850u);
  EXPECT_EQ(count_lines(c.text), kKjvReferenceLines);
  EXPECT_EQ(count_lines(c.text), 31102u);
  EXPECT_TRUE(matches);
  EXPECT_EQ(c.sha256, kKjvReferenceSha256);
  EXPECT_EQ(c.source, kKjvSource);
  EXPECT_EQ(c.text.substr(0, 56), "In the beginning God created the heaven and the earth.\nA");
  EXPECT_EQ(c.text.back(), '\n');
  const CharVocabulary v = CharVocabulary::from_text(c.text);
  EXPECT_EQ(v.size(), 63);
  EXPECT_EQ(v.decode(v.encode(c.text)), c.text);
  EXPECT_EQ(split_contiguous(c.text.size()).train_end, 3724065u);

  // The cache is reused without running anything: a missing program and data dir do not matter.
  ASSERT_TRUE(fs::is_regular_file(o.cache_dir / "kjv.txt"));
  KjvOptions cached = o;
  cached.program = dir / "no-such-bible";
  cached.data_dir = dir / "no-such-dir";
  bool matches2 = false;
  const TextCorpus again = load_kjv_corpus(cached, &matches2);
  EXPECT_TRUE(matches2);
  EXPECT_EQ(again.text, c.text);
  EXPECT_EQ(again.sha256, kKjvReferenceSha256);
}

}  // namespace
}  // namespace attnlab::io
