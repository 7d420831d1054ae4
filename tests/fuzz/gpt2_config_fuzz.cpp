// libFuzzer target for the GPT-2 config.json reader, attnlab/models/gpt2/config (fuzz_gpt2_config;
// `make fuzz` runs it). It also reaches ModelAttention::from_json ("attnlab_attention") and the
// strict JSON reader.
//
// Invariants checked on every input:
//   * parse_gpt2_config either returns or throws attnlab::InputError (FormatError and
//     JsonFormatError are ones); anything else escapes and libFuzzer reports it;
//   * an accepted config is within the documented limits (validate() passes), describe() and
//     parameter_count() work;
//   * writer round trip: gpt2_config_json(c).dump() parses back to a config that writes the same
//     JSON (every field preserved).
#include <cstdint>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab::models::gpt2;
  Gpt2Config c;
  try {
    c = parse_gpt2_config(attnlab::fuzz::as_view(data, size), "fuzz config.json");
  } catch (const attnlab::InputError&) {
    return 0;
  }
  c.validate("accepted config");
  FUZZ_CHECK(c.parameter_count() < (std::uint64_t{1} << 36));
  FUZZ_CHECK(!c.describe().empty());
  const nlohmann::json j = gpt2_config_json(c);
  const Gpt2Config again = parse_gpt2_config(j.dump(), "roundtrip config.json");
  FUZZ_CHECK(gpt2_config_json(again) == j);
  return 0;
}
