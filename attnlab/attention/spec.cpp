#include "attnlab/attention/spec.hpp"

#include <cmath>
#include <sstream>

#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"

namespace attnlab::attention {

std::string_view to_string(Normalizer n) {
  switch (n) {
    case Normalizer::softmax:
      return "softmax";
    case Normalizer::sparsemax:
      return "sparsemax";
    case Normalizer::entmax15:
      return "entmax15";
    case Normalizer::ssmax:
      return "ssmax";
    case Normalizer::none:
      return "none";
  }
  return "unknown";
}

Normalizer parse_normalizer(std::string_view name) {
  for (Normalizer n : {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15,
                       Normalizer::ssmax, Normalizer::none}) {
    if (name == to_string(n)) return n;
  }
  throw UsageError(str_cat("unknown normalizer '", name,
                           "' (expected softmax, sparsemax, entmax15, ssmax or none)"));
}

double alibi_slope(Index h, Index H) {
  return std::exp2(-8.0 * static_cast<double>(h + 1) / static_cast<double>(H));
}

void AttentionSpec::validate(Index H, Index N, Index M, Index d) const {
  if (H <= 0 || N < 0 || M < 0 || d <= 0) {
    throw UsageError(str_cat("attention: invalid shapes H=", H, " N=", N, " M=", M, " d=", d));
  }
  if (!(temperature >= 0.0) || !std::isfinite(temperature)) {
    throw UsageError(str_cat("attention: temperature must be finite and > 0 (0 = default √d), got ",
                             temperature));
  }
  if (!std::isfinite(ssmax_s) || ssmax_s <= 0.0) {
    throw UsageError(str_cat("attention: ssmax s must be finite and > 0, got ", ssmax_s));
  }
  if (window < 0) throw UsageError(str_cat("attention: window must be >= 0, got ", window));
  if (sinks < 0) throw UsageError(str_cat("attention: sinks must be >= 0, got ", sinks));
  if (sinks > 0 && window == 0) {
    throw UsageError(str_cat("attention: sinks=", sinks, " needs a window (sinks + window)"));
  }
  if (topk < 0) throw UsageError(str_cat("attention: top-k must be >= 0, got ", topk));
  if (!decay.empty() && decay.size() != 1 && static_cast<Index>(decay.size()) != H) {
    throw UsageError(
        str_cat("attention: decay needs 1 rate or one per head (H=", H, "), got ", decay.size()));
  }
  for (std::size_t h = 0; h < decay.size(); ++h) {
    if (!std::isfinite(decay[h]) || decay[h] < 0.0) {
      throw UsageError(
          str_cat("attention: decay rate ", h, " must be finite and >= 0, got ", decay[h]));
    }
  }
  if (!key_mask.empty() && static_cast<Index>(key_mask.size()) != M) {
    throw UsageError(
        str_cat("attention: key mask has ", key_mask.size(), " entries, expected M=", M));
  }
}

std::string AttentionSpec::describe() const {
  std::ostringstream os;
  os << to_string(normalizer);
  if (temperature > 0) os << " T=" << temperature;
  if (normalizer == Normalizer::ssmax) os << " s=" << ssmax_s;
  if (causal) os << " causal";
  if (window > 0) os << " window=" << window;
  if (sinks > 0) os << " sinks=" << sinks;
  if (!decay.empty()) {
    os << " decay=";
    for (std::size_t i = 0; i < decay.size(); ++i) os << (i ? "," : "") << decay[i];
  }
  if (alibi) os << " alibi";
  if (topk > 0) os << " topk=" << topk;
  if (!key_mask.empty()) os << " key_mask";
  return os.str();
}

nlohmann::json AttentionSpec::to_json() const {
  nlohmann::json j;
  j["normalizer"] = std::string(to_string(normalizer));
  j["temperature"] = temperature;
  j["ssmax_s"] = ssmax_s;
  j["causal"] = causal;
  j["window"] = window;
  j["sinks"] = sinks;
  j["decay"] = decay;
  j["alibi"] = alibi;
  j["topk"] = topk;
  j["key_mask"] = !key_mask.empty();
  return j;
}

AttentionSpec AttentionSpec::from_json(const nlohmann::json& j) {
  AttentionSpec s;
  // Counts must be JSON integers (io::json_int64; a float count was found by
  // tests/fuzz/attention_spec_json_fuzz).
  auto count = [&j](const char* key) -> Index {
    return io::json_int64_or(j, key, 0, str_cat("attention spec JSON: '", key, "'"));
  };
  try {
    s.normalizer = parse_normalizer(j.at("normalizer").get<std::string>());
    s.temperature = j.value("temperature", 0.0);
    s.ssmax_s = j.value("ssmax_s", 1.0);
    s.causal = j.value("causal", false);
    s.window = count("window");
    s.sinks = count("sinks");
    s.decay = j.value("decay", std::vector<double>{});
    s.alibi = j.value("alibi", false);
    s.topk = count("topk");
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("attention spec JSON: ", e.what()));
  }
  return s;
}

ScoreMods::ScoreMods(const AttentionSpec& spec, Index H, Index N, Index M, Index d)
    : H_(H),
      N_(N),
      M_(M),
      offset_(M - N),
      causal_(spec.causal),
      window_(spec.window),
      sinks_(spec.sinks),
      topk_(spec.topk),
      base_scale_(1.0 /
                  (spec.temperature > 0 ? spec.temperature : std::sqrt(static_cast<double>(d)))),
      ssmax_(spec.normalizer == Normalizer::ssmax),
      ssmax_s_(spec.ssmax_s),
      linear_slope_(static_cast<std::size_t>(H), 0.0),
      key_mask_(spec.key_mask) {
  spec.validate(H, N, M, d);
  for (Index h = 0; h < H; ++h) {
    double slope = 0.0;
    if (!spec.decay.empty()) slope += spec.decay.size() == 1 ? spec.decay[0] : spec.decay[h];
    if (spec.alibi) slope += alibi_slope(h, H);
    linear_slope_[h] = slope;
    if (slope != 0.0) has_bias_ = true;
  }
  if (!key_mask_.empty()) {
    mask_prefix_.assign(static_cast<std::size_t>(M + 1), 0);
    for (Index j = 0; j < M; ++j) mask_prefix_[j + 1] = mask_prefix_[j] + (key_mask_[j] ? 1 : 0);
  }
}

bool ScoreMods::visible(Index i, Index j) const {
  if (!key_mask_.empty() && key_mask_[j] == 0) return false;
  const Index delta = query_position(i) - j;
  if (causal_ && delta < 0) return false;
  if (window_ > 0) {
    const bool in_window = (delta < 0 ? -delta : delta) < window_;
    if (!in_window && j >= sinks_) return false;
  }
  return true;
}

ScoreMods::KeyRange ScoreMods::band(Index i) const {
  const Index p = query_position(i);
  Index lo = 0, hi = M_;
  if (causal_) hi = std::min(hi, p + 1);
  if (window_ > 0) {
    lo = std::max(lo, p - window_ + 1);
    if (!causal_) hi = std::min(hi, p + window_);
  }
  if (hi < lo) hi = lo;
  lo = std::min(lo, M_);
  hi = std::max(std::min(hi, M_), lo);
  return {lo, hi};
}

Index ScoreMods::visible_count(Index i) const {
  auto count_range = [this](Index lo, Index hi) -> Index {
    if (hi <= lo) return 0;
    if (key_mask_.empty()) return hi - lo;
    return mask_prefix_[hi] - mask_prefix_[lo];
  };
  const KeyRange r = band(i);
  Index count = count_range(r.lo, r.hi);
  if (window_ > 0 && sinks_ > 0) {
    // Sink keys j < S that lie outside the band but are still allowed by causality.
    Index sink_hi = std::min(sinks_, M_);
    if (causal_) sink_hi = std::min(sink_hi, std::max<Index>(query_position(i) + 1, 0));
    // Count [0, sink_hi) minus its overlap with [r.lo, r.hi).
    count += count_range(0, sink_hi);
    const Index ov_lo = std::max<Index>(0, r.lo), ov_hi = std::min(sink_hi, r.hi);
    count -= count_range(ov_lo, std::max(ov_lo, ov_hi));
  }
  return count;
}

double ScoreMods::logit_scale(Index i) const {
  if (!ssmax_) return base_scale_;
  const Index n = visible_count(i);
  return base_scale_ * ssmax_s_ * (n > 1 ? std::log(static_cast<double>(n)) : 0.0);
}

}  // namespace attnlab::attention
