#include "attnlab/report/studies/training_study.hpp"

#include "attnlab/analysis/inspect/head_inspection.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/report/report_builder.hpp"
#include "attnlab/report/studies/tiny_lm.hpp"

namespace attnlab::report {
namespace {

nlohmann::json inspect_layers(const models::gpt2::Gpt2Model& model, const std::string& text,
                              const std::string& description, const ReportOptions& options) {
  const auto tok = models::gpt2::BpeTokenizer::byte_level();
  const auto ids = tok.encode(text);
  analysis::InspectOptions io;
  io.seed = options.seed;
  io.order_test = false;
  io.auto_maps = 0;
  analysis::InspectSource source;
  source.model = description;
  source.tokenizer = "byte-level";
  source.text = "KJV validation excerpt";
  const auto r =
      analysis::inspect_gpt2_heads(model, ids, &tok, io, source, static_cast<Index>(text.size()));
  return layer_summary(analysis::to_json(r));
}

}  // namespace

nlohmann::json layer_summary(const nlohmann::json& inspect) {
  const analysis::InspectResult r = analysis::inspect_from_json(inspect);
  nlohmann::json layers = nlohmann::json::array();
  for (Index l = 0; l < r.n_layer; ++l) {
    double ent = 0, sink = 0, sparsity = 0, wasted = 0, top8 = 0, prev = 0;
    int sinks = 0;
    for (Index h = 0; h < r.n_head; ++h) {
      const auto& d = r.at(l, h);
      ent += d.norm_entropy;
      sink += d.sink_mass;
      sparsity += d.sparsity;
      wasted += d.wasted_share;
      top8 += d.top8_mass;
      prev += d.prev_mass;
      sinks += d.sink ? 1 : 0;
    }
    const double H = static_cast<double>(r.n_head);
    layers.push_back({{"layer", l},
                      {"norm_entropy", ent / H},
                      {"sink_mass", sink / H},
                      {"sparsity", sparsity / H},
                      {"wasted_share", wasted / H},
                      {"top8_mass", top8 / H},
                      {"prev_mass", prev / H},
                      {"sink_heads", sinks}});
  }
  return {{"layers", layers},
          {"heads", r.n_layer * r.n_head},
          {"overall_sparsity", r.overall_sparsity()},
          {"tokens", r.tokens},
          {"context", r.context},
          {"sink_threshold", r.sink_threshold}};
}

nlohmann::json run_training_study(const ReportOptions& options) {
  const auto& lm = report_tiny_lm(options);
  const std::string text = tiny_lm_sample_text(options);
  const models::gpt2::Gpt2Model trained(models::gpt2::load_gpt2(lm.dir));
  const models::gpt2::Gpt2Model before(before_training_weights(options));
  nlohmann::json j;
  j["recipe"] = models::tinylm::default_lm_recipe(options.quick).to_json();
  j["cache"] = {{"key", lm.key},
                {"from_cache", lm.from_cache},
                {"seconds", lm.seconds},
                {"dir", lm.dir.string()},
                {"source_revision", models::tinylm::trainer_source_revision()}};
  j["train"] = lm.train;
  j["sample_bytes"] = text.size();
  j["heads"] = {{"trained", inspect_layers(trained, text, "trained", options)},
                {"before", inspect_layers(before, text, "before training", options)}};
  return j;
}

}  // namespace attnlab::report
