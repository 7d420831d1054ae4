#include "attnlab/analysis/selectivity/model_source.hpp"

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {

nlohmann::json ModelSourceOptions::to_json() const {
  return {{"layers", layers}, {"queries", queries}, {"tokens", tokens}};
}

namespace {

// Checks the options against a model of `n_layer` layers and `positions` positions; returns the
// layers to capture.
std::vector<Index> checked_layers(const ModelSourceOptions& options, Index n, Index n_layer,
                                  Index positions) {
  if (options.tokens != "value" && options.tokens != "hidden") {
    throw UsageError(str_cat("selectivity: token vectors must be 'value' or 'hidden', got '",
                             options.tokens, "'"));
  }
  if (n < 2 || n > positions) {
    throw InputError(
        str_cat("selectivity: the model window needs 2 .. ", positions, " tokens, got ", n));
  }
  if (options.queries < 1 || options.queries > n) {
    throw UsageError(str_cat("selectivity: queries must lie in [1, ", n, "] (the window), got ",
                             options.queries));
  }
  std::vector<Index> layers = options.layers;
  if (layers.empty()) {
    for (Index l = 0; l < n_layer; ++l) layers.push_back(l);
  }
  for (const Index l : layers) {
    if (l < 0 || l >= n_layer) {
      throw UsageError(
          str_cat("selectivity: layer ", l, " outside the model's [0, ", n_layer, ")"));
    }
  }
  return layers;
}

}  // namespace

SelectivitySource source_from_gpt2(const models::gpt2::Gpt2Model& model,
                                   std::span<const std::int32_t> tokens,
                                   const ModelSourceOptions& options, std::string description) {
  const auto& cfg = model.config();
  const std::vector<Index> layers =
      checked_layers(options, static_cast<Index>(tokens.size()), cfg.n_layer, cfg.n_positions);
  models::gpt2::ForwardOptions fo;
  fo.projection_layers = layers;
  fo.logits = models::gpt2::LogitsMode::none;
  const models::gpt2::ForwardResult r = model.forward(tokens, fo);

  SelectivitySource src;
  src.kind = "model";
  src.description = std::move(description);
  src.tokens = options.tokens;
  src.causal = true;
  const Index Q = options.queries;
  for (const auto& p : r.projections) {
    for (Index h = 0; h < p.q.dim0(); ++h) {
      SelectivityHead head;
      head.label = str_cat("L", p.layer, ".H", h);
      head.q = p.q.slice(h).bottomRows(Q).cast<double>();                        // [Q, d]
      head.k = p.k.slice(h).cast<double>();                                      // [n, d]
      head.x = options.tokens == "value" ? MatrixD(p.v.slice(h).cast<double>())  // [n, d]
                                         : MatrixD(p.input.cast<double>());      // [n, C]
      src.heads.push_back(std::move(head));
    }
  }
  src.validate();
  return src;
}

SelectivitySource source_from_bert(const models::bert::BertModel& model,
                                   std::span<const std::int32_t> tokens,
                                   const ModelSourceOptions& options, std::string description) {
  const auto& cfg = model.config();
  const std::vector<Index> layers =
      checked_layers(options, static_cast<Index>(tokens.size()), cfg.num_hidden_layers,
                     cfg.max_position_embeddings);
  models::bert::BertForwardOptions fo;
  fo.projections = true;
  fo.hidden_states = options.tokens == "hidden";
  models::bert::BertSequence seq;
  seq.ids.assign(tokens.begin(), tokens.end());
  const models::bert::BertOutput r = model.forward(std::span(&seq, 1), fo);
  const models::bert::BertCapture& cap = r.captures[0];
  SelectivitySource src;
  src.kind = "model";
  src.description = std::move(description);
  src.tokens = options.tokens;
  src.causal = false;
  const Index Q = options.queries;
  for (const Index l : layers) {
    const auto u = static_cast<std::size_t>(l);
    for (Index h = 0; h < cfg.num_attention_heads; ++h) {
      SelectivityHead head;
      head.label = str_cat("L", l, ".H", h);
      head.q = cap.q[u].slice(h).bottomRows(Q).cast<double>();                        // [Q, d]
      head.k = cap.k[u].slice(h).cast<double>();                                      // [n, d]
      head.x = options.tokens == "value" ? MatrixD(cap.v[u].slice(h).cast<double>())  // [n, d]
                                         : MatrixD(cap.hidden[u].cast<double>());     // [n, C]
      src.heads.push_back(std::move(head));
    }
  }
  src.validate();
  return src;
}

}  // namespace attnlab::analysis::selectivity
