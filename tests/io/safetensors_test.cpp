// Strict safetensors reader/writer and strict JSON: round trips (F32/F16/BF16, every dtype's
// size rule, empty and scalar tensors), each malformed-file class with its error code and a
// message naming the file and the field, F16/BF16 conversions over all 65536 patterns, and a
// seeded mutation test (thousands of byte flips / truncations / splices: each input parses or
// throws FormatError/InputError — never crashes; run under ASan in CI).
#include <gtest/gtest.h>

#include <cstdlib>

#include <cmath>
#include <cstring>
#include <fstream>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/float16.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/io/safetensors.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

// ATTNLAB_TEST_SCALE=small (sanitizer CI) shrinks the randomized loops.
bool small_scale() {
  const char* s = std::getenv("ATTNLAB_TEST_SCALE");
  return s && std::string(s) == "small";
}

using io::SafetensorsDtype;
using io::SafetensorsError;
using io::SafetensorsErrorCode;
using io::SafetensorsFile;
using io::SafetensorsWriter;

// A file image from a header text and a data block.
std::string image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

SafetensorsErrorCode code_of(const std::string& bytes) {
  try {
    SafetensorsFile::from_bytes(bytes, "bad.safetensors");
  } catch (const SafetensorsError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
    return e.code();
  }
  ADD_FAILURE() << "accepted a malformed file";
  return SafetensorsErrorCode::io;
}

std::string message_of(const std::string& bytes) {
  try {
    SafetensorsFile::from_bytes(bytes, "bad.safetensors");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsFloatsAndMetadata) {
  SafetensorsWriter w;
  std::vector<float> a(6), b(5);
  for (int i = 0; i < 6; ++i) a[i] = 0.25f * static_cast<float>(i) - 0.5f;
  for (int i = 0; i < 5; ++i) b[i] = 1.0f / static_cast<float>(i + 1);
  w.add_f32("a.weight", {2, 3}, a.data());
  w.add_f32("b16", {5}, b.data(), SafetensorsDtype::F16);
  w.add_f32("bb16", {5}, b.data(), SafetensorsDtype::BF16);
  w.add_f32("scalar", {}, a.data());
  w.add_f32("empty", {0, 4}, a.data());
  w.add_raw("ids", SafetensorsDtype::I64, {2}, std::string(16, '\x01'));
  w.set_metadata({{"format", "pt"}});
  const std::string bytes = w.encode();
  const std::uint64_t n =
      static_cast<unsigned char>(bytes[0]) | static_cast<unsigned char>(bytes[1]) << 8;
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  const auto f = SafetensorsFile::from_bytes(bytes, "mem");
  EXPECT_EQ(f.tensors().size(), 6u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto* t = f.find("a.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(f.read_f32(*t), a);
  const auto h = f.read_f32(*f.find("b16"));
  const auto bf = f.read_f32(*f.find("bb16"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(h[i], b[i], 1e-3 * b[i]);
    EXPECT_NEAR(bf[i], b[i], 8e-3 * b[i]);
  }
  EXPECT_EQ(f.read_f32(*f.find("scalar")), std::vector<float>{a[0]});
  EXPECT_TRUE(f.read_f32(*f.find("empty")).empty());
  EXPECT_THROW(f.read_f32(*f.find("ids")), FormatError);  // I64 is not read as floats
  // Every tensor starts at a multiple of its element size (writer sorts by alignment).
  for (const auto& x : f.tensors())
    EXPECT_EQ(
        (8 + n + x.begin) % static_cast<std::uint64_t>(std::max(1, io::dtype_bits(x.dtype) / 8)),
        0u)
        << x.name;

  testing::TempDir dir;
  w.save(dir / "m.safetensors");
  const auto g = SafetensorsFile::open(dir / "m.safetensors");  // mmap path
  EXPECT_EQ(g.read_f32(*g.find("a.weight")), a);
  EXPECT_THROW(SafetensorsFile::open(dir / "missing.safetensors"), InputError);
}

TEST(Safetensors, WriterRejectsCallerMistakes) {
  SafetensorsWriter w;
  float x[2] = {1, 2};
  w.add_f32("x", {2}, x);
  EXPECT_THROW(w.add_f32("x", {2}, x), UsageError);
  EXPECT_THROW(w.add_f32("__metadata__", {2}, x), UsageError);
  EXPECT_THROW(w.add_f32("y", {-1}, x), UsageError);
  EXPECT_THROW(w.add_raw("z", SafetensorsDtype::F32, {3}, std::string(8, '\0')), UsageError);
  EXPECT_THROW(w.add_f32("q", {2}, x, SafetensorsDtype::I32), UsageError);
}

TEST(Safetensors, AcceptsWhatTheReferenceAccepts) {
  // Leading/trailing JSON whitespace, null metadata, empty tensors at equal offsets, sub-byte
  // dtypes with whole bytes, entries in any key order.
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(image(" \n{}\t\r ", ""), "x"));
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(image(R"({"__metadata__":null})", ""), "x"));
  EXPECT_NO_THROW(
      SafetensorsFile::from_bytes(image(R"({"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                        std::string(4, '\0')),
                                  "x"));
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(
      image(R"({"p":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}})", std::string(3, '\0')),
      "x"));
}

struct BadCase {
  const char* name;
  std::string bytes;
  SafetensorsErrorCode code;
  const char* mentions;  // the field / tensor the message must name
};

std::vector<BadCase> bad_cases() {
  const std::string ok_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight(8, '\0');
  std::string huge(8, '\0');
  huge[7] = 0x7f;  // N ~ 9e18
  std::string over(8, '\0');
  const std::uint64_t n = 100'000'001;
  for (int i = 0; i < 8; ++i) over[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return {
      {"empty_file", "", SafetensorsErrorCode::header_too_small, "8-byte"},
      {"seven_bytes", std::string(7, '\0'), SafetensorsErrorCode::header_too_small, "7 bytes"},
      {"huge_header_length", huge + "{}", SafetensorsErrorCode::header_too_large, "header length"},
      {"header_over_100MB", over + "{}", SafetensorsErrorCode::header_too_large, "100000000"},
      {"header_past_eof", image("{" + ok_entry + "}", eight).substr(0, 20),
       SafetensorsErrorCode::invalid_header_length, "past the end"},
      {"not_json", image("{hello}", ""), SafetensorsErrorCode::invalid_json, "invalid JSON"},
      {"nul_padding", image(std::string("{}") + '\0', ""), SafetensorsErrorCode::invalid_json,
       "whitespace"},
      {"top_level_array", image("[1,2]", ""), SafetensorsErrorCode::invalid_json, "JSON object"},
      {"invalid_utf8", image("{\"\xff\":1}", ""), SafetensorsErrorCode::invalid_json, "invalid"},
      {"duplicate_key", image("{" + ok_entry + "," + ok_entry + "}", eight),
       SafetensorsErrorCode::duplicate_key, "'w'"},
      {"duplicate_field",
       image(R"({"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::duplicate_key, "dtype"},
      {"metadata_not_strings", image(R"({"__metadata__":{"a":1}})", ""),
       SafetensorsErrorCode::bad_metadata, "'a'"},
      {"metadata_array", image(R"({"__metadata__":[]})", ""), SafetensorsErrorCode::bad_metadata,
       "__metadata__"},
      {"unknown_dtype", image(R"({"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::unknown_dtype, "F31"},
      {"dtype_not_string", image(R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "dtype"},
      {"missing_shape", image(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "shape"},
      {"extra_field",
       image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "'x'"},
      {"negative_dim", image(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "shape"},
      {"float_dim", image(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "shape"},
      {"dim_over_2_48",
       image(R"({"w":{"dtype":"F32","shape":[281474976710656],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "2^48"},
      {"three_offsets", image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", eight),
       SafetensorsErrorCode::bad_tensor_info, "data_offsets"},
      {"numel_overflow",
       image(
           R"({"w":{"dtype":"F32","shape":[281474976710655,281474976710655],"data_offsets":[0,8]}})",
           eight),
       SafetensorsErrorCode::overflow, "overflows"},
      {"sub_byte_misaligned",
       image(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", std::string(2, '\0')),
       SafetensorsErrorCode::misaligned_slice, "bits"},
      {"end_before_begin",
       image(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight),
       SafetensorsErrorCode::invalid_offset, "END"},
      {"size_mismatch", image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::invalid_offset, "'w'"},
      {"wrong_dtype_size",
       image(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight),
       SafetensorsErrorCode::invalid_offset, "F64"},
      {"overlapping_offsets",
       image(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           std::string(12, '\0')),
       SafetensorsErrorCode::incomplete_coverage, "overlaps"},
      {"aliased_tensors",
       image(
           R"({"k":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
           eight),
       SafetensorsErrorCode::incomplete_coverage, "overlaps"},
      {"gap",
       image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0')),
       SafetensorsErrorCode::incomplete_coverage, "gap"},
      {"trailing_bytes", image("{" + ok_entry + "}", eight + "junk"),
       SafetensorsErrorCode::incomplete_coverage, "trailing"},
      {"truncated_data", image("{" + ok_entry + "}", std::string(5, '\0')),
       SafetensorsErrorCode::incomplete_coverage, "truncated"},
      {"too_deep",
       image(R"({"__metadata__":)" + std::string(40, '[') + std::string(40, ']') + "}", ""),
       SafetensorsErrorCode::invalid_json, "deeper"},
  };
}

TEST(Safetensors, RejectsEveryMalformedClassWithItsCode) {
  for (const auto& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(code_of(c.bytes), c.code) << io::to_string(c.code);
    const std::string msg = message_of(c.bytes);
    EXPECT_NE(msg.find(c.mentions), std::string::npos) << msg;
  }
}

TEST(StrictJson, RejectsDuplicatesAtAnyDepthAndNamesThem) {
  EXPECT_NO_THROW(io::parse_json_strict(R"({"a":{"b":1},"c":{"b":2}})", "x"));
  try {
    io::parse_json_strict(R"({"a":{"b":1,"b":2}})", "cfg.json");
    FAIL();
  } catch (const io::JsonFormatError& e) {
    EXPECT_EQ(e.kind(), io::JsonErrorKind::duplicate_key);
    EXPECT_NE(std::string(e.what()).find("'b' inside 'a'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos);
  }
  // Arrays of objects: each object has its own key set.
  EXPECT_NO_THROW(io::parse_json_strict(R"([{"a":1},{"a":2}])", "x"));
  io::StrictJsonOptions small;
  small.max_bytes = 4;
  try {
    io::parse_json_strict("[1, 2]", "x", small);
    FAIL();
  } catch (const io::JsonFormatError& e) {
    EXPECT_EQ(e.kind(), io::JsonErrorKind::too_large);
  }
  EXPECT_THROW(io::parse_json_strict("{} x", "x"), FormatError);
  EXPECT_THROW(io::parse_json_strict("{/*c*/}", "x"), FormatError);
}

TEST(Float16, ConversionsAreExactAndRoundToNearestEven) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = io::f16_to_f32(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(io::f16_to_f32(io::f32_to_f16(f))));
    } else {
      EXPECT_EQ(io::f32_to_f16(f), h) << bits;
    }
    const float g = io::bf16_to_f32(h);
    if (!std::isnan(g)) {
      EXPECT_EQ(io::f32_to_bf16(g), h) << bits;
    }
  }
  EXPECT_EQ(io::f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(io::f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(io::f32_to_f16(65520.0f), 0x7c00);               // rounds to inf
  EXPECT_EQ(io::f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even (0)
  EXPECT_EQ(io::f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(io::f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie, even mantissa kept
  EXPECT_EQ(io::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(io::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
}

// Seeded mutations of a valid file: every result is a parse or a FormatError/InputError.
TEST(Safetensors, SurvivesThousandsOfMutations) {
  SafetensorsWriter w;
  std::vector<float> data(24);
  for (int i = 0; i < 24; ++i) data[i] = static_cast<float>(i);
  w.add_f32("h.0.attn.c_attn.weight", {2, 6}, data.data());
  w.add_f32("wte.weight", {3, 2}, data.data(), SafetensorsDtype::F16);
  w.add_f32("ln_f.bias", {6}, data.data(), SafetensorsDtype::BF16);
  w.set_metadata({{"format", "pt"}});
  const std::string base = w.encode();
  Rng rng(2024);
  const int rounds = small_scale() ? 1500 : 6000;
  int accepted = 0;
  for (int r = 0; r < rounds; ++r) {
    std::string m = base;
    const auto kind = rng.uniform_int(4);
    const auto edits = 1 + rng.uniform_int(4);
    for (std::uint64_t e = 0; e < edits; ++e) {
      if (m.empty()) break;
      const auto at = static_cast<std::size_t>(rng.uniform_int(m.size()));
      if (kind == 0) {
        m[at] = static_cast<char>(rng.uniform_int(256));  // random byte
      } else if (kind == 1) {
        m[at] ^= static_cast<char>(1 << rng.uniform_int(8));  // bit flip
      } else if (kind == 2) {
        m.resize(at);  // truncation
      } else {
        const char* digits = "0123456789,[]{}\":-e.";
        m[at] = digits[rng.uniform_int(21)];  // JSON-shaped noise
      }
    }
    try {
      const auto f = SafetensorsFile::from_bytes(m, "mutant");
      for (const auto& t : f.tensors()) {
        if (io::dtype_converts_to_f32(t.dtype)) (void)f.read_f32(t);
      }
      ++accepted;
    } catch (const InputError&) {
    }
  }
  EXPECT_LT(accepted, rounds);  // most mutants are rejected...
  EXPECT_GT(accepted, 0);       // ...some (data-block edits) are valid files
}

}  // namespace
}  // namespace attnlab
