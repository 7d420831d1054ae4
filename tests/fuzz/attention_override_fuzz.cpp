// libFuzzer target for the `--attention SPEC` mini-language, parse_attention_override and
// parse_model_attention in attnlab/models/gpt2/attention_override (fuzz_attention_override;
// `make fuzz` runs it).
//
// Texts containing ".json" are skipped: parse_attention_override reads such a text as a path to
// an AttentionSpec JSON file, and AttentionSpec::from_json has its own target
// (attention_spec_json_fuzz.cpp).
//
// Invariants checked on every input:
//   * both parsers either return or throw attnlab::UsageError (a bad flag value is a usage
//     error); anything else, an InputError included, escapes and libFuzzer reports it;
//   * an accepted override is causal, has no key mask, sinks only with a window, positive
//     counts; describe_attention_override() works; validate() on small shapes passes or throws
//     UsageError; writer round trip: to_json() text parses back (from_json) to the same spec;
//   * an accepted model attention has causality and temperature left to the model, passes
//     validate(), and round-trips through ModelAttention's to_json() text and from_json.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "tests/fuzz/fuzz_attention.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  const std::string_view text = fuzz::as_view(data, size);
  if (text.find(".json") != std::string_view::npos) return 0;
  std::optional<attention::AttentionSpec> parsed;
  try {
    parsed = models::gpt2::parse_attention_override(text);
  } catch (const UsageError&) {
  }
  if (parsed) {  // checks outside the try: a failure here must escape
    const attention::AttentionSpec& s = *parsed;
    FUZZ_CHECK(s.causal && s.key_mask.empty());
    FUZZ_CHECK(s.window >= 0 && s.sinks >= 0 && s.topk >= 0);
    FUZZ_CHECK(s.sinks == 0 || s.window > 0);
    FUZZ_CHECK(s.temperature >= 0 && s.ssmax_s > 0);
    FUZZ_CHECK(!models::gpt2::describe_attention_override(s).empty());
    for (const Index H : {Index{1}, Index{2}}) {
      bool valid = true;
      try {
        s.validate(H, 3, 5, 4);
      } catch (const UsageError&) {
        valid = false;
      }
      if (valid) {
        const attention::ScoreMods mods(s, H, 3, 5, 4);
        for (Index i = 0; i < 3; ++i) FUZZ_CHECK(mods.visible_count(i) >= 0);
      }
    }
    fuzz::check_spec_round_trip(s);
  }
  std::optional<models::gpt2::ModelAttention> a;
  try {
    a = models::gpt2::parse_model_attention(text);
  } catch (const UsageError&) {
  }
  if (a) {
    FUZZ_CHECK(!a->spec.causal && a->spec.temperature == 0.0);
    fuzz::check_model_attention_round_trip(*a);
  }
  return 0;
}
