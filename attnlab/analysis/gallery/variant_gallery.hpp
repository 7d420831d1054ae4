// attnlab/analysis/gallery/variant_gallery.hpp — every attention variant on one synthetic sequence.
//
// The report's first section: the attention maps that each normalizer and mask/bias mod of the
// operator library produces for the SAME queries and keys, plus the linear-attention family, with
// a few per-map statistics. The sequence is built so the maps have visible structure: N tokens
// drawn from a small vocabulary (repeated words give off-diagonal stripes) plus a sinusoidal
// position code (nearby positions attract: a diagonal band); q = k = scale · (content + position)
// with the scale chosen so that a token's logit with itself, q·q/√d, is `gain` on average.
// H = 4 identical heads are computed and head 0 is shown, so ALiBi shows its steepest slope.
//
// Statistics per map (rows with >= 2 visible keys; masked entries excluded):
//   norm_entropy     mean H(α)/log(#visible)      max_weight   mean max_j α_ij
//   sink_mass        mean α on key 0 over queries i >= 1
//   zero_share       share of visible entries with α exactly 0 (sparse normalizers, top-k)
//   computed_share   visible entries / (N·M): the work a block-skipping kernel must do
//
// Usage:
//   GalleryResult g = run_variant_gallery({.length = 48, .seed = 0});
//   nlohmann::json j = to_json(g);   GalleryResult back = gallery_from_json(j);
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis {

struct GalleryOptions {
  Index length = 48;      // N = M tokens
  Index dim = 16;         // d
  Index vocabulary = 10;  // distinct content vectors
  double gain = 4.0;      // mean self-logit q_i·q_i/√d (sharper maps for larger gain)
  std::uint64_t seed = 0;
};

struct VariantMap {
  std::string id;      // short id, e.g. "window8"
  std::string family;  // "softmax", "sparse", "linear"
  std::string title;   // e.g. "causal + window W=8"
  std::string spec;    // the spec in attnlab's own words
  MatrixD weights;     // [N, M]; NaN where the key is masked (never computed)
  double norm_entropy = 0, max_weight = 0, sink_mass = 0, zero_share = 0, computed_share = 0;
};

struct GalleryResult {
  GalleryOptions options;
  std::vector<int> tokens;  // [N] vocabulary id of each position
  std::vector<VariantMap> variants;
};

GalleryResult run_variant_gallery(const GalleryOptions& options);
nlohmann::json to_json(const GalleryResult& result);
// FormatError when the JSON does not have the shape to_json writes.
GalleryResult gallery_from_json(const nlohmann::json& j);

}  // namespace attnlab::analysis
