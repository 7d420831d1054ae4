// libFuzzer target for attnlab/io/npy (not part of the CMake build).
//
// Invariants checked on every input:
//   * parse_npy either returns or throws attnlab::InputError (FormatError is one); any other
//     exception escapes and libFuzzer reports it, as it does ASan/UBSan findings;
//   * an accepted array has product(shape) values, and re-encoding it as '<f8' and parsing the
//     result gives back the same shape and bit-identical values.
//
// Build and run (from the repository root; clang++ 14 with libclang-rt-14-dev):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I/usr/include/eigen3 \
//     tests/fuzz/npy_fuzz.cpp attnlab/io/npy.cpp attnlab/core/error.cpp \
//     attnlab/core/atomic_file.cpp -o build/npy_fuzz
//   mkdir -p build/npy_corpus && build/npy_fuzz -max_total_time=60 build/npy_corpus
#include <cstdint>
#include <cstring>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  attnlab::io::NpyArray a;
  try {
    a = attnlab::io::parse_npy(bytes, "fuzz.npy");
  } catch (const attnlab::InputError&) {
    return 0;
  }
  attnlab::Index count = 1;
  for (const attnlab::Index d : a.shape) count *= d;
  if (static_cast<attnlab::Index>(a.values.size()) != count) __builtin_trap();
  const std::string again = attnlab::io::encode_npy(a.values.data(), a.shape);
  const attnlab::io::NpyArray b = attnlab::io::parse_npy(again, "roundtrip.npy");
  if (b.shape != a.shape || b.dtype != attnlab::io::NpyDtype::kF64) __builtin_trap();
  if (!a.values.empty() &&
      std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) != 0) {
    __builtin_trap();
  }
  return 0;
}
