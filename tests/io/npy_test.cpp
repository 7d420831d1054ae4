// Tests for attnlab/io/npy: round trips, the exact header layout, every rejection path with its
// message, the typed loaders, 4-D and Fortran-order input, a seeded mutation test and (when
// /usr/bin/python3 has numpy) a cross-check against numpy in both directions.
#include "attnlab/io/npy.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::io {
namespace {

using testing::TempDir;

// A raw .npy file with this header dict text (padded with spaces and '\n' to 64 bytes) and data.
std::string raw_npy(std::string_view dict, std::string_view data, int major = 1,
                    std::size_t align = 64) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header(dict);
  const std::size_t unpadded = prefix + header.size() + 1;
  header.append((align - unpadded % align) % align, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t len = header.size();
  for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + std::string(data);
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

const std::string kF4x2 = bytes_of(std::vector<float>{1.5f, -2.0f});  // 8 bytes

// parse_npy must throw FormatError whose message names the source and contains `needle`.
void expect_format_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_npy(bytes, "bad.npy");
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.npy: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nneedle: " << needle;
  }
}

std::vector<double> iota_values(std::size_t n, double scale, double offset) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) * scale + offset;
  return v;
}

std::string shape_tuple(const std::vector<Index>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// The permutation that stores a C-order array in Fortran order, written out independently of the
// reader: fortran[f] = c_order[c], where the multi-index of both positions is the same, counted
// last-index-fastest for c and first-index-fastest for f.
template <class T>
std::vector<T> to_fortran_order(const std::vector<T>& c_order, const std::vector<Index>& shape) {
  std::vector<T> out(c_order.size());
  for (std::size_t c = 0; c < c_order.size(); ++c) {
    Index rest = static_cast<Index>(c), f = 0, f_stride = 1;
    std::vector<Index> idx(shape.size());
    for (std::size_t k = shape.size(); k-- > 0;) {
      idx[k] = rest % shape[k];
      rest /= shape[k];
    }
    for (std::size_t k = 0; k < shape.size(); ++k) {
      f += idx[k] * f_stride;
      f_stride *= shape[k];
    }
    out[static_cast<std::size_t>(f)] = c_order[c];
  }
  return out;
}

// A Fortran-order .npy file of `c_order` (the array's values in C order) with this shape.
template <class T>
std::string fortran_npy(const std::string& descr, const std::vector<T>& c_order,
                        const std::vector<Index>& shape) {
  return raw_npy(
      "{'descr': '" + descr + "', 'fortran_order': True, 'shape': " + shape_tuple(shape) + ", }",
      bytes_of(to_fortran_order(c_order, shape)));
}

// ---------------------------------------------------------------------------------------------
// Round trips and layout

template <class T>
void check_round_trip(std::vector<Index> shape, NpyDtype dtype) {
  Index count = 1;
  for (Index d : shape) count *= d;
  std::vector<T> data(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i) data[i] = static_cast<T>(i * 3 - 7) / static_cast<T>(2);
  const std::string bytes = encode_npy(data.data(), shape);
  const NpyArray a = parse_npy(bytes, "rt.npy");
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(a.dtype, dtype);
  ASSERT_EQ(a.values.size(), data.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    ASSERT_EQ(a.values[i], static_cast<double>(data[i])) << "index " << i;
  }
}

TEST(Npy, RoundTripFloat32) {
  check_round_trip<float>({5}, NpyDtype::kF32);
  check_round_trip<float>({3, 4}, NpyDtype::kF32);
  check_round_trip<float>({2, 3, 5}, NpyDtype::kF32);
}

TEST(Npy, RoundTripFloat64) {
  check_round_trip<double>({7}, NpyDtype::kF64);
  check_round_trip<double>({4, 1}, NpyDtype::kF64);
  check_round_trip<double>({3, 2, 2}, NpyDtype::kF64);
}

TEST(Npy, RoundTripInt64Int32Uint8) {
  check_round_trip<std::int64_t>({6}, NpyDtype::kI64);
  check_round_trip<std::int64_t>({2, 3}, NpyDtype::kI64);
  check_round_trip<std::int64_t>({1, 2, 3}, NpyDtype::kI64);
  check_round_trip<std::int32_t>({2, 5}, NpyDtype::kI32);
  std::vector<std::uint8_t> u = {0, 1, 254, 255};
  const Index shape[] = {2, 2};
  const NpyArray a = parse_npy(encode_npy(u.data(), shape), "u.npy");
  EXPECT_EQ(a.dtype, NpyDtype::kU8);
  EXPECT_EQ(a.values, (std::vector<double>{0, 1, 254, 255}));
}

TEST(Npy, RoundTripEmptyDims) {
  for (const auto& shape : {std::vector<Index>{0}, std::vector<Index>{0, 4},
                            std::vector<Index>{3, 0}, std::vector<Index>{2, 0, 5}}) {
    const std::string bytes = encode_npy(static_cast<const float*>(nullptr), shape);
    const NpyArray a = parse_npy(bytes, "empty.npy");
    EXPECT_EQ(a.shape, shape);
    EXPECT_TRUE(a.values.empty());
    EXPECT_EQ(bytes.size() % 64, 0u);  // header only
  }
}

TEST(Npy, RoundTripKeepsExactInt64) {
  std::vector<std::int64_t> v = {std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::min(), (1ll << 53) + 1};
  TempDir dir;
  const Index shape[] = {3};
  save_npy(dir / "y.npy", v.data(), shape);
  EXPECT_EQ(load_npy_labels(dir / "y.npy"), v);
}

TEST(Npy, HeaderIsNumpyStyleAndDataIs64ByteAligned) {
  const std::vector<float> x(12, 1.0f);
  const Index shape[] = {3, 4};
  const std::string bytes = encode_npy(x.data(), shape);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len =
      static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes.size(), 10 + header_len + 12 * 4);
  const std::string header = bytes.substr(10, header_len);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 0), 0u)
      << header;
  EXPECT_EQ(header.back(), '\n');
  const Index one[] = {5};
  const std::string b1 = encode_npy(std::vector<double>(5).data(), one);
  EXPECT_NE(b1.find("'shape': (5,), }"), std::string::npos);

  // Many shapes: the data always starts at a multiple of 64, just after '\n'.
  const std::vector<double> nine(9, 0.5);
  for (const auto& s : {std::vector<Index>{1}, std::vector<Index>{9}, std::vector<Index>{1, 0},
                        std::vector<Index>{123456789, 0}, std::vector<Index>{9, 123456789, 0},
                        std::vector<Index>{0, 1, 1}, std::vector<Index>{3, 3, 1}}) {
    const std::string b = encode_npy(nine.data(), s);
    const NpyHeader h = parse_npy_header(b, "h.npy");
    EXPECT_EQ(h.shape, s);
    EXPECT_EQ(h.data_offset % 64, 0u);
    EXPECT_EQ(b[h.data_offset - 1], '\n');
    EXPECT_EQ(h.major_version, 1);
  }
}

TEST(Npy, WriterRejectsBadShapes) {
  const float x = 0;
  EXPECT_THROW(encode_npy(&x, std::span<const Index>()), Error);
  const Index neg[] = {2, -1};
  EXPECT_THROW(encode_npy(&x, neg), Error);
  const std::vector<Index> too_many(33, 1);
  EXPECT_THROW(encode_npy(&x, too_many), Error);
}

TEST(Npy, AcceptsHeaderVariants) {
  const std::string f4 = kF4x2;
  for (const std::string dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}",
           "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
           "{ 'fortran_order' :False,'descr':'<f4' , 'shape':( 2 , ) , }",
           "{'descr': '=f4', 'fortran_order': False, 'shape': (2L,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2), }",
       }) {
    SCOPED_TRACE(dict);
    for (int major : {1, 2, 3}) {
      for (std::size_t align : {16, 64}) {
        const NpyArray a = parse_npy(raw_npy(dict, f4, major, align), "v.npy");
        EXPECT_EQ(a.values, (std::vector<double>{1.5, -2.0}));
        EXPECT_EQ(a.dtype, NpyDtype::kF32);
      }
    }
  }
  // One-byte types with any byte-order character.
  for (const std::string descr : {"|u1", "<u1", "=u1"}) {
    const NpyArray a = parse_npy(
        raw_npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", "\x07\xff"),
        "u1.npy");
    EXPECT_EQ(a.values, (std::vector<double>{7, 255}));
  }
  const NpyArray b = parse_npy(raw_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                       std::string("\1\0\1", 3)),
                               "b.npy");
  EXPECT_EQ(b.dtype, NpyDtype::kBool);
  EXPECT_EQ(b.values, (std::vector<double>{1, 0, 1}));
  const NpyArray i1 = parse_npy(
      raw_npy("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", "\xff\x05"), "i1.npy");
  EXPECT_EQ(i1.values, (std::vector<double>{-1, 5}));
  const NpyArray u8 = parse_npy(raw_npy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
                                        bytes_of(std::vector<std::uint64_t>{~0ull})),
                                "u8.npy");
  EXPECT_EQ(u8.values[0], 18446744073709551615.0);
}

// ---------------------------------------------------------------------------------------------
// Malformed files: FormatError naming the file and the field/value.

TEST(NpyMalformed, BadMagic) {
  std::string b = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", kF4x2);
  b[1] = 'X';
  expect_format_error(b, "magic");
  expect_format_error("", "magic");
  expect_format_error("PK\x03\x04 zip file", "magic");
}

TEST(NpyMalformed, UnsupportedVersion) {
  std::string b = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", kF4x2);
  b[6] = 4;
  expect_format_error(b, "version 4.0");
  b[6] = 1;
  b[7] = 1;
  expect_format_error(b, "version 1.1");
  b[6] = 0;
  b[7] = 0;
  expect_format_error(b, "version 0.0");
}

TEST(NpyMalformed, TruncatedBeforeHeader) {
  expect_format_error(std::string("\x93NUMPY\x01\x00\x10", 9), "truncated");
  expect_format_error(std::string("\x93NUMPY\x02\x00\x10\x00\x00", 11), "truncated");
}

TEST(NpyMalformed, HeaderLengthPastEof) {
  std::string b = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", kF4x2);
  b[8] = '\xff';
  b[9] = '\xff';
  expect_format_error(b, "header length 65535 extends past the end of the file");
  std::string v2 = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", kF4x2, 2);
  v2[11] = '\x80';
  expect_format_error(v2, "header length 2147483");
}

TEST(NpyMalformed, HeaderNotADict) {
  expect_format_error(raw_npy("['descr', '<f4']", kF4x2), "not a Python dict");
  expect_format_error(raw_npy("", kF4x2), "not a Python dict");
  expect_format_error(raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", kF4x2),
                      "expected ',' or '}'");
  expect_format_error(
      raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} extra", kF4x2),
      "unexpected text after the header dict");
  expect_format_error(raw_npy("{descr: '<f4', 'fortran_order': False, 'shape': (2,)}", kF4x2),
                      "expected a quoted string");
  expect_format_error(raw_npy("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", kF4x2),
                      "expected ':' after header key 'descr'");
  expect_format_error(raw_npy("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", kF4x2),
                      "expected ',' or '}'");
  expect_format_error(raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", ""),
                      "expected ',' or '}'");
}

TEST(NpyMalformed, MissingKey) {
  expect_format_error(raw_npy("{'descr': '<f4', 'shape': (2,), }", kF4x2),
                      "missing the key 'fortran_order'");
  expect_format_error(raw_npy("{'descr': '<f4', 'fortran_order': False}", kF4x2),
                      "missing the key 'shape'");
  expect_format_error(raw_npy("{'fortran_order': False, 'shape': (2,)}", kF4x2),
                      "missing the key 'descr'");
  expect_format_error(raw_npy("{}", kF4x2), "missing the key 'descr'");
}

TEST(NpyMalformed, DuplicateAndUnknownKeys) {
  expect_format_error(
      raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}", kF4x2),
      "duplicate header key 'shape'");
  expect_format_error(
      raw_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", kF4x2),
      "duplicate header key 'descr'");
  expect_format_error(
      raw_npy("{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (2,)}",
              kF4x2),
      "duplicate header key 'fortran_order'");
  expect_format_error(
      raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", kF4x2),
      "unknown header key 'extra'");
}

TEST(NpyMalformed, FortranOrderMustBeTrueOrFalse) {
  expect_format_error(raw_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", kF4x2),
                      "'fortran_order' must be True or False");
  expect_format_error(raw_npy("{'descr': '<f4', 'fortran_order': true, 'shape': (2,), }", kF4x2),
                      "'fortran_order' must be True or False");
}

TEST(NpyMalformed, RejectedDtypes) {
  auto with_descr = [](const std::string& descr, const std::string& data) {
    return raw_npy("{'descr': " + descr + ", 'fortran_order': False, 'shape': (2,), }", data);
  };
  expect_format_error(with_descr("'|O'", std::string(16, '\0')),
                      "header field 'descr' is '|O': object arrays are not supported");
  expect_format_error(with_descr("'>f4'", kF4x2),
                      "header field 'descr' is '>f4': big-endian data is not supported");
  expect_format_error(with_descr("'>f8'", std::string(16, '\0')), "big-endian");
  expect_format_error(with_descr("[('a', '<f4')]", kF4x2),
                      "header field 'descr' is a list: structured dtypes are not supported");
  expect_format_error(with_descr("'<c8'", std::string(16, '\0')), "'<c8': unsupported dtype");
  expect_format_error(with_descr("'<U1'", kF4x2), "'<U1': unsupported dtype");
  expect_format_error(with_descr("'<f2'", std::string(4, '\0')), "'<f2': unsupported dtype");
  expect_format_error(with_descr("'|f4'", kF4x2), "'|f4': a multi-byte type needs byte order");
  expect_format_error(with_descr("'f4'", kF4x2), "'f4': unknown dtype");
  expect_format_error(with_descr("'<'", kF4x2), "unknown dtype");
  expect_format_error(with_descr("4", kF4x2), "'descr' must be a string");
  expect_format_error(with_descr("'<f4\\n'", kF4x2), "escape sequences");
}

TEST(NpyMalformed, BadShapes) {
  auto with_shape = [](const std::string& shape, const std::string& data) {
    return raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", data);
  };
  expect_format_error(with_shape("(-1,)", ""), "negative dimension -1");
  expect_format_error(with_shape("(2, -3)", ""), "negative dimension -3");
  expect_format_error(with_shape("(2.0,)", kF4x2), "must hold integers");
  expect_format_error(with_shape("(1e3,)", kF4x2), "must hold integers");
  expect_format_error(with_shape("('2',)", kF4x2), "non-negative integers");
  expect_format_error(with_shape("(2)", kF4x2), "'shape' is (2), which is not a tuple");
  expect_format_error(with_shape("2", kF4x2), "'shape' must be a tuple");
  expect_format_error(with_shape("[2]", kF4x2), "'shape' must be a tuple");
  expect_format_error(with_shape("(4294967296, 4294967296, 4294967296)", kF4x2),
                      "above the limit of 2^34");
  expect_format_error(with_shape("(1048576, 1048576)", kF4x2),
                      "(1048576, 1048576): 1099511627776 elements, above the limit of 2^34");
  expect_format_error(with_shape("(99999999999999999999999,)", kF4x2),
                      "dimension 99999999999999999999999, above the limit");
  expect_format_error(with_shape("(1, 1, 1, 1, 2)", kF4x2),
                      "'shape' is (1, 1, 1, 1, 2): 5 dims, at most 4 are supported");
  expect_format_error(with_shape("()", std::string(4, '\0')), "0-dim (scalar) arrays");
  expect_format_error(with_shape("(2,,)", kF4x2), "non-negative integers");
}

TEST(NpyMalformed, DataSizeMismatch) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  expect_format_error(raw_npy(dict, std::string(47, '\0')),
                      "data is truncated: shape (3, 4) of '<f4' needs 48 bytes after the header, "
                      "the file has 47");
  expect_format_error(raw_npy(dict, ""), "the file has 0");
  expect_format_error(raw_npy(dict, std::string(49, '\0')), "1 trailing bytes after the data");
  // Empty shape with data bytes.
  expect_format_error(
      raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", std::string(4, 'x')),
      "4 trailing bytes");
}

TEST(NpyMalformed, BoolByteOutOfRange) {
  expect_format_error(raw_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                              std::string("\1\2\0", 3)),
                      "'|b1' element [1] has byte value 2");
}

TEST(NpyMalformed, FiveDimsAreRejectedAndFourDimsKeepTheElementLimit) {
  auto with_shape = [](const std::string& shape, const std::string& data,
                       const std::string& order = "False") {
    return raw_npy("{'descr': '<f4', 'fortran_order': " + order + ", 'shape': " + shape + ", }",
                   data);
  };
  expect_format_error(with_shape("(2, 1, 1, 1, 1)", kF4x2),
                      "header field 'shape' is (2, 1, 1, 1, 1): 5 dims, at most 4 are supported");
  expect_format_error(with_shape("(1, 2, 1, 1, 1, 1)", kF4x2, "True"), "6 dims, at most 4");
  // 2^35 elements in four dims, each far below the per-dimension limit: rejected from the header
  // alone (the file holds 8 data bytes), before anything is allocated.
  expect_format_error(with_shape("(1024, 1024, 1024, 32)", kF4x2),
                      "(1024, 1024, 1024, 32): 34359738368 elements, above the limit of 2^34");
  expect_format_error(with_shape("(1024, 1024, 1024, 32)", kF4x2, "True"),
                      "34359738368 elements, above the limit of 2^34");
  expect_format_error(with_shape("(17179869184, 17179869184, 17179869184, 17179869184)", kF4x2),
                      "the element count overflows, above the limit of 2^34");
  // Just at the limit the header is fine and the data size decides.
  expect_format_error(with_shape("(1024, 1024, 1024, 16)", kF4x2),
                      "needs 68719476736 bytes after the header, the file has 8");
  // 4-D data size checks as for any rank.
  expect_format_error(with_shape("(1, 1, 2, 2)", kF4x2), "data is truncated: shape (1, 1, 2, 2)");
}

// ---------------------------------------------------------------------------------------------
// 4-D arrays ([B, H, N, d], what PyTorch code produces)

TEST(Npy4d, RoundTripAndHeaderOfFourDims) {
  check_round_trip<float>({2, 3, 4, 5}, NpyDtype::kF32);
  check_round_trip<double>({1, 2, 1, 3}, NpyDtype::kF64);
  check_round_trip<std::int64_t>({2, 1, 2, 2}, NpyDtype::kI64);
  const std::vector<double> v = iota_values(24, 0.5, -1);
  const Index shape[] = {2, 3, 2, 2};
  const NpyHeader h = parse_npy_header(encode_npy(v.data(), shape), "4d.npy");
  EXPECT_EQ(h.shape, (std::vector<Index>{2, 3, 2, 2}));
  EXPECT_EQ(h.count, 24);
  EXPECT_FALSE(h.fortran_order);
  // Zero-sized dims anywhere.
  for (const auto& s : {std::vector<Index>{0, 3, 4, 5}, std::vector<Index>{2, 3, 0, 5}}) {
    const NpyArray a = parse_npy(encode_npy(static_cast<const float*>(nullptr), s), "e.npy");
    EXPECT_EQ(a.shape, s);
    EXPECT_TRUE(a.values.empty());
  }
}

TEST(Npy4d, LoadHeadsFlattensBatchAndHeads) {
  TempDir dir;
  const std::vector<double> v = iota_values(2 * 3 * 4 * 5, 0.25, -7);
  const std::vector<Index> shape = {2, 3, 4, 5};
  save_npy(dir / "q4.npy", v.data(), shape);
  const NpyHeads h = load_npy_heads(dir / "q4.npy", "q");
  EXPECT_EQ(h.shape, shape);
  EXPECT_EQ(h.batch(), 2);
  EXPECT_EQ(h.heads(), 3);
  EXPECT_EQ(h.dtype, NpyDtype::kF64);
  ASSERT_EQ(h.values.dim0(), 6);
  ASSERT_EQ(h.values.dim1(), 4);
  ASSERT_EQ(h.values.dim2(), 5);
  for (Index b = 0; b < 2; ++b)
    for (Index hh = 0; hh < 3; ++hh)
      for (Index i = 0; i < 4; ++i)
        for (Index c = 0; c < 5; ++c)
          ASSERT_EQ(h.values(b * 3 + hh, i, c),
                    v[static_cast<std::size_t>(((b * 3 + hh) * 4 + i) * 5 + c)]);

  // 3-D and 2-D files give B = 1 (and H = 1), with the same values load_npy_tensor3 gives.
  const Tensor3d t = testing::random_tensor(3, 4, 2, 5);
  save_npy(dir / "t.npy", t.cast<float>());
  const NpyHeads h3 = load_npy_heads(dir / "t.npy", "k");
  EXPECT_EQ(h3.batch(), 1);
  EXPECT_EQ(h3.heads(), 3);
  EXPECT_EQ(h3.dtype, NpyDtype::kF32);
  EXPECT_EQ(testing::max_abs_diff(h3.values, load_npy_tensor3(dir / "t.npy", "k")), 0.0);
  MatrixD m = MatrixD::Constant(4, 2, 1.5);
  save_npy(dir / "m.npy", m);
  const NpyHeads h2 = load_npy_heads(dir / "m.npy", "v");
  EXPECT_EQ(h2.batch(), 1);
  EXPECT_EQ(h2.heads(), 1);
  EXPECT_EQ(h2.shape, (std::vector<Index>{4, 2}));
  EXPECT_EQ(h2.values(0, 3, 1), 1.5);
}

TEST(Npy4d, LoadersCheckRankDtypeAndValuesOfFourDims) {
  TempDir dir;
  std::vector<double> v(2 * 2 * 3 * 2, 0.5);
  v[1 * 12 + 0 * 6 + 2 * 2 + 1] = std::numeric_limits<double>::infinity();  // [1, 0, 2, 1]
  const std::vector<Index> shape = {2, 2, 3, 2};
  save_npy(dir / "inf4.npy", v.data(), shape);
  const std::string inf_msg =
      testing::thrown_message<InputError>([&] { load_npy_heads(dir / "inf4.npy", "q"); });
  EXPECT_NE(inf_msg.find("q '"), std::string::npos) << inf_msg;
  EXPECT_NE(inf_msg.find("value at [1, 0, 2, 1] is Inf"), std::string::npos) << inf_msg;

  // load_npy_tensor3 stays [N, d] / [H, N, d] and says what it got.
  std::fill(v.begin(), v.end(), 0.5);
  save_npy(dir / "ok4.npy", v.data(), shape);
  const std::string t3_msg =
      testing::thrown_message<InputError>([&] { load_npy_tensor3(dir / "ok4.npy", "q"); });
  EXPECT_NE(t3_msg.find("expected [N, d] or [H, N, d], got shape (2, 2, 3, 2)"), std::string::npos)
      << t3_msg;
  EXPECT_THROW(load_npy_matrix(dir / "ok4.npy", "x"), InputError);
  EXPECT_THROW(load_npy_labels(dir / "ok4.npy"), InputError);

  std::vector<float> flat(4, 1.0f);
  const Index s4[] = {4};
  save_npy(dir / "flat.npy", flat.data(), s4);
  const std::string rank_msg =
      testing::thrown_message<InputError>([&] { load_npy_heads(dir / "flat.npy", "k"); });
  EXPECT_NE(rank_msg.find("expected [N, d], [H, N, d] or [B, H, N, d], got shape (4,)"),
            std::string::npos)
      << rank_msg;
  std::vector<std::int32_t> ints(12, 1);
  save_npy(dir / "i4.npy", ints.data(), std::vector<Index>{1, 2, 3, 2});
  const std::string dtype_msg =
      testing::thrown_message<InputError>([&] { load_npy_heads(dir / "i4.npy", "v"); });
  EXPECT_NE(dtype_msg.find("dtype '<i4' is not supported"), std::string::npos) << dtype_msg;
  // An empty 4-D array with an enormous B·H is refused rather than counted past 2^34 heads.
  write_file_atomic(dir / "wide.npy",
                    raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (17179869184, "
                            "17179869184, 0, 4), }",
                            ""));
  const std::string wide_msg =
      testing::thrown_message<InputError>([&] { load_npy_heads(dir / "wide.npy", "q"); });
  EXPECT_NE(wide_msg.find("more than 2^34 heads"), std::string::npos) << wide_msg;
}

// ---------------------------------------------------------------------------------------------
// Fortran order: converted to C order on read, by every reader

TEST(NpyFortran, FortranFilesReadAsTheirCOrderTwin) {
  for (const auto& shape :
       {std::vector<Index>{3, 4}, std::vector<Index>{2, 3, 4}, std::vector<Index>{2, 3, 4, 5},
        std::vector<Index>{1, 5}, std::vector<Index>{4, 1, 3}, std::vector<Index>{3, 1, 1, 2}}) {
    SCOPED_TRACE(shape_tuple(shape));
    std::size_t count = 1;
    for (const Index d : shape) count *= static_cast<std::size_t>(d);
    const std::vector<double> c_values = iota_values(count, 0.5, -3);
    const NpyArray c_read = parse_npy(encode_npy(c_values.data(), shape), "c.npy");
    const std::string f_bytes = fortran_npy("<f8", c_values, shape);
    const NpyHeader h = parse_npy_header(f_bytes, "f.npy");
    EXPECT_TRUE(h.fortran_order);
    const NpyArray f_read = parse_npy(f_bytes, "f.npy");
    EXPECT_EQ(f_read.shape, shape);
    EXPECT_EQ(f_read.values, c_read.values);
    // Other dtypes go through the same reordering.
    std::vector<float> c_f4(c_values.begin(), c_values.end());
    EXPECT_EQ(parse_npy(fortran_npy("<f4", c_f4, shape), "f4.npy").values, c_read.values);
    std::vector<std::int16_t> c_i2(count);
    for (std::size_t i = 0; i < count; ++i) c_i2[i] = static_cast<std::int16_t>(3 * i) - 40;
    const NpyArray i2 = parse_npy(fortran_npy("<i2", c_i2, shape), "i2.npy");
    for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(i2.values[i], c_i2[i]) << i;
  }
}

TEST(NpyFortran, FortranReadEqualsTheCOrderReadOfTheTransposedData) {
  // The same data bytes mean the transposed array when the header says C order and the reversed
  // shape: a Fortran [A, R, C] file read at [a, r, c] equals the C [C, R, A] file at [c, r, a].
  const std::vector<double> data = iota_values(2 * 3 * 4, 1.0, 0);
  const std::string bytes = bytes_of(data);
  const NpyArray f = parse_npy(
      raw_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }", bytes), "f.npy");
  const NpyArray t = parse_npy(
      raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3, 2), }", bytes), "t.npy");
  for (Index a = 0; a < 2; ++a)
    for (Index r = 0; r < 3; ++r)
      for (Index c = 0; c < 4; ++c)
        ASSERT_EQ(f.values[static_cast<std::size_t>((a * 3 + r) * 4 + c)],
                  t.values[static_cast<std::size_t>((c * 3 + r) * 2 + a)]);
  // 2-D: a Fortran (2, 3) of bytes 0..5 is [[0, 2, 4], [1, 3, 5]].
  const NpyArray f2 =
      parse_npy(raw_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                        bytes_of(iota_values(6, 1.0, 0))),
                "f2.npy");
  EXPECT_EQ(f2.values, (std::vector<double>{0, 2, 4, 1, 3, 5}));
  // 4-D: Fortran [2, 2, 2, 3] against C [3, 2, 2, 2].
  const std::vector<double> d4 = iota_values(24, 1.0, 0);
  const NpyArray f4 = parse_npy(
      raw_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2, 2, 3), }", bytes_of(d4)),
      "f4.npy");
  const NpyArray t4 = parse_npy(
      raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2, 2, 2), }", bytes_of(d4)),
      "t4.npy");
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 2; ++j)
      for (Index k = 0; k < 2; ++k)
        for (Index l = 0; l < 3; ++l)
          ASSERT_EQ(f4.values[static_cast<std::size_t>(((i * 2 + j) * 2 + k) * 3 + l)],
                    t4.values[static_cast<std::size_t>(((l * 2 + k) * 2 + j) * 2 + i)]);
}

TEST(NpyFortran, EveryLoaderReordersFortranData) {
  TempDir dir;
  // Tensor3 and heads: 2-D, 3-D and 4-D.
  const Tensor3d t = testing::random_tensor(2, 3, 4, 21);
  const std::vector<double> tv(t.data(), t.data() + t.size());
  write_file_atomic(dir / "t3.npy", fortran_npy("<f8", tv, {2, 3, 4}));
  EXPECT_EQ(testing::max_abs_diff(load_npy_tensor3(dir / "t3.npy", "q"), t), 0.0);
  EXPECT_EQ(testing::max_abs_diff(load_npy_heads(dir / "t3.npy", "q").values, t), 0.0);
  write_file_atomic(dir / "t4.npy", fortran_npy("<f8", tv, {2, 1, 3, 4}));
  const NpyHeads h4 = load_npy_heads(dir / "t4.npy", "q");
  EXPECT_EQ(h4.batch(), 2);
  EXPECT_EQ(h4.heads(), 1);
  EXPECT_EQ(testing::max_abs_diff(h4.values, t), 0.0);
  // Matrix.
  MatrixD m(3, 5);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<double>(i) * 0.125 - 1;
  const std::vector<double> mv(m.data(), m.data() + m.size());
  write_file_atomic(dir / "m.npy", fortran_npy("<f8", mv, {3, 5}));
  EXPECT_EQ(load_npy_matrix(dir / "m.npy", "x"), m);
  const Tensor3d mt = load_npy_tensor3(dir / "m.npy", "k");
  EXPECT_EQ(mt.dim0(), 1);
  EXPECT_EQ(mt(0, 2, 4), m(2, 4));
  // Labels and masks are 1-D, where both orders are the same bytes.
  write_file_atomic(dir / "y.npy", fortran_npy("<i8", std::vector<std::int64_t>{4, -1, 7}, {3}));
  EXPECT_EQ(load_npy_labels(dir / "y.npy"), (std::vector<std::int64_t>{4, -1, 7}));
  write_file_atomic(dir / "mask.npy", fortran_npy("|u1", std::vector<std::uint8_t>{1, 0, 1}, {3}));
  EXPECT_EQ(load_npy_mask(dir / "mask.npy"), (std::vector<std::uint8_t>{1, 0, 1}));
  // A bad value is named by its C-order index, whatever its place in the file.
  std::vector<double> bad = tv;
  bad[(1 * 3 + 0) * 4 + 2] = std::nan("");  // [1, 0, 2]
  write_file_atomic(dir / "nan.npy", fortran_npy("<f8", bad, {2, 3, 4}));
  const std::string nan_msg =
      testing::thrown_message<InputError>([&] { load_npy_tensor3(dir / "nan.npy", "q"); });
  EXPECT_NE(nan_msg.find("value at [1, 0, 2] is NaN"), std::string::npos) << nan_msg;
  std::vector<std::uint8_t> bools(6, 1);
  bools[0 * 3 + 2] = 5;  // [0, 2]
  expect_format_error(fortran_npy("|b1", bools, {2, 3}), "'|b1' element [0, 2] has byte value 5");
  // Empty Fortran arrays, with the zero dim first or last.
  for (const auto& s : {std::vector<Index>{0, 3}, std::vector<Index>{3, 0},
                        std::vector<Index>{0, 17179869184, 17179869184}}) {
    const NpyArray e = parse_npy(
        raw_npy("{'descr': '<f4', 'fortran_order': True, 'shape': " + shape_tuple(s) + ", }", ""),
        "e.npy");
    EXPECT_EQ(e.shape, s);
    EXPECT_TRUE(e.values.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// Typed loaders

TEST(NpyLoaders, Tensor3AcceptsMatrixAndTensor) {
  TempDir dir;
  const Tensor3d t = testing::random_tensor(2, 3, 4, 11);
  save_npy(dir / "t.npy", t);
  const Tensor3d back = load_npy_tensor3(dir / "t.npy", "q");
  EXPECT_TRUE(back.same_shape(t));
  EXPECT_EQ(testing::max_abs_diff(back, t), 0.0);

  MatrixF m(3, 5);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(i) * 0.25f;
  save_npy(dir / "m.npy", m);
  const Tensor3d mt = load_npy_tensor3(dir / "m.npy", "k");
  EXPECT_EQ(mt.dim0(), 1);
  EXPECT_EQ(mt.dim1(), 3);
  EXPECT_EQ(mt.dim2(), 5);
  EXPECT_EQ(mt(0, 2, 4), 14 * 0.25);

  const Tensor3f tf = t.cast<float>();
  save_npy(dir / "tf.npy", tf);
  EXPECT_LT(testing::max_abs_diff(load_npy_tensor3(dir / "tf.npy", "v"), t), 1e-6);
}

TEST(NpyLoaders, Tensor3RejectsNonFiniteWrongDtypeAndRank) {
  TempDir dir;
  Tensor3d t(2, 2, 3);
  t(1, 0, 2) = std::nan("");
  save_npy(dir / "nan.npy", t);
  try {
    load_npy_tensor3(dir / "nan.npy", "q");
    ADD_FAILURE() << "NaN accepted";
  } catch (const FormatError& e) {
    ADD_FAILURE() << "NaN is a value error, not a format error: " << e.what();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("nan.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("q "), std::string::npos) << msg;
    EXPECT_NE(msg.find("[1, 0, 2] is NaN"), std::string::npos) << msg;
  }
  MatrixF m = MatrixF::Zero(2, 2);
  m(1, 1) = std::numeric_limits<float>::infinity();
  save_npy(dir / "inf.npy", m);
  try {
    load_npy_tensor3(dir / "inf.npy", "k");
    ADD_FAILURE() << "Inf accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 1] is Inf"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_npy_matrix(dir / "inf.npy", "x"), InputError);

  std::vector<std::int64_t> ints(6, 1);
  const Index s23[] = {2, 3};
  save_npy(dir / "int.npy", ints.data(), s23);
  try {
    load_npy_tensor3(dir / "int.npy", "q");
    ADD_FAILURE() << "int64 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dtype '<i8' is not supported"), std::string::npos);
  }
  std::vector<float> flat(4, 1.0f);
  const Index s4[] = {4};
  save_npy(dir / "flat.npy", flat.data(), s4);
  try {
    load_npy_tensor3(dir / "flat.npy", "q");
    ADD_FAILURE() << "1-D accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expected [N, d] or [H, N, d], got shape (4,)"),
              std::string::npos)
        << e.what();
  }
}

TEST(NpyLoaders, MatrixNeedsTwoDims) {
  TempDir dir;
  save_npy(dir / "t.npy", Tensor3d(1, 2, 2));
  EXPECT_THROW(load_npy_matrix(dir / "t.npy", "x"), InputError);
  MatrixD m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  save_npy(dir / "m.npy", m);
  EXPECT_EQ(load_npy_matrix(dir / "m.npy", "x"), m);
}

TEST(NpyLoaders, MissingFileIsInputErrorNamingPath) {
  TempDir dir;
  for (auto f : {+[](const std::filesystem::path& p) { load_npy(p); },
                 +[](const std::filesystem::path& p) { load_npy_tensor3(p, "q"); },
                 +[](const std::filesystem::path& p) { load_npy_labels(p); }}) {
    try {
      f(dir / "absent.npy");
      ADD_FAILURE() << "missing file accepted";
    } catch (const FormatError& e) {
      ADD_FAILURE() << "a missing file is not a format error: " << e.what();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("absent.npy"), std::string::npos) << e.what();
    }
  }
}

TEST(NpyLoaders, LoadNpyNamesPathInFormatErrors) {
  TempDir dir;
  write_file_atomic(dir / "broken.npy", "not numpy at all");
  try {
    load_npy(dir / "broken.npy");
    ADD_FAILURE();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "broken.npy").string()), std::string::npos);
  }
}

TEST(NpyLoaders, Labels) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& descr, const std::string& shape,
                   const std::string& data) {
    write_file_atomic(
        dir / name,
        raw_npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }",
                data));
    return dir / name;
  };
  EXPECT_EQ(load_npy_labels(write("u1.npy", "|u1", "(3,)", std::string("\x00\x09\x02", 3))),
            (std::vector<std::int64_t>{0, 9, 2}));
  EXPECT_EQ(load_npy_labels(
                write("i4.npy", "<i4", "(2,)", bytes_of(std::vector<std::int32_t>{-4, 70000}))),
            (std::vector<std::int64_t>{-4, 70000}));
  EXPECT_EQ(load_npy_labels(write("f8.npy", "<f8", "(2,)", bytes_of(std::vector<double>{3, 1}))),
            (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(load_npy_labels(write("b1.npy", "|b1", "(2,)", std::string("\1\0", 2))),
            (std::vector<std::int64_t>{1, 0}));
  try {
    load_npy_labels(write("frac.npy", "<f4", "(3,)", bytes_of(std::vector<float>{1, 2.5f, 3})));
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("entry at [1] is 2.5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_npy_labels(write("nan.npy", "<f8", "(1,)", bytes_of(std::vector<double>{NAN}))),
               InputError);
  EXPECT_THROW(
      load_npy_labels(write("big.npy", "<u8", "(1,)", bytes_of(std::vector<std::uint64_t>{~0ull}))),
      InputError);
  EXPECT_THROW(load_npy_labels(write("2d.npy", "|u1", "(1, 2)", "\x01\x02")), InputError);
}

TEST(NpyLoaders, Mask) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& descr, const std::string& data) {
    write_file_atomic(
        dir / name,
        raw_npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (3,), }", data));
    return dir / name;
  };
  EXPECT_EQ(load_npy_mask(write("b.npy", "|b1", std::string("\1\0\1", 3))),
            (std::vector<std::uint8_t>{1, 0, 1}));
  EXPECT_EQ(load_npy_mask(write("i8.npy", "<i8", bytes_of(std::vector<std::int64_t>{0, 0, 1}))),
            (std::vector<std::uint8_t>{0, 0, 1}));
  try {
    load_npy_mask(write("two.npy", "|u1", std::string("\1\2\0", 3)));
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("value at [1] is 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_npy_mask(write("f.npy", "<f4", bytes_of(std::vector<float>{0, 1, 1}))),
               InputError);
}

TEST(NpyLoaders, SaveIsAtomicAndOverwrites) {
  TempDir dir;
  MatrixD a = MatrixD::Constant(2, 2, 1.0), b = MatrixD::Constant(3, 1, 2.0);
  save_npy(dir / "x.npy", a);
  save_npy(dir / "x.npy", b);
  EXPECT_EQ(load_npy_matrix(dir / "x.npy", "x"), b);
  EXPECT_THROW(save_npy(dir / "no-such-dir" / "x.npy", a), InputError);
  EXPECT_FALSE(std::filesystem::exists(dir / "no-such-dir"));
}

// ---------------------------------------------------------------------------------------------
// Seeded mutation test: every parse either succeeds or throws FormatError/InputError.

TEST(NpyFuzz, SeededMutationsNeverCrash) {
  std::vector<std::string> seeds;
  {
    std::vector<float> f(12);
    for (int i = 0; i < 12; ++i) f[i] = static_cast<float>(i) - 3.5f;
    const Index s[] = {3, 4};
    seeds.push_back(encode_npy(f.data(), s));
    std::vector<std::int64_t> y = {1, 2, 3, 4, 5};
    const Index s1[] = {5};
    seeds.push_back(encode_npy(y.data(), s1));
    seeds.push_back(raw_npy("{\"shape\": (1, 2, 1), \"descr\": \"|b1\", \"fortran_order\": False}",
                            std::string("\1\0", 2), 3, 16));
    seeds.push_back(raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1), }",
                            std::string(16, '\x3f'), 2));
    seeds.push_back(fortran_npy("<f4", f, {1, 2, 3, 2}));  // 4-D, Fortran order
  }
  // Bytes worth planting: digits, quotes, brackets, huge numbers.
  const std::string alphabet("0123456789-,()[]{}:'\" TrueFalsL\n\xff\x00<>|=fiub", 42);
  Rng rng(20240601);
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = seeds[rng.uniform_int(seeds.size())];
    const int n_mut = 1 + static_cast<int>(rng.uniform_int(3));
    for (int m = 0; m < n_mut && !b.empty(); ++m) {
      // Header bytes (first 128) are mutated more often than data bytes.
      const std::size_t limit =
          rng.uniform() < 0.6 ? std::min<std::size_t>(b.size(), 128) : b.size();
      const std::size_t pos = rng.uniform_int(limit);
      switch (rng.uniform_int(6)) {
        case 0:
          b[pos] = static_cast<char>(rng.uniform_int(256));
          break;
        case 1:
          b[pos] = alphabet[rng.uniform_int(alphabet.size())];
          break;
        case 2:
          b.resize(pos);
          break;
        case 3:
          b.insert(b.begin() + pos, alphabet[rng.uniform_int(alphabet.size())]);
          break;
        case 4:
          b.erase(b.begin() + pos);
          break;
        case 5:
          b[pos] ^= static_cast<char>(1u << rng.uniform_int(8));
          break;
      }
    }
    try {
      const NpyArray a = parse_npy(b, "fuzz.npy");
      Index count = 1;
      for (Index d : a.shape) count *= d;
      ASSERT_EQ(static_cast<Index>(a.values.size()), count);
      ++accepted;
    } catch (const InputError&) {  // FormatError is an InputError
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iter << ": unexpected exception " << e.what();
    }
  }
  EXPECT_GT(accepted, 15);  // some mutations keep the file valid
  EXPECT_GT(rejected, 2000);
}

// ---------------------------------------------------------------------------------------------
// Cross-check with numpy (skipped when /usr/bin/python3 or numpy is missing).

bool have_numpy() {
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// Runs a python script; returns its exit status and combined output.
int run_python(const std::filesystem::path& script, std::string* output) {
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  return ::pclose(p);
}

TEST(NpyNumpy, NumpyReadsOursAndWeReadNumpys) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  TempDir dir;
  // Ours: value[i] = 0.25 * i - 3 (floats), 3 * i - 5 (ints).
  const std::vector<double> fv = iota_values(60, 0.25, -3);
  std::vector<float> f32(fv.begin(), fv.end());
  std::vector<std::int64_t> i64(7);
  for (int i = 0; i < 7; ++i) i64[i] = 3 * i - 5;
  const Index s345[] = {3, 4, 5}, s6x10[] = {6, 10}, s7[] = {7}, s04[] = {0, 4};
  save_npy(dir / "ours_f4.npy", f32.data(), s345);
  save_npy(dir / "ours_f8.npy", fv.data(), s6x10);
  save_npy(dir / "ours_i8.npy", i64.data(), s7);
  save_npy(dir / "ours_empty.npy", fv.data(), s04);

  const std::string script = R"PY(
import sys, numpy as np
import os
d = os.path.dirname(os.path.abspath(__file__))
def check(name, dtype, shape, expect):
    a = np.load(os.path.join(d, name), allow_pickle=False)
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert a.shape == shape, (name, a.shape)
    assert not np.isfortran(a) or a.ndim < 2
    assert np.array_equal(a.ravel(), expect), (name, a.ravel()[:5])
f = np.arange(60) * 0.25 - 3
check('ours_f4.npy', '<f4', (3, 4, 5), f.astype(np.float32))
check('ours_f8.npy', '<f8', (6, 10), f)
check('ours_i8.npy', '<i8', (7,), np.arange(7) * 3 - 5)
check('ours_empty.npy', '<f8', (0, 4), np.zeros(0))
# Theirs: the same formulas in every dtype we accept, plus versions 2.0 and 3.0.
def save(name, arr, version=None):
    with open(os.path.join(d, name), 'wb') as fh:
        np.lib.format.write_array(fh, arr, version=version, allow_pickle=True)
g = np.arange(24) * 0.25 - 3
save('np_f4.npy', g.astype('<f4').reshape(2, 3, 4))
save('np_f8.npy', g.reshape(4, 6))
save('np_f8_v2.npy', g.reshape(4, 6), (2, 0))
save('np_f8_v3.npy', g.reshape(4, 6), (3, 0))
ints = np.arange(24) * 3 - 5
for t in ['<i2', '<i4', '<i8', '|i1']:
    save('np_%s.npy' % t[1:], ints.astype(t).reshape(24))
uints = np.arange(24) * 7
for t in ['<u2', '<u4', '<u8', '|u1']:
    save('np_%s.npy' % t[1:], uints.astype(t).reshape(3, 8))
save('np_b1.npy', (np.arange(10) % 3 == 0))
save('np_empty.npy', np.zeros((0, 5), dtype='<f4'))
# Fortran order (reordered to C order on read) and 4-D.
save('np_fortran.npy', np.asfortranarray(g.reshape(4, 6)))
save('np_fortran3.npy', np.asfortranarray(g.astype('<f4').reshape(2, 3, 4)))
save('np_fortran4.npy', np.asfortranarray(g.reshape(1, 2, 3, 4)))
save('np_4d.npy', g.reshape(2, 1, 3, 4))
# Rejected by us.
save('np_big.npy', g.astype('>f4'))
save('np_obj.npy', np.array([1, 'a', None], dtype=object))
save('np_struct.npy', np.zeros(3, dtype=[('a', '<f4'), ('b', '<i4')]))
save('np_scalar.npy', np.array(1.5))
save('np_5d.npy', np.zeros((1, 2, 1, 2, 1)))
save('np_c8.npy', np.zeros(3, dtype=np.complex64))
print('ok')
)PY";
  write_file_atomic(dir / "check.py", script);
  std::string output;
  const int rc = run_python(dir / "check.py", &output);
  ASSERT_EQ(rc, 0) << output;

  const std::vector<double> g = iota_values(24, 0.25, -3);
  auto expect_array = [&](const std::string& name, NpyDtype dtype, std::vector<Index> shape,
                          const std::vector<double>& values) {
    SCOPED_TRACE(name);
    const NpyArray a = load_npy(dir / name);
    EXPECT_EQ(a.dtype, dtype);
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.values, values);
  };
  expect_array("np_f4.npy", NpyDtype::kF32, {2, 3, 4}, g);
  expect_array("np_f8.npy", NpyDtype::kF64, {4, 6}, g);
  expect_array("np_f8_v2.npy", NpyDtype::kF64, {4, 6}, g);
  expect_array("np_f8_v3.npy", NpyDtype::kF64, {4, 6}, g);
  const std::vector<double> ints = iota_values(24, 3, -5);
  expect_array("np_i2.npy", NpyDtype::kI16, {24}, ints);
  expect_array("np_i4.npy", NpyDtype::kI32, {24}, ints);
  expect_array("np_i8.npy", NpyDtype::kI64, {24}, ints);
  expect_array("np_i1.npy", NpyDtype::kI8, {24}, ints);
  const std::vector<double> uints = iota_values(24, 7, 0);
  expect_array("np_u2.npy", NpyDtype::kU16, {3, 8}, uints);
  expect_array("np_u4.npy", NpyDtype::kU32, {3, 8}, uints);
  expect_array("np_u8.npy", NpyDtype::kU64, {3, 8}, uints);
  expect_array("np_u1.npy", NpyDtype::kU8, {3, 8}, uints);
  expect_array("np_b1.npy", NpyDtype::kBool, {10}, {1, 0, 0, 1, 0, 0, 1, 0, 0, 1});
  expect_array("np_empty.npy", NpyDtype::kF32, {0, 5}, {});
  expect_array("np_fortran.npy", NpyDtype::kF64, {4, 6}, g);
  expect_array("np_fortran3.npy", NpyDtype::kF32, {2, 3, 4}, g);
  expect_array("np_fortran4.npy", NpyDtype::kF64, {1, 2, 3, 4}, g);
  expect_array("np_4d.npy", NpyDtype::kF64, {2, 1, 3, 4}, g);
  EXPECT_TRUE(parse_npy_header(read_file(dir / "np_fortran.npy"), "f").fortran_order);
  EXPECT_EQ(load_npy_mask(dir / "np_b1.npy"),
            (std::vector<std::uint8_t>{1, 0, 0, 1, 0, 0, 1, 0, 0, 1}));

  auto expect_rejected = [&](const std::string& name, const std::string& needle) {
    try {
      load_npy(dir / name);
      ADD_FAILURE() << name << " accepted";
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  expect_rejected("np_big.npy", "big-endian");
  expect_rejected("np_obj.npy", "object arrays");
  expect_rejected("np_struct.npy", "structured dtypes");
  expect_rejected("np_scalar.npy", "0-dim");
  expect_rejected("np_5d.npy", "5 dims, at most 4");
  expect_rejected("np_c8.npy", "unsupported dtype");
}

}  // namespace
}  // namespace attnlab::io
