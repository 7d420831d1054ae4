// libFuzzer target for attnlab/io/safetensors and the GPT-2 Hugging Face loader on top of it
// (fuzz_safetensors; `make fuzz` runs it).
//
// Invariants checked on every input:
//   * SafetensorsFile::from_bytes and parse_safetensors_header either return or throw
//     attnlab::InputError (FormatError, SafetensorsError are ones), and agree with each other;
//     anything else escapes and libFuzzer reports it, as it does ASan/UBSan findings;
//   * an accepted file's tensors tile its data block exactly, in order, each numel·bits/8 bytes,
//     every float tensor reads as fp32 and every other non-empty one is a FormatError;
//   * writer round trip: the accepted tensors and metadata re-encoded by SafetensorsWriter parse
//     back to the same names, dtypes, shapes, bytes and metadata;
//   * parse_gpt2_hf on an accepted file, for three tiny configs (tied, untied embeddings, and
//     learned decay + learnable sink tensors), returns or throws InputError; accepted weights
//     written back by encode_gpt2_safetensors load again bit-identically.
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace attnlab;

// The configs the seed corpus (make_corpus.cpp) writes models for.
std::vector<models::gpt2::Gpt2Config> tiny_configs() {
  models::gpt2::Gpt2Config c;
  c.n_layer = 1;
  c.n_head = 1;
  c.n_embd = 2;
  c.n_positions = 2;
  c.vocab_size = 3;
  models::gpt2::Gpt2Config untied = c;
  untied.tie_word_embeddings = false;
  models::gpt2::Gpt2Config extra = c;
  extra.attention.learned_decay = true;
  extra.n_layer = 2;
  models::gpt2::Gpt2Config sink = c;
  sink.attention.learnable_sink = true;
  sink.attention.spec.window = 2;
  return {c, untied, extra, sink};
}

void check_writer_round_trip(const io::SafetensorsFile& f) {
  io::SafetensorsWriter w;
  for (const auto& t : f.tensors()) {
    std::vector<Index> shape(t.shape.begin(), t.shape.end());
    const auto b = f.bytes(t);
    w.add_raw(t.name, t.dtype, shape,
              std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  }
  w.set_metadata(f.metadata());
  const auto g = io::SafetensorsFile::from_bytes(w.encode(), "roundtrip.safetensors");
  FUZZ_CHECK(g.tensors().size() == f.tensors().size());
  FUZZ_CHECK(g.metadata() == f.metadata());
  for (const auto& t : f.tensors()) {
    const io::SafetensorsTensor* u = g.find(t.name);
    FUZZ_CHECK(u != nullptr);
    FUZZ_CHECK(u->dtype == t.dtype && u->shape == t.shape && u->numel == t.numel);
    const auto a = f.bytes(t), b = g.bytes(*u);
    FUZZ_CHECK(a.size() == b.size() &&
               (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<models::gpt2::Gpt2Config> configs = tiny_configs();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  bool header_ok = true;
  try {
    (void)io::parse_safetensors_header(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  } catch (const InputError&) {
    header_ok = false;
  }
  io::SafetensorsFile f;
  try {
    f = io::SafetensorsFile::from_bytes(bytes, "fuzz.safetensors");
  } catch (const InputError&) {
    FUZZ_CHECK(!header_ok);
    return 0;
  }
  FUZZ_CHECK(header_ok);
  std::uint64_t at = 0;
  for (const auto& t : f.tensors()) {
    FUZZ_CHECK(t.begin == at && t.end >= t.begin);  // the reader promised exact tiling
    at = t.end;
    FUZZ_CHECK(f.bytes(t).size() == t.nbytes());
    FUZZ_CHECK((t.numel * static_cast<std::uint64_t>(io::dtype_bits(t.dtype))) / 8 == t.nbytes());
    if (io::dtype_converts_to_f32(t.dtype)) {
      FUZZ_CHECK(f.read_f32(t).size() == t.numel);
    } else if (t.numel > 0) {  // (an empty tensor of any dtype reads as no values)
      bool threw = false;
      try {
        (void)f.read_f32(t);
      } catch (const FormatError&) {
        threw = true;
      }
      FUZZ_CHECK(threw);
    }
  }
  check_writer_round_trip(f);
  for (const auto& c : configs) {
    models::gpt2::Gpt2Weights w;
    try {
      w = models::gpt2::parse_gpt2_hf(f, c);
    } catch (const InputError&) {
      continue;
    }
    FUZZ_CHECK(w.params.size() == w.layout().total);
    const auto again = io::SafetensorsFile::from_bytes(models::gpt2::encode_gpt2_safetensors(w),
                                                       "roundtrip.safetensors");
    const models::gpt2::Gpt2Weights v = models::gpt2::parse_gpt2_hf(again, c);
    FUZZ_CHECK(v.params.size() == w.params.size());
    FUZZ_CHECK(std::memcmp(v.params.data(), w.params.data(), w.params.size() * sizeof(float)) == 0);
  }
  return 0;
}
