// Tests for attnlab/core/sha256: the FIPS 180-2 / NIST example vectors, incremental updates split
// at every boundary around the 55/56/64-byte padding edges, and finalization rules.
#include "attnlab/core/sha256.hpp"

#include <gtest/gtest.h>

#include <string>

#include "attnlab/core/error.hpp"

namespace attnlab {
namespace {

TEST(Sha256, EmptyMessage) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, Abc) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessage448Bits) {
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, The896BitMessage) {
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionA) {
  const std::string kExpected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), kExpected);
  // The same message fed in uneven pieces.
  Sha256 s;
  const std::string chunk(997, 'a');
  std::size_t fed = 0;
  while (fed + chunk.size() <= 1000000) {
    s.update(chunk);
    fed += chunk.size();
  }
  s.update(std::string(1000000 - fed, 'a'));
  EXPECT_EQ(s.hex_digest(), kExpected);
}

TEST(Sha256, IncrementalSplitsMatchOneShot) {
  // Lengths around the padding edges (55 fits the length in the same block, 56 does not).
  for (std::size_t len : {0u, 1u, 55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 127u, 128u, 200u}) {
    std::string msg(len, '\0');
    for (std::size_t i = 0; i < len; ++i) msg[i] = static_cast<char>((i * 37 + 11) & 0xff);
    const std::string one_shot = sha256_hex(msg);
    for (std::size_t cut = 0; cut <= len; ++cut) {
      Sha256 s;
      s.update(std::string_view(msg).substr(0, cut));
      s.update(std::string_view(msg).substr(cut));
      ASSERT_EQ(s.hex_digest(), one_shot) << "len=" << len << " cut=" << cut;
    }
  }
}

TEST(Sha256, PaddingEdgeLengths) {
  // 55 bytes is the longest message whose padding fits in a single block.
  EXPECT_EQ(sha256_hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, FinalizationRules) {
  Sha256 s;
  s.update("ab");
  const std::string first = s.hex_digest();
  EXPECT_EQ(s.hex_digest(), first);  // digest is repeatable
  EXPECT_THROW(s.update("c"), UsageError);
  s.reset();
  s.update("abc");
  EXPECT_EQ(s.hex_digest(), sha256_hex("abc"));
  EXPECT_EQ(first, sha256_hex("ab"));
}

}  // namespace
}  // namespace attnlab
