// libFuzzer target for the trainer's checkpoint / --resume state reader, parse_checkpoint in
// attnlab/models/tinylm/checkpoint (fuzz_checkpoint; `make fuzz` runs it). A checkpoint is a
// safetensors file whose __metadata__ carries the JSON state, so this also reaches the
// safetensors reader and the GPT-2 config reader through a second door.
//
// Invariants checked on every input:
//   * parse_checkpoint either returns or throws attnlab::InputError (FormatError,
//     SafetensorsError, JsonFormatError are ones); anything else escapes and libFuzzer reports it;
//   * an accepted state has step >= 0, a valid config, and params / adam_m / adam_v of exactly
//     the config's parameter count, all finite, adam_v >= 0;
//   * writer round trip: encode_checkpoint(state) parses back to the same step, config, options,
//     dataset, history and bit-identical tensors.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/models/tinylm/checkpoint.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  using models::tinylm::TrainState;
  TrainState s;
  try {
    s = models::tinylm::parse_checkpoint(std::string(reinterpret_cast<const char*>(data), size),
                                         "fuzz.safetensors");
  } catch (const InputError&) {
    return 0;
  }
  FUZZ_CHECK(s.step >= 0);
  s.config.validate("accepted checkpoint");
  const std::size_t P = models::gpt2::Gpt2Layout(s.config).total;
  FUZZ_CHECK(s.params.size() == P && s.adam_m.size() == P && s.adam_v.size() == P);
  for (std::size_t i = 0; i < P; ++i) {
    FUZZ_CHECK(std::isfinite(s.params[i]) && std::isfinite(s.adam_m[i]));
    FUZZ_CHECK(std::isfinite(s.adam_v[i]) && s.adam_v[i] >= 0);
  }
  const TrainState r = models::tinylm::parse_checkpoint(models::tinylm::encode_checkpoint(s),
                                                        "roundtrip.safetensors");
  FUZZ_CHECK(r.step == s.step);
  FUZZ_CHECK(models::gpt2::gpt2_config_json(r.config) == models::gpt2::gpt2_config_json(s.config));
  FUZZ_CHECK(r.options == s.options && r.dataset == s.dataset && r.history == s.history);
  FUZZ_CHECK(same_floats(r.params, s.params) && same_floats(r.adam_m, s.adam_m) &&
             same_floats(r.adam_v, s.adam_v));
  return 0;
}
