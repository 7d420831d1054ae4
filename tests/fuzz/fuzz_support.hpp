// tests/fuzz/fuzz_support.hpp — small helpers shared by the libFuzzer targets in tests/fuzz.
//
// The targets check invariants with FUZZ_CHECK(cond): on failure it prints the condition, file
// and line to stderr and traps, so libFuzzer saves the input as a crash artifact. Exceptions the
// target does not catch (anything but the attnlab::Error subclasses a parser is documented to
// throw) escape LLVMFuzzerTestOneInput; libFuzzer reports them as a crash ("deadly signal" via
// std::terminate), like ASan and UBSan findings.
//
// Multi-part inputs (a vocabulary plus a text, say) are cut at a separator with split_at(); the
// seed corpus (make_corpus.cpp) and the dictionaries (dict/) use the same separators.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::fflush(stderr);                                                                \
      __builtin_trap();                                                                   \
    }                                                                                     \
  } while (0)

namespace attnlab::fuzz {

// The bytes of a fuzz input as a string_view.
inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Cuts `s` into at most `parts` pieces at the first parts - 1 occurrences of `sep` (missing
// pieces are empty).
inline std::vector<std::string_view> split_at(std::string_view s, std::string_view sep,
                                              std::size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const std::size_t at = s.find(sep);
    if (at == std::string_view::npos) break;
    out.push_back(s.substr(0, at));
    s.remove_prefix(at + sep.size());
  }
  out.push_back(s);
  while (out.size() < parts) out.emplace_back();
  return out;
}

// A directory private to this process under $TMPDIR (created on first use, removed at a normal
// exit; libFuzzer ends with _Exit, so scripts/run_fuzz.sh points TMPDIR at a folder it removes),
// for the few readers that only take paths.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(base && *base ? base : "/tmp") /
                              ("attnlab-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes `bytes` to scratch_dir() / name (replacing it) and returns the path.
inline std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  FUZZ_CHECK(out.good());
  return p;
}

}  // namespace attnlab::fuzz
