// tests/fuzz/fuzz_attention.hpp — equality and round-trip helpers for AttentionSpec and
// ModelAttention, shared by attention_override_fuzz.cpp and attention_spec_json_fuzz.cpp.
#pragma once

#include "attnlab/attention/spec.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace attnlab::fuzz {

// Field-by-field equality of what to_json() writes (the key mask is written only as a flag).
inline bool same_spec(const attention::AttentionSpec& a, const attention::AttentionSpec& b) {
  return a.normalizer == b.normalizer && a.temperature == b.temperature && a.ssmax_s == b.ssmax_s &&
         a.causal == b.causal && a.window == b.window && a.sinks == b.sinks && a.decay == b.decay &&
         a.alibi == b.alibi && a.topk == b.topk && a.key_mask.empty() == b.key_mask.empty();
}

inline bool same_model_attention(const models::gpt2::ModelAttention& a,
                                 const models::gpt2::ModelAttention& b) {
  return same_spec(a.spec, b.spec) && a.linear == b.linear && a.learned_decay == b.learned_decay &&
         a.learnable_sink == b.learnable_sink;
}

// to_json -> text -> strict parse -> from_json gives the same spec.
inline void check_spec_round_trip(const attention::AttentionSpec& s) {
  FUZZ_CHECK(s.key_mask.empty());
  const std::string text = s.to_json().dump();
  const auto back = attention::AttentionSpec::from_json(io::parse_json_strict(text, "roundtrip"));
  FUZZ_CHECK(same_spec(back, s));
}

inline void check_model_attention_round_trip(const models::gpt2::ModelAttention& a) {
  a.validate("accepted model attention");
  FUZZ_CHECK(!a.describe().empty());
  const std::string text = a.to_json().dump();
  const auto back = models::gpt2::ModelAttention::from_json(
      io::parse_json_strict(text, "roundtrip"), "roundtrip");
  FUZZ_CHECK(same_model_attention(back, a));
}

}  // namespace attnlab::fuzz
