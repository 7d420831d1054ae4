#include "attnlab/report/sections/gallery_section.hpp"

#include "attnlab/analysis/gallery/variant_gallery.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/report_builder.hpp"

namespace attnlab::report {

nlohmann::json run_gallery_study(const ReportOptions& options) {
  analysis::GalleryOptions g;
  g.seed = options.seed;
  return analysis::to_json(analysis::run_variant_gallery(g));
}

std::string render_gallery_section(const nlohmann::json& result) {
  const analysis::GalleryResult g = analysis::gallery_from_json(result);
  std::string body = paragraph(
      "Every attention variant of attnlab's operator library applied to the same " +
      std::to_string(g.options.length) + " synthetic tokens (a " +
      std::to_string(g.options.vocabulary) +
      "-word vocabulary, so repeated words attract each other, plus a slowly varying position "
      "code, so neighbours attract too). Each panel is an attention map: row i is query i, column "
      "j is key j, and the color is the weight α_ij on a log scale from 10⁻³ to 1. Gray cells are "
      "masked: the kernel never computes them, which is exactly the work a window, a sink pattern "
      "or causality saves. Dark but colored cells were computed and got (almost) no weight: "
      "softmax spends work on them anyway, sparsemax and entmax give them exact zeros, top-k "
      "throws them away after computing them.");
  body += paragraph(
      "How to read the differences: causal maps are lower-triangular; a window keeps a diagonal "
      "band; sinks add the first columns back; decay and ALiBi fade weight with distance "
      "smoothly instead of cutting it; scalable-softmax multiplies logits by log n, so its rows "
      "stay sharp as n grows instead of flattening. The linear family (last grid) has no "
      "normalizer that can concentrate mass: the linearized map is the raw bilinear score "
      "(shown on its own signed scale), and elu+1 / FAVOR+ rows are smoother approximations of "
      "the softmax kernel.");

  HeatmapOptions common;
  common.x_label = "key j";
  common.y_label = "query i";
  common.log_color = true;
  common.color_min = 1e-3;
  common.color_max = 1.0;
  common.color_label = "weight";
  common.width = 360;
  common.height = 330;
  std::vector<HeatmapPanel> soft, sparse, linear_pos;
  for (const auto& m : g.variants) {
    HeatmapPanel p{m.title, m.weights, {}, {}};
    if (m.family == "softmax")
      soft.push_back(std::move(p));
    else if (m.family == "sparse")
      sparse.push_back(std::move(p));
    else if (m.id != "linearized")
      linear_pos.push_back(std::move(p));
  }
  common.title = "softmax family";
  body += heatmap_grid(soft, common,
                       "Softmax with every mask and bias mod (head 0 of 4 identical heads).");
  common.title = "sparse normalizers";
  body +=
      heatmap_grid(sparse, common, "Sparse normalizers on the same logits: exact zeros appear.");
  for (const auto& m : g.variants) {
    if (m.id != "linearized") continue;
    HeatmapOptions signed_opts;
    signed_opts.title = m.title;
    signed_opts.x_label = "key j";
    signed_opts.y_label = "query i";
    signed_opts.palette = Palette::kDiverging;
    signed_opts.color_label = "score";
    signed_opts.width = 360;
    signed_opts.height = 330;
    std::vector<std::string> svgs{heatmap(m.weights, signed_opts)};
    for (auto& s : heatmap_panels(linear_pos, common)) svgs.push_back(std::move(s));
    body += figure_grid(svgs,
                        "Linear attention: the linearized (unnormalized, signed) map, and "
                        "the normalized elu+1 and FAVOR+ maps on the weight scale above.");
  }

  std::vector<std::vector<std::string>> rows;
  for (const auto& m : g.variants) {
    rows.push_back({m.title, m.spec, format_number(m.norm_entropy, 3),
                    format_number(m.max_weight, 3), format_number(m.sink_mass, 3),
                    format_percent(m.zero_share), format_percent(m.computed_share)});
  }
  body += html_table({"variant", "spec", "norm. entropy", "mean max weight", "mass on key 0",
                      "exact zeros", "entries computed"},
                     rows,
                     {.caption = "Per-map statistics (means over queries with ≥ 2 visible keys; "
                                 "the linearized map's entropy is not defined for signed scores "
                                 "and is shown as computed from |score| ≥ 0 entries only)."});
  return body;
}

}  // namespace attnlab::report
