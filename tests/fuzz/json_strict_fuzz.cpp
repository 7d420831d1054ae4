// libFuzzer target for the strict JSON reader every JSON-based format goes through,
// parse_json_strict in attnlab/io/json_strict (fuzz_json_strict; `make fuzz` runs it). A
// differential test against nlohmann's ordinary parser, which the strict one wraps.
//
// Invariants checked on every input (the first byte picks max_depth 1..64, the rest is the text):
//   * parse_json_strict either returns or throws JsonFormatError (an InputError); anything else
//     escapes and libFuzzer reports it;
//   * a syntax error from the strict reader means nlohmann::json::parse rejects the text too;
//     when the strict reader accepts, nlohmann accepts with the same value (no key dropped);
//   * too_deep: the text nests deeper than max_depth (re-parsing with a larger limit does not say
//     too_deep); too_large cannot happen below the 256 MiB default;
//   * writer round trip: an accepted value's dump() parses strictly back to the same value.
#include <cstdint>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  if (size < 1) return 0;
  io::StrictJsonOptions o;
  o.max_depth = 1 + data[0] % 64;
  const std::string_view text = fuzz::as_view(data + 1, size - 1);
  bool plain_ok = true;
  nlohmann::json plain;
  try {
    plain = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception&) {
    plain_ok = false;
  }
  nlohmann::json strict;
  try {
    strict = io::parse_json_strict(text, "fuzz.json", o);
  } catch (const io::JsonFormatError& e) {
    switch (e.kind()) {
      case io::JsonErrorKind::syntax:
        FUZZ_CHECK(!plain_ok);
        break;
      case io::JsonErrorKind::duplicate_key:  // found while parsing: the rest may be invalid too
        break;
      case io::JsonErrorKind::too_deep: {
        io::StrictJsonOptions deeper = o;
        deeper.max_depth = 1 << 20;
        bool ok = true;
        try {
          (void)io::parse_json_strict(text, "fuzz.json", deeper);
        } catch (const io::JsonFormatError& e2) {
          ok = e2.kind() != io::JsonErrorKind::too_deep;
        }
        FUZZ_CHECK(ok);
        break;
      }
      case io::JsonErrorKind::too_large:
        FUZZ_CHECK(false);  // o.max_bytes is 256 MiB
        break;
    }
    return 0;
  }
  FUZZ_CHECK(plain_ok && strict == plain);
  const nlohmann::json again = io::parse_json_strict(strict.dump(), "roundtrip.json", o);
  FUZZ_CHECK(again == strict);
  return 0;
}
