// libFuzzer target for attnlab/io/idx, plain and gzip (fuzz_idx; `make fuzz` runs it).
//
// Invariants: parse_idx either returns an array of 1 to 3 dims, each >= 1, with product(dims)
// bytes, or throws attnlab::InputError (FormatError is one); anything else is reported by
// libFuzzer. Inputs are tried as given and, to reach past the gzip checks, also gzip-compressed:
// both must give the same outcome (same dims and bytes, or both an error). attnlab has no IDX
// writer, so an accepted plain input is checked against its own header instead: the data is
// exactly the bytes after the 4 + 4·ndim header bytes.
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/io/idx.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

bool parse(std::string_view bytes, attnlab::io::IdxArray& out) {
  try {
    out = attnlab::io::parse_idx(bytes, "fuzz.idx");
  } catch (const attnlab::InputError&) {
    return false;
  }
  FUZZ_CHECK(out.dims.size() >= 1 && out.dims.size() <= 3);
  attnlab::Index count = 1;
  for (const attnlab::Index d : out.dims) {
    FUZZ_CHECK(d >= 1);
    count *= d;
  }
  FUZZ_CHECK(static_cast<attnlab::Index>(out.data.size()) == count);
  return true;
}

std::string gzip(std::string_view plain) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, plain.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  FUZZ_CHECK(rc == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = attnlab::fuzz::as_view(data, size);
  attnlab::io::IdxArray plain, packed;
  const bool plain_ok = parse(bytes, plain);
  const bool is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (plain_ok && !is_gzip) {
    const std::size_t header = 4 + 4 * plain.dims.size();
    FUZZ_CHECK(bytes.size() == header + plain.data.size());
    FUZZ_CHECK(
        bytes.substr(header) ==
        std::string_view(reinterpret_cast<const char*>(plain.data.data()), plain.data.size()));
  }
  if (size < (1u << 16) && !is_gzip) {
    const bool packed_ok = parse(gzip(bytes), packed);
    FUZZ_CHECK(packed_ok == plain_ok);
    if (plain_ok) FUZZ_CHECK(packed.dims == plain.dims && packed.data == plain.data);
  }
  return 0;
}
