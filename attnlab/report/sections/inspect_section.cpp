#include "attnlab/report/sections/inspect_section.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/inspect/head_inspection.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/report_builder.hpp"
#include "attnlab/report/studies/tiny_lm.hpp"
#include "attnlab/report/studies/training_study.hpp"

namespace attnlab::report {
namespace {

namespace fs = std::filesystem;
using analysis::HeadDiagnostics;
using analysis::InspectResult;

constexpr const char* kSampleText =
    "The lighthouse keeper wrote in his log every evening. On the first night of the storm he "
    "noted that the wind had turned to the north, that the boats were all in the harbour, and "
    "that the lamp was burning steadily. On the second night the wind was stronger; a window in "
    "the lower room had cracked, and he had nailed a board across it. On the third night he wrote "
    "only one line: the lamp is burning.\n\n"
    "Years later his granddaughter found the log in a box of papers. She read it slowly, page by "
    "page, and noticed how the entries grew shorter whenever the weather grew worse. When the sea "
    "was calm he described the colour of the water, the birds, the ships that passed on the "
    "horizon and the names painted on their bows. When the sea was rough he wrote about the lamp "
    "and nothing else. She understood that he had been saving his attention for the one thing "
    "that mattered.\n\n"
    "A model reading a long document has the same problem with a smaller budget. Every new word "
    "must decide which earlier words deserve a look, and the total amount of looking is fixed: "
    "if one word receives more, the others receive less. Some readers spread their attention "
    "evenly and learn little from any single word. Others stare at the first word of the page "
    "because it is always there, a safe place to put attention that is not needed elsewhere. The "
    "best readers look back at the few words that answer the question they are asking right now: "
    "the name of the ship, the direction of the wind, whether the lamp is still burning.\n\n"
    "In 1903 the lighthouse was rebuilt with an electric lamp, and the log ends with a list of "
    "numbers: 14 ships, 3 storms, 2 broken windows, 1 lamp, 0 nights without light.\n";

std::string fmt(double v, int digits = 3) {
  return format_number(v, digits);
}

MatrixD metric_grid(const InspectResult& r, double HeadDiagnostics::*field) {
  MatrixD m(r.n_layer, r.n_head);
  for (Index l = 0; l < r.n_layer; ++l)
    for (Index h = 0; h < r.n_head; ++h) m(l, h) = r.at(l, h).*field;
  return m;
}

std::string layer_head_heatmaps(const InspectResult& r) {
  struct Metric {
    const char* title;
    double HeadDiagnostics::*field;
    bool unit_range;
    const char* label;
  };
  const std::vector<Metric> metrics = {
      {"normalized entropy", &HeadDiagnostics::norm_entropy, true, "H / log n"},
      {"effective support e^H (keys)", &HeadDiagnostics::effective_support, false, "keys"},
      {"sink mass (α on token 0)", &HeadDiagnostics::sink_mass, true, "mass"},
      {"sparsity (< 1% of row max)", &HeadDiagnostics::sparsity, true, "share"},
      {"top-8 mass", &HeadDiagnostics::top8_mass, true, "mass"},
      {"wasted-work share (< 1% of mass)", &HeadDiagnostics::wasted_share, true, "share"},
      {"previous-token mass", &HeadDiagnostics::prev_mass, true, "mass"},
      {"self mass (α on own position)", &HeadDiagnostics::self_mass, true, "mass"},
  };
  std::vector<std::string> rows, cols;
  for (Index l = 0; l < r.n_layer; ++l) rows.push_back("L" + std::to_string(l));
  for (Index h = 0; h < r.n_head; ++h) cols.push_back("h" + std::to_string(h));
  std::vector<std::string> svgs;
  for (const auto& m : metrics) {
    HeatmapOptions o;
    o.title = m.title;
    o.x_label = "head";
    o.y_label = "layer";
    o.row_labels = rows;
    o.col_labels = cols;
    o.color_label = m.label;
    o.width = 330;
    o.height = 300;
    if (m.unit_range) {
      o.color_min = 0.0;
      o.color_max = 1.0;
    }
    const MatrixD grid = metric_grid(r, m.field);
    bool any_finite = false;
    for (Index i = 0; i < grid.size(); ++i) any_finite |= std::isfinite(grid.data()[i]);
    if (!any_finite) continue;
    if (!m.unit_range && grid.maxCoeff() - grid.minCoeff() < 1e-9) {
      o.color_min = grid.minCoeff() - 0.5;
      o.color_max = grid.maxCoeff() + 0.5;
    }
    svgs.push_back(heatmap(grid, o));
  }
  return figure_grid(svgs,
                     "One cell per head: rows are layers (0 at the top), columns heads. Shares "
                     "and masses on a fixed 0–1 scale; effective support in keys. Means over "
                     "every query at position ≥ 1 of every chunk.",
                     300);
}

std::string labels_table(const InspectResult& r) {
  std::vector<std::vector<std::string>> rows;
  Index sinks = 0, overloaded = 0, collapsed = 0;
  for (const auto& h : r.heads) {
    sinks += h.sink;
    overloaded += h.overloaded;
    collapsed += h.collapsed;
    if (!h.sink && !h.overloaded && !h.collapsed) continue;
    rows.push_back({std::to_string(h.layer), std::to_string(h.head), h.labels(), fmt(h.sink_mass),
                    fmt(h.self_mass), fmt(h.prev_mass), fmt(h.norm_entropy), fmt(h.max_weight)});
  }
  std::string body = paragraph(
      str_cat("Labelled heads: ", sinks, " sink (sink mass > ", fmt(r.sink_threshold, 2), "), ",
              overloaded, " overloaded (normalized entropy > ", fmt(r.overloaded_threshold, 2),
              "), ", collapsed, " collapsed (mass > ", fmt(r.collapsed_threshold, 2),
              " on the first or on the current token), out of ", r.heads.size(), "."));
  if (rows.empty()) {
    body += note("No head crosses any label threshold.");
  } else {
    if (rows.size() > 60) rows.resize(60);
    body += html_table({"layer", "head", "labels", "sink mass", "self mass", "prev mass",
                        "norm. entropy", "max weight"},
                       rows, {.caption = "Heads with at least one label (first 60)."});
  }
  return body;
}

std::string all_heads_table(const InspectResult& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : r.heads) {
    rows.push_back({std::to_string(h.layer), std::to_string(h.head), fmt(h.norm_entropy),
                    fmt(h.effective_support), fmt(h.sink_mass), fmt(h.self_mass), fmt(h.prev_mass),
                    fmt(h.max_weight), format_percent(h.sparsity), fmt(h.top8_mass),
                    format_percent(h.wasted_share), fmt(h.wasted_mass), h.labels()});
  }
  return "<details><summary>All " + std::to_string(r.heads.size()) + " heads (table)</summary>" +
         html_table({"layer", "head", "norm. entropy", "eff. support", "sink", "self", "prev",
                     "max w", "sparsity", "top-8", "wasted share", "wasted mass", "labels"},
                    rows) +
         "</details>";
}

std::string maps_figure(const InspectResult& r) {
  if (r.maps.empty()) return "";
  std::vector<HeatmapPanel> panels;
  for (const auto& m : r.maps) {
    panels.push_back(
        {str_cat("L", m.layer, " h", m.head, ": ", m.why), m.weights, m.tokens, m.tokens});
  }
  HeatmapOptions common;
  common.title = "attention maps";
  common.x_label = "key";
  common.y_label = "query";
  common.log_color = true;
  common.color_min = 1e-3;
  common.color_max = 1.0;
  common.color_label = "weight";
  common.width = 420;
  common.height = 400;
  common.max_tick_labels = 20;
  return heatmap_grid(
      panels, common,
      str_cat("Attention maps of selected heads on the first ", r.maps.front().tokens.size(),
              " tokens (row = query, column = key, log color 10⁻³..1; gray = "
              "masked by causality)."));
}

std::string order_section(const InspectResult& r) {
  if (r.order.empty()) return "";
  std::string body = paragraph(str_cat(
      "Order test: the first ", r.order_tokens,
      " tokens are shuffled with a seeded permutation π, and we measure how far the model is "
      "from permutation-equivariant, δ_l = ‖π(h_l(x)) − h_l(π(x))‖ / ‖h_l(x)‖ after each block "
      "l. δ at fp32 noise (~1e-7) means the network cannot see the order. The model's own "
      "encoding (",
      r.positions,
      ") is replaced at inference by each encoding in turn (none; sinusoidal scaled to the "
      "position table's RMS, or to the token embeddings' when the model has no table; learned = "
      "the model's wpe table, all zero unless it was trained with learned or sinusoidal "
      "positions; RoPE on q and k; ALiBi), with the causal mask and without it. The row of the "
      "model's own encoding is marked \"(trained)\"."));
  LinePlot p;
  p.title = "order test: change under token permutation";
  p.x_label = "block";
  p.y_label = "relative change δ";
  p.log_y = true;
  p.legend = LegendPosition::kOutsideRight;
  p.width = 760;
  p.height = 420;
  const std::vector<std::string> colors = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00"};
  const std::vector<std::string> names = {"none", "sinusoidal", "learned", "rope", "alibi"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : r.order) {
    Series s;
    s.name = o.positions + (o.causal ? ", causal" : ", bidirectional");
    for (std::size_t l = 0; l < o.per_layer.size(); ++l) {
      s.x.push_back(static_cast<double>(l + 1));
      s.y.push_back(std::max(o.per_layer[l], 1e-12));
    }
    const auto it = std::find(names.begin(), names.end(), o.positions);
    s.color = colors[static_cast<std::size_t>(it == names.end() ? 0 : it - names.begin())];
    s.dash = o.causal ? 1 : 2;
    p.series.push_back(std::move(s));
    rows.push_back(
        {o.positions == r.positions ? o.positions + " (trained)" : o.positions,
         o.causal ? "causal" : "bidirectional", fmt(o.final_change),
         o.final_change < 1e-4 ? "equivariant: cannot see the order" : "order-sensitive"});
  }
  p.reference_lines.push_back(ReferenceLine::at_y(1e-5, "fp32 noise level"));
  body += figure(line_plot(p),
                 "Solid: causal mask; dashed: bidirectional. Values below 1e-12 are drawn at "
                 "1e-12.");
  body += html_table({"positions", "mask", "δ after final LayerNorm", "verdict"}, rows);
  return body;
}

// Per-layer means of the trained model next to the same model before training.
std::string before_training_table(const InspectResult& r, const nlohmann::json& before) {
  const nlohmann::json& b = before.at("layers");
  std::vector<std::vector<std::string>> rows;
  for (Index l = 0; l < r.n_layer && l < static_cast<Index>(b.size()); ++l) {
    double ent = 0, sink = 0, sparse = 0;
    for (Index h = 0; h < r.n_head; ++h) {
      ent += r.at(l, h).norm_entropy / static_cast<double>(r.n_head);
      sink += r.at(l, h).sink_mass / static_cast<double>(r.n_head);
      sparse += r.at(l, h).sparsity / static_cast<double>(r.n_head);
    }
    const auto& bl = b[static_cast<std::size_t>(l)];
    rows.push_back({std::to_string(l), fmt(ent), fmt(bl.at("norm_entropy").get<double>()),
                    fmt(sink), fmt(bl.at("sink_mass").get<double>()), fmt(sparse),
                    fmt(bl.at("sparsity").get<double>())});
  }
  return "<h3>Before training (labelled contrast)</h3>" +
         paragraph(
             "The same architecture at its initialization (GPT-2 init, the training "
             "seed), on the same text: what training changed, layer by layer (means over "
             "heads).") +
         html_table(
             {"layer", "norm. entropy", "before", "sink mass", "before", "sparsity", "before"},
             rows);
}

std::string anchors(const InspectResult& r, bool tiny) {
  const double sparsity = r.overall_sparsity();
  double last_sink = 0;
  for (Index h = 0; h < r.n_head; ++h) last_sink += r.at(r.n_layer - 1, h).sink_mass;
  last_sink /= static_cast<double>(r.n_head);
  std::string body;
  if (r.source.random_weights) {
    body += note(str_cat(
        "Published anchors (H2O: > 95% of entries below 1% of the row max in trained LLMs; one "
        "report of 65% of GPT-2's last-layer attention on token 0) describe trained weights and "
        "are not compared here. Measured on these random weights: ",
        format_percent(sparsity),
        " of entries below 1% of the row max, mean last-layer sink "
        "mass ",
        fmt(last_sink), "."));
    return body;
  }
  body += callout(sparsity > 0.95 ? CalloutKind::kAgrees : CalloutKind::kDisagrees, "",
                  str_cat("H2O reports that > 95% of attention entries fall below 1% of the row "
                          "max (OPT / Llama-class models). Here: ",
                          format_percent(sparsity), " over all heads (context ", r.context,
                          " tokens; short contexts have fewer negligible entries)."));
  if (tiny) {
    body += note(str_cat("Mean last-layer sink mass of this tiny LM: ", fmt(last_sink),
                         ". GPT-2's published anchor (65% of last-layer attention on token 0 in "
                         "one 6-token sentence) is for a 124M model trained on 40 GB of text."));
    return body;
  }
  body += note(str_cat(
      "The one published GPT-2 number (65% of last-layer attention on token 0, "
      "huggingface/transformers #2975) is the last token's row of a 6-token sentence, averaged "
      "over heads; attnlab's mean over all queries of the last layer is ",
      fmt(last_sink), ". No per-layer GPT-2 table is published; the heatmaps above are one."));
  return body;
}

}  // namespace

const char* inspect_sample_text() {
  return kSampleText;
}

nlohmann::json run_inspect_study(const ReportOptions& options) {
  using namespace models::gpt2;
  analysis::InspectOptions io;
  io.seed = options.seed;
  const analysis::InspectBudget budget = analysis::inspect_budget(options.quick);
  io.map_tokens = budget.map_tokens;
  io.order_tokens = budget.order_tokens;
  analysis::InspectSource source;
  source.text = "the report's embedded sample text (lighthouse log, 4 paragraphs)";
  std::optional<Gpt2Model> model;
  std::optional<BpeTokenizer> tok;
  std::string text = kSampleText;
  std::string kind = "gpt2";
  nlohmann::json before;
  if (const char* dir = std::getenv("ATTNLAB_GPT2_DIR"); dir && *dir) {
    model.emplace(load_gpt2(dir));
    tok.emplace(BpeTokenizer::load(dir));
    source.model = model->weights().source;
    source.tokenizer = dir;
    source.random_weights = false;
  } else {
    // attnlab's own trained tiny LM (the training section), on held-out KJV text; the same
    // model before training is the contrast.
    const auto& lm = report_tiny_lm(options);
    model.emplace(load_gpt2(lm.dir));
    tok.emplace(BpeTokenizer::load(lm.dir));
    text = tiny_lm_sample_text(options, budget.text_bytes);
    kind = "tiny_lm";
    source.model = str_cat("attnlab's tiny LM trained on the KJV Bible (", lm.dir.string(),
                           "; see the training section)");
    source.tokenizer = "byte-level (the model's vocab.json + merges.txt)";
    source.text = str_cat("the first ", text.size(),
                          " bytes of the KJV validation split (held "
                          "out from training)");
    source.random_weights = false;
    const Gpt2Model init(before_training_weights(options));
    analysis::InspectOptions bo = io;
    bo.order_test = false;
    bo.auto_maps = 0;
    bo.context = std::min<Index>(init.config().n_positions, 1024);
    analysis::InspectSource bs = source;
    bs.model = "the same model before training";
    bs.random_weights = true;
    const auto ids = tok->encode(text);
    before = layer_summary(analysis::to_json(
        analysis::inspect_gpt2_heads(init, ids, &*tok, bo, bs, static_cast<Index>(text.size()))));
  }
  const auto ids = tok->encode(text);
  if (static_cast<Index>(tok->vocab_size()) > model->config().vocab_size) {
    throw UsageError("inspect study: the tokenizer's vocabulary is larger than the model's");
  }
  io.context = std::min<Index>(model->config().n_positions, 1024);
  const InspectResult r =
      analysis::inspect_gpt2_heads(*model, ids, &*tok, io, source, static_cast<Index>(text.size()));
  nlohmann::json j = analysis::to_json(r);
  j["model_kind"] = kind;
  if (!before.is_null()) j["before_training"] = std::move(before);
  return j;
}

std::string render_inspect_section(const nlohmann::json& result) {
  const InspectResult r = analysis::inspect_from_json(result);
  const bool tiny = result.value("model_kind", std::string("gpt2")) == "tiny_lm";
  std::string body = paragraph(
      "Every head of a GPT-2 on one text, measured inside the attention kernel as it runs (no "
      "attention map is stored): how spread its rows are (normalized entropy, effective "
      "support e^H), how much mass it parks on the first token (sink), how sparse its rows "
      "are, and how much of its QKᵀ and PV work goes to entries that end up with less than 1% "
      "of the mass. Labels mark heads that look like failure modes: sinks, overloaded heads "
      "that average everything, and collapsed heads that always look at the same position.");
  if (r.source.random_weights) {
    body += warning(
        "These are RANDOM weights, not GPT-2: " + r.source.model +
        ". Nothing was learned, so attention rows are close to uniform (normalized entropy near "
        "1, no sinks, no sparsity): this section demonstrates the instrument on the real file "
        "path. Set ATTNLAB_GPT2_DIR to a directory with GPT-2's model.safetensors + config.json "
        "(or gpt2_124M.bin) and vocab.json + merges.txt to run it on real weights, or use "
        "`attnlab inspect --model DIR --text FILE`.");
  } else if (tiny) {
    body += note("Trained weights: " + r.source.model +
                 ". Set ATTNLAB_GPT2_DIR to a directory with GPT-2's model.safetensors + "
                 "config.json and vocab.json + merges.txt to run this section on GPT-2 instead.");
  } else {
    body += note("Real weights from " + r.source.model + ".");
  }
  body += html_table({"model", "tokenizer", "text", "tokens", "chunks × context", "attention"},
                     {{r.model_description, r.source.tokenizer, r.source.text,
                       std::to_string(r.tokens), str_cat(r.chunks, " × ", r.context), r.attention}},
                     {.auto_numeric = false});
  body += layer_head_heatmaps(r);
  body += labels_table(r);
  body += all_heads_table(r);
  body += maps_figure(r);
  body += order_section(r);
  if (result.contains("before_training"))
    body += before_training_table(r, result["before_training"]);
  body += anchors(r, tiny);
  body += bullet_list({
      "Rows: every query at position t ≥ 1 of every chunk; each chunk is a fresh context.",
      "Normalized entropy: H(α_t)/log n_t, mean over rows (n_t visible keys). Effective "
      "support: mean e^H.",
      "Sink mass: mean α on the chunk's first token. Sink head: sink mass > " +
          fmt(r.sink_threshold, 2) + " (ε of Gu et al.'s sink metric).",
      "Sparsity: share of all visible entries below 1% of their row's max (H2O's measure). "
      "Top-8 mass: mean mass of the 8 largest weights (rows with > 8 keys).",
      "Wasted-work share: share of visible entries — hence of QKᵀ and PV multiply-adds — that "
      "carry < 1% of their row's mass. Read it with the wasted mass (table): a near-uniform row "
      "over more than 100 keys makes every entry individually negligible, so the share nears 1 "
      "although those entries together carry all of the mass.",
      "Overloaded: normalized entropy > " + fmt(r.overloaded_threshold, 2) +
          ". Collapsed: more than " + fmt(r.collapsed_threshold, 2) +
          " of the mass on the first token or on the query itself, on average (a previous-token "
          "head is not collapsed: it moves the neighbour's information).",
  });
  return body;
}

}  // namespace attnlab::report
