// Tests for attnlab/io/idx: gzip and plain round trips, every rejection path with its message,
// protection against lying headers and gzip bombs, and a seeded mutation test.
#include "attnlab/io/idx.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::io {
namespace {

using testing::TempDir;

// Plain IDX bytes: magic, type, ndim, big-endian dims, data.
std::string idx_bytes(unsigned type, const std::vector<std::uint32_t>& dims,
                      const std::string& data) {
  std::string out;
  out += '\0';
  out += '\0';
  out += static_cast<char>(type);
  out += static_cast<char>(dims.size());
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  }
  return out + data;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 37 + 11) & 0xff);
  return s;
}

// In-memory gzip (one member) of `plain`, or `repeat` copies of it streamed through deflate.
std::string gzip_bytes(std::string_view plain, int repeat = 1) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out;
  char buf[1 << 16];
  for (int r = 0; r < repeat; ++r) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    zs.avail_in = static_cast<uInt>(plain.size());
    const int flush = r + 1 == repeat ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      rc = deflate(&zs, flush);
      out.append(buf, sizeof buf - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }
  deflateEnd(&zs);
  return out;
}

// Writes `plain` gzip-compressed with gzopen/gzwrite, as gzip(1) would.
void write_gz(const std::filesystem::path& path, const std::string& plain) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, plain.data(), static_cast<unsigned>(plain.size())),
            static_cast<int>(plain.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void expect_format_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_idx(bytes, "bad.idx");
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.idx: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nneedle: " << needle;
  }
}

// Both the plain and the gzip form must fail the same way.
void expect_format_error_both(const std::string& plain, const std::string& needle) {
  SCOPED_TRACE(needle);
  expect_format_error(plain, needle);
  expect_format_error(gzip_bytes(plain), needle);
}

TEST(Idx, GzipFileRoundTrip) {
  TempDir dir;
  const std::string data = pattern(5 * 4 * 3);
  write_gz(dir / "img.gz", idx_bytes(0x08, {5, 4, 3}, data));
  const IdxArray a = load_idx(dir / "img.gz");
  EXPECT_EQ(a.dims, (std::vector<Index>{5, 4, 3}));
  ASSERT_EQ(a.data.size(), data.size());
  EXPECT_EQ(std::memcmp(a.data.data(), data.data(), data.size()), 0);

  write_gz(dir / "lab.gz", idx_bytes(0x08, {7}, "\x01\x02\x03\x04\x05\x06\x07"));
  const IdxArray l = load_idx(dir / "lab.gz");
  EXPECT_EQ(l.dims, (std::vector<Index>{7}));
  EXPECT_EQ(l.data, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7}));
}

TEST(Idx, PlainFileRoundTrip) {
  TempDir dir;
  const std::string data = pattern(6 * 9);
  write_file_atomic(dir / "plain.idx", idx_bytes(0x08, {6, 9}, data));
  const IdxArray a = load_idx(dir / "plain.idx");
  EXPECT_EQ(a.dims, (std::vector<Index>{6, 9}));
  EXPECT_EQ(std::string(a.data.begin(), a.data.end()), data);
}

TEST(Idx, LargerThanOneInflateChunk) {
  // 3 MiB of data: crosses the reader's 1 MiB chunk and buffer growth.
  const std::string data = pattern(3 << 20);
  const IdxArray a = parse_idx(gzip_bytes(idx_bytes(0x08, {3, 1024, 1024}, data)), "big.gz");
  EXPECT_EQ(a.dims, (std::vector<Index>{3, 1024, 1024}));
  EXPECT_EQ(std::string(a.data.begin(), a.data.end()), data);
}

TEST(Idx, ConcatenatedGzipMembersAreOneStream) {
  const std::string plain = idx_bytes(0x08, {2, 5}, pattern(10));
  const std::string two = gzip_bytes(plain.substr(0, 7)) + gzip_bytes(plain.substr(7));
  const IdxArray a = parse_idx(two, "two.gz");
  EXPECT_EQ(a.dims, (std::vector<Index>{2, 5}));
  EXPECT_EQ(std::string(a.data.begin(), a.data.end()), pattern(10));
}

TEST(Idx, MissingFileIsInputError) {
  TempDir dir;
  try {
    load_idx(dir / "absent.gz");
    ADD_FAILURE();
  } catch (const FormatError& e) {
    ADD_FAILURE() << "a missing file is not a format error: " << e.what();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.gz"), std::string::npos) << e.what();
  }
}

TEST(IdxMalformed, BadMagic) {
  std::string b = idx_bytes(0x08, {3}, "abc");
  b[0] = 1;
  expect_format_error_both(b, "magic bytes are 0x01 0x00, expected 0x00 0x00");
  b[0] = 0;
  b[1] = '\x7f';
  expect_format_error_both(b, "magic bytes are 0x00 0x7F");
}

TEST(IdxMalformed, UnsupportedTypesAreNamed) {
  expect_format_error_both(idx_bytes(0x09, {3}, "abc"), "element type 0x09 (signed byte)");
  expect_format_error_both(idx_bytes(0x0B, {3}, "abcdef"), "element type 0x0B (int16)");
  expect_format_error_both(idx_bytes(0x0C, {1}, "abcd"), "element type 0x0C (int32)");
  expect_format_error_both(idx_bytes(0x0D, {1}, "abcd"), "element type 0x0D (float32)");
  expect_format_error_both(idx_bytes(0x0E, {1}, "abcdefgh"), "element type 0x0E (float64)");
  expect_format_error_both(idx_bytes(0x07, {3}, "abc"), "unknown IDX element type byte 0x07");
}

TEST(IdxMalformed, BadNdimAndDims) {
  expect_format_error_both(idx_bytes(0x08, {}, ""), "ndim is 0; 1 to 3 dims are supported");
  expect_format_error_both(idx_bytes(0x08, {1, 1, 1, 1}, "a"), "ndim is 4");
  expect_format_error_both(idx_bytes(0x08, {3, 0, 2}, ""), "dimension 1 of (3, 0, 2) is 0");
}

TEST(IdxMalformed, TruncatedHeader) {
  expect_format_error_both(std::string("\0\0", 2), "file is truncated: 2 bytes");
  expect_format_error(std::string(), "file is truncated: 0 bytes");
  const std::string b = idx_bytes(0x08, {60000, 28, 28}, "");
  expect_format_error_both(b.substr(0, 10), "3 dims need 12 bytes, found 6");
}

TEST(IdxMalformed, TruncatedAndTrailingData) {
  const std::string full = idx_bytes(0x08, {4, 5}, pattern(20));
  expect_format_error_both(full.substr(0, full.size() - 1),
                           "data is truncated: dims (4, 5) need 20 bytes after the 12-byte "
                           "header, found 19");
  expect_format_error_both(full + "x", "trailing bytes after the 20 data bytes");
  expect_format_error(full + "xyz", "3 trailing bytes");
}

TEST(IdxMalformed, HugeDimsFailBeforeAllocating) {
  // 0xFFFFFFFF^3 elements would need ~8e28 bytes; 65536 x 65536 x 2 = 8 GiB is above the limit.
  // Each must fail on the header alone (the test would run out of memory otherwise).
  expect_format_error_both(idx_bytes(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, "abc"),
                           "need more than 2^64 bytes of data");
  expect_format_error_both(idx_bytes(0x08, {65536, 65536, 2}, "abc"),
                           "dims (65536, 65536, 2) need 8589934592 bytes");
  // 2^31 bytes is within the limit but the file holds 3: plain is rejected before allocating
  // (file size known), gzip after inflating the 3 bytes there are.
  expect_format_error_both(idx_bytes(0x08, {32768, 65536}, "abc"),
                           "need 2147483648 bytes after the 12-byte header, found 3");
}

TEST(IdxMalformed, GzipBombStopsAtExpectedSize) {
  // Header says 16 bytes, the stream inflates to 64 MiB of zeros (~64 KiB compressed). The
  // reader must stop after 17 bytes and report trailing data.
  const std::string head = idx_bytes(0x08, {16}, std::string(16, '\0'));
  const std::string zeros(1 << 20, '\0');
  std::string plain_gz = gzip_bytes(head + zeros, 1);
  expect_format_error(plain_gz, "trailing bytes after the 16 data bytes");
  const std::string bomb = gzip_bytes(head) + gzip_bytes(zeros, 64);
  EXPECT_LT(bomb.size(), 200000u);
  expect_format_error(bomb, "trailing bytes after the 16 data bytes");
}

TEST(IdxMalformed, CorruptGzip) {
  const std::string gz = gzip_bytes(idx_bytes(0x08, {64}, pattern(64)));
  // Truncated compressed stream.
  expect_format_error(gz.substr(0, gz.size() - 5), "gzip stream is truncated");
  expect_format_error(gz.substr(0, 12), "");
  // Flipped CRC in the trailer.
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 0x55;
  expect_format_error(bad_crc, "corrupt gzip data");
  // Garbage after the stream.
  expect_format_error(gz + "junk", "4 bytes of garbage after the gzip stream");
  // Bad deflate block type.
  std::string bad_block = gz;
  bad_block[10] = '\xff';
  expect_format_error(bad_block, "corrupt gzip data");
}

TEST(IdxFuzz, SeededMutationsNeverCrash) {
  const std::string plain = idx_bytes(0x08, {3, 4, 5}, pattern(60));
  const std::vector<std::string> seeds = {plain, gzip_bytes(plain),
                                          idx_bytes(0x08, {9}, pattern(9))};
  Rng rng(77);
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = seeds[rng.uniform_int(seeds.size())];
    const int n_mut = 1 + static_cast<int>(rng.uniform_int(3));
    for (int m = 0; m < n_mut && !b.empty(); ++m) {
      // Mostly the header and the first bytes after it (gzip header, dims).
      const std::size_t limit =
          rng.uniform() < 0.7 ? std::min<std::size_t>(b.size(), 24) : b.size();
      const std::size_t pos = rng.uniform_int(limit);
      switch (rng.uniform_int(5)) {
        case 0:
          b[pos] = static_cast<char>(rng.uniform_int(256));
          break;
        case 1:
          b[pos] = static_cast<char>(rng.uniform() < 0.5 ? 0 : 0xff);
          break;
        case 2:
          b.resize(pos);
          break;
        case 3:
          b.insert(b.begin() + pos, static_cast<char>(rng.uniform_int(256)));
          break;
        case 4:
          b.erase(b.begin() + pos);
          break;
      }
    }
    try {
      const IdxArray a = parse_idx(b, "fuzz.idx");
      Index count = 1;
      for (Index d : a.dims) count *= d;
      ASSERT_EQ(static_cast<Index>(a.data.size()), count);
      ++accepted;
    } catch (const InputError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iter << ": unexpected exception " << e.what();
    }
  }
  EXPECT_GT(accepted, 100);  // 246 with this seed
  EXPECT_GT(rejected, 2000);
}

}  // namespace
}  // namespace attnlab::io
