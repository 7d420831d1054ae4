// libFuzzer target for attnlab/io/safetensors and the GPT-2 HF loader on top of it (not part of
// the CMake build; the seeded mutation test in tests/io/safetensors_test.cpp runs in CI).
//
// Invariants checked on every input:
//   * SafetensorsFile::from_bytes either returns or throws attnlab::InputError (FormatError is
//     one); anything else escapes and libFuzzer reports it, as it does ASan/UBSan findings;
//   * an accepted file's tensors tile its data block exactly, and every float tensor reads;
//   * parse_gpt2_hf on an accepted file (with a tiny config) returns or throws InputError.
//
// Build and run (from the repository root; clang++ 14 with libclang-rt-14-dev):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I/usr/include/eigen3 \
//     tests/fuzz/safetensors_fuzz.cpp attnlab/io/safetensors.cpp attnlab/io/json_strict.cpp \
//     attnlab/models/gpt2/weights.cpp attnlab/models/gpt2/config.cpp attnlab/core/error.cpp \
//     attnlab/core/atomic_file.cpp attnlab/core/rng.cpp -o build/safetensors_fuzz
//   mkdir -p build/st_corpus && build/safetensors_fuzz -max_total_time=60 build/st_corpus
#include <cstdint>
#include <cstdlib>
#include <string>

#include "attnlab/core/error.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/gpt2/weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto f = io::SafetensorsFile::from_bytes(bytes, "fuzz.safetensors");
    std::uint64_t at = 0;
    for (const auto& t : f.tensors()) {
      if (t.begin != at) std::abort();  // the reader promised exact tiling
      at = t.end;
      if (io::dtype_converts_to_f32(t.dtype)) (void)f.read_f32(t);
    }
    models::gpt2::Gpt2Config c;
    c.n_layer = 1;
    c.n_head = 1;
    c.n_embd = 2;
    c.n_positions = 2;
    c.vocab_size = 3;
    (void)models::gpt2::parse_gpt2_hf(f, c);
  } catch (const InputError&) {
  }
  return 0;
}
