// libFuzzer target for the BERT config.json reader, attnlab/models/bert/config (fuzz_bert_config;
// `make fuzz` runs it).
//
// Invariants checked on every input:
//   * parse_bert_config either returns or throws attnlab::InputError (FormatError and
//     JsonFormatError are ones); anything else escapes and libFuzzer reports it;
//   * an accepted config passes validate(), and describe() / parameter_count() work;
//   * writer round trip: bert_config_json(c).dump() parses back to a config that writes the same
//     JSON (every field preserved).
#include <cstdint>
#include <string_view>

#include "attnlab/core/error.hpp"
#include "attnlab/models/bert/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab::models::bert;
  BertConfig c;
  try {
    c = parse_bert_config(attnlab::fuzz::as_view(data, size), "fuzz config.json");
  } catch (const attnlab::InputError&) {
    return 0;
  }
  c.validate("accepted config");
  (void)c.parameter_count();
  FUZZ_CHECK(!c.describe().empty());
  const nlohmann::json j = bert_config_json(c);
  const BertConfig again = parse_bert_config(j.dump(), "roundtrip config.json");
  FUZZ_CHECK(bert_config_json(again) == j);
  return 0;
}
