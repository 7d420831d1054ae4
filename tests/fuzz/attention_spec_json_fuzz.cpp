// libFuzzer target for AttentionSpec::from_json (attnlab/attention/spec; the JSON form of
// `--attention FILE.json` and of config.json's "attnlab_attention.spec") and
// ModelAttention::from_json (attnlab/models/gpt2/model_attention) (fuzz_attention_spec_json;
// `make fuzz` runs it). Both read values that parse_json_strict accepted.
//
// Invariants checked on every input:
//   * parse_json_strict either returns or throws JsonFormatError (an InputError);
//   * AttentionSpec::from_json either returns or throws an attnlab::Error (FormatError for
//     wrong JSON types, UsageError for an unknown normalizer); anything else — a
//     nlohmann::json exception, a UBSan report on an out-of-range number — escapes and
//     libFuzzer reports it; an accepted spec round-trips through to_json() text and from_json;
//   * ModelAttention::from_json either returns or throws FormatError; an accepted value passes
//     validate() and round-trips through its to_json() text.
#include <cstdint>
#include <optional>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "tests/fuzz/fuzz_attention.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  nlohmann::json j;
  try {
    j = io::parse_json_strict(fuzz::as_view(data, size), "fuzz spec.json");
  } catch (const InputError&) {
    return 0;
  }
  std::optional<attention::AttentionSpec> s;
  try {
    s = attention::AttentionSpec::from_json(j);
  } catch (const FormatError&) {
  } catch (const UsageError&) {
  }
  if (s) fuzz::check_spec_round_trip(*s);  // outside the try: a failure here must escape
  std::optional<models::gpt2::ModelAttention> a;
  try {
    a = models::gpt2::ModelAttention::from_json(j, "fuzz");
  } catch (const FormatError&) {
  }
  if (a) fuzz::check_model_attention_round_trip(*a);
  return 0;
}
