// libFuzzer target for attnlab/io/idx (not part of the CMake build).
//
// Invariant: parse_idx either returns an array with product(dims) bytes or throws
// attnlab::InputError (FormatError is one); anything else is reported by libFuzzer. Inputs are
// tried as given and, to reach past the gzip checks, also gzip-compressed.
//
// Build and run (from the repository root; clang++ 14 with libclang-rt-14-dev):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I/usr/include/eigen3 \
//     tests/fuzz/idx_fuzz.cpp attnlab/io/idx.cpp attnlab/core/error.cpp \
//     attnlab/core/atomic_file.cpp -lz -o build/idx_fuzz
//   mkdir -p build/idx_corpus && build/idx_fuzz -max_total_time=60 -rss_limit_mb=4096
//   build/idx_corpus
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/io/idx.hpp"

namespace {

void check(std::string_view bytes) {
  try {
    const attnlab::io::IdxArray a = attnlab::io::parse_idx(bytes, "fuzz.idx");
    attnlab::Index count = 1;
    for (const attnlab::Index d : a.dims) count *= d;
    if (static_cast<attnlab::Index>(a.data.size()) != count) __builtin_trap();
  } catch (const attnlab::InputError&) {
  }
}

std::string gzip(std::string_view plain) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, plain.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  if (size < (1u << 16)) check(gzip(bytes));
  return 0;
}
