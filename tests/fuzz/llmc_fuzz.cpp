// libFuzzer target for the llm.c checkpoint reader (gpt2_124M.bin layout), parse_gpt2_llmc in
// attnlab/models/gpt2/weights (fuzz_llmc; `make fuzz` runs it).
//
// Invariants checked on every input:
//   * parse_gpt2_llmc either returns or throws attnlab::InputError (FormatError is one); anything
//     else escapes and libFuzzer reports it. The reader checks the header (magic, version 3/5,
//     sizes within the config limits) and that the file is exactly header + payload before it
//     allocates, so ASan's allocation limit (-rss_limit_mb) is never reached from a short input;
//   * accepted weights have the layout's size and only finite values, and the config is valid;
//   * writer round trip: encode_gpt2_llmc(w, version) parses back to bit-identical parameters
//     (fp32 exactly; bf16 values are exact in bf16, so version 5 round-trips too).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab::models::gpt2;
  const std::string_view bytes = attnlab::fuzz::as_view(data, size);
  Gpt2Weights w;
  try {
    w = parse_gpt2_llmc(bytes, "fuzz.bin");
  } catch (const attnlab::InputError&) {
    return 0;
  }
  w.config.validate("accepted llm.c header");
  FUZZ_CHECK(w.params.size() == w.layout().total);
  for (const float v : w.params) FUZZ_CHECK(std::isfinite(v));
  std::int32_t version = 0;
  std::memcpy(&version, data + 4, 4);
  FUZZ_CHECK(version == 3 || version == 5);
  const Gpt2Weights v = parse_gpt2_llmc(encode_gpt2_llmc(w, version), "roundtrip.bin");
  FUZZ_CHECK(v.params.size() == w.params.size());
  FUZZ_CHECK(std::memcmp(v.params.data(), w.params.data(), w.params.size() * sizeof(float)) == 0);
  FUZZ_CHECK(gpt2_config_json(v.config) == gpt2_config_json(w.config));
  return 0;
}
