// attnlab inspect — per layer × head attention diagnostics of a GPT-2 or a BERT-family encoder
// on a text (SCIENCE.md §5).
//
//   attnlab inspect --model PATH [--tokenizer DIR] --text FILE [--attention SPEC]
//                   [--context N] [--max-tokens N] [--maps L:H[,L:H...]] [--map-tokens N]
//                   [--no-order-test] [--order-tokens N] [--sink-threshold X]
//                   [--overloaded-threshold X] [--collapsed-threshold X]
//                   [--html PAGE.html] [--json R.json]
//
// Prints one line per head (normalized entropy, effective support, sink / self / previous-token
// mass, sparsity, top-8 mass, wasted-work share, labels) and a summary; --json writes the full
// result (maps and order test included), --html a standalone page with the report's section
// (layer × head heatmaps, maps, order test). Definitions: analysis/inspect/head_inspection.hpp.
// A --model directory whose config.json says model_type "bert" (all-MiniLM-L6-v2, any BERT) is
// inspected as an encoder (analysis/inspect/encoder_inspection.hpp): mass on [CLS], [SEP] and
// punctuation raw and value-norm weighted, spread, positional heads; --context is then the
// segment length (default 128), the tokenizer is the model's vocab.txt, and --model may be
// omitted to use the default MiniLM (bootstrap's .cache/minilm).
// All outputs are written together or not at all.
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/gpt2_inputs.hpp"
#include "attnlab/analysis/budgets/study_budgets.hpp"
#include "attnlab/analysis/inspect/encoder_inspection.hpp"
#include "attnlab/analysis/inspect/head_inspection.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/models/bert/config.hpp"
#include "attnlab/models/bert/weights.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/sections/encoder_section.hpp"
#include "attnlab/report/sections/inspect_section.hpp"

namespace attnlab::cli {
namespace {

struct InspectCliOptions {
  CommonOptions common;
  std::string model, tokenizer, text, attention, html;
  std::vector<std::string> maps;
  Index context = 0, max_tokens = 0, map_tokens = 40, order_tokens = 64;
  bool no_order_test = false, quick = false;
  double sink = -1, overloaded = 0.9, collapsed = 0.9;  // sink < 0: the model family's default
};

std::vector<models::gpt2::MapRequest> parse_maps(const std::vector<std::string>& items) {
  std::vector<models::gpt2::MapRequest> out;
  for (const auto& item : items) {
    const auto colon = item.find(':');
    models::gpt2::MapRequest m;
    std::size_t a = 0, b = 0;
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < item.size();
    try {
      if (ok) {
        m.layer = std::stoll(item.substr(0, colon), &a);
        m.head = std::stoll(item.substr(colon + 1), &b);
        ok = a == colon && b == item.size() - colon - 1 && m.layer >= 0 && m.head >= 0;
      }
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok) throw UsageError(str_cat("inspect: --maps item '", item, "' is not LAYER:HEAD"));
    out.push_back(m);
  }
  return out;
}

std::string num(double v, int prec = 3) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

std::string table_text(const analysis::InspectResult& r) {
  std::ostringstream os;
  os << "inspect: " << r.model_description << "\n";
  os << "  model " << r.source.model << "\n  text " << r.source.text << ": " << r.tokens
     << " tokens in " << r.chunks << " chunk(s) of <= " << r.context << "; attention "
     << r.attention << "\n";
  os << "layer head  norm_ent  support  sink   self   prev   max_w  sparsity top8   wasted  "
        "labels\n";
  Index sinks = 0, overloaded = 0, collapsed = 0;
  for (const auto& h : r.heads) {
    char line[256];
    std::snprintf(line, sizeof line, "%5lld %4lld  %8s %8s  %5s  %5s  %5s  %5s  %7s %5s  %6s  ",
                  static_cast<long long>(h.layer), static_cast<long long>(h.head),
                  num(h.norm_entropy).c_str(), num(h.effective_support, 1).c_str(),
                  num(h.sink_mass).c_str(), num(h.self_mass).c_str(), num(h.prev_mass).c_str(),
                  num(h.max_weight).c_str(), num(h.sparsity).c_str(), num(h.top8_mass).c_str(),
                  num(h.wasted_share).c_str());
    os << line << h.labels() << "\n";
    sinks += h.sink;
    overloaded += h.overloaded;
    collapsed += h.collapsed;
  }
  os << "summary: " << sinks << " sink, " << overloaded << " overloaded, " << collapsed
     << " collapsed heads of " << r.heads.size()
     << "; entries below 1% of row max: " << num(100 * r.overall_sparsity(), 1) << "%\n";
  if (!r.order.empty()) {
    os << "order test (" << r.order_tokens << " tokens, delta after final LayerNorm):";
    for (const auto& o : r.order) {
      os << " " << o.positions << (o.causal ? "/causal=" : "/bidir=") << num(o.final_change, 7);
    }
    os << "\n";
  }
  if (r.source.random_weights) os << "note: random weights\n";
  return os.str();
}

std::string encoder_table_text(const analysis::EncoderInspectResult& r) {
  std::ostringstream os;
  os << "inspect: " << r.model_description << "\n  model " << r.model << "\n  text " << r.text
     << ": " << r.tokens << " tokens in " << r.segments << " segment(s) of <= " << r.max_length
     << "; attention " << r.attention << "\n";
  os << "layer head  [CLS]  [SEP]  punct  nw[SEP] self   prev   next   norm_ent sparsity  labels\n";
  Index sinks = 0;
  for (const auto& h : r.heads) {
    char line[256];
    std::snprintf(line, sizeof line, "%5lld %4lld  %5s  %5s  %5s  %6s  %5s  %5s  %5s  %7s  %7s  ",
                  static_cast<long long>(h.layer), static_cast<long long>(h.head),
                  num(h.cls_mass).c_str(), num(h.sep_mass).c_str(), num(h.punct_mass).c_str(),
                  num(h.nw_sep_mass).c_str(), num(h.self_mass).c_str(), num(h.prev_mass).c_str(),
                  num(h.next_mass).c_str(), num(h.norm_entropy).c_str(), num(h.sparsity).c_str());
    std::string labels;
    for (const auto& l : h.labels) labels += (labels.empty() ? "" : ", ") + l;
    os << line << (labels.empty() ? "-" : labels) << "\n";
    sinks += std::count(h.labels.begin(), h.labels.end(), "sink");
  }
  os << "per layer (mean over heads): [CLS] / [SEP] / punct mass, raw -> norm-weighted\n";
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    const auto& x = r.layers[l];
    os << "  L" << l << "  " << num(x.cls_mass) << " / " << num(x.sep_mass) << " / "
       << num(x.punct_mass) << "  ->  " << num(x.nw_cls_mass) << " / " << num(x.nw_sep_mass)
       << " / " << num(x.nw_punct_mass) << "   |f([SEP])| " << num(x.value_norm_sep, 2) << " vs "
       << num(x.value_norm_other, 2) << "\n";
  }
  os << "summary: " << sinks << " sink heads of " << r.heads.size() << "\n";
  if (!r.order.empty()) {
    os << "order test (" << r.order_tokens << " tokens, delta after the last block):";
    for (const auto& o : r.order) os << " " << o.positions << "=" << num(o.per_layer.back(), 7);
    os << "\n";
  }
  return os.str();
}

// --json envelope and --html page (all or nothing), then the table on stdout.
void write_outputs(const InspectCliOptions& o, const RunInfo& info, const Timings& timings,
                   const nlohmann::json& result, const char* section,
                   const std::string& model_description,
                   std::string (*render)(const nlohmann::json&), const std::string& table) {
  OutputSet outputs;
  if (!o.common.json_path.empty()) {
    outputs.add(o.common.json_path, dump_json(make_result_envelope(info, timings, result)));
  }
  if (!o.html.empty()) {
    report::HtmlPage page("attnlab inspect");
    page.add_section(section, "Per-head diagnostics: " + model_description, render(result));
    std::string cmdline;
    for (const auto& a : command_line()) cmdline += (cmdline.empty() ? "" : " ") + a;
    page.set_footer_note(cmdline);
    outputs.add(o.html, page.render());
  }
  outputs.commit();
  std::fwrite(table.data(), 1, table.size(), stdout);
}

void run_inspect_encoder(const InspectCliOptions& o, RunInfo& info, const std::string& dir) {
  Timings timings;
  analysis::EncoderInspectOptions eo;
  if (!o.attention.empty()) {
    eo.attention = models::gpt2::parse_attention_override(o.attention);
    eo.attention->causal = false;
  }
  if (!o.tokenizer.empty()) {
    throw UsageError("inspect: a BERT model uses its own vocab.txt; drop --tokenizer");
  }
  eo.max_length = o.context;  // 0 = min(128, the model's positions)
  eo.max_tokens = o.max_tokens;
  for (const auto& m : parse_maps(o.maps)) eo.maps.emplace_back(m.layer, m.head);
  eo.map_tokens = o.map_tokens;
  eo.order_test = !o.no_order_test;
  eo.order_tokens = o.order_tokens;
  if (o.sink >= 0) eo.sink_threshold = o.sink;
  eo.overloaded_threshold = o.overloaded;
  eo.collapsed_threshold = o.collapsed;
  eo.seed = o.common.seed;
  const std::string text = read_text_arg(o.text);
  const auto [model, tok] = [&] {
    auto t = timings.scope("load");
    return std::pair(models::bert::BertModel(models::bert::load_bert(dir)),
                     models::bert::WordPieceTokenizer::load(dir));
  }();
  std::unique_ptr<Progress> bar;
  eo.on_segment = [&bar](Index, Index total) {
    if (!bar) bar = std::make_unique<Progress>("inspect", total);
    bar->advance();
  };
  analysis::EncoderInspectResult r;
  {
    auto t = timings.scope("inspect");
    r = analysis::inspect_encoder_heads(model, tok, text, eo, dir, o.text);
  }
  if (bar) bar->finish();
  write_outputs(o, info, timings, analysis::to_json(r), "encoder", r.model_description,
                report::render_encoder_section, encoder_table_text(r));
}

// --quick: the report's quick budget (map and order-test tokens) and the first 256 tokens of the
// text, for every flag not given explicitly.
void apply_quick_budget(InspectCliOptions& o, const CLI::App& cmd) {
  const analysis::InspectBudget b = analysis::inspect_budget(true);
  if (!flag_given(cmd, "--map-tokens")) o.map_tokens = b.map_tokens;
  if (!flag_given(cmd, "--order-tokens")) o.order_tokens = b.order_tokens;
  if (!flag_given(cmd, "--max-tokens")) o.max_tokens = b.max_tokens;
}

void run_inspect(InspectCliOptions o, const CLI::App& cmd) {
  RunInfo info = begin_run("inspect", o.common);
  if (o.quick) apply_quick_budget(o, cmd);
  if (o.model.empty()) {
    const auto dir = models::bert::find_default_bert();
    if (!dir) {
      throw UsageError(str_cat("inspect: --model is required (no default BERT model: ",
                               models::bert::bert_files_hint(), ")"));
    }
    return run_inspect_encoder(o, info, dir->string());
  }
  if (models::bert::looks_like_bert_dir(o.model)) return run_inspect_encoder(o, info, o.model);
  Timings timings;
  analysis::InspectOptions io;
  if (!o.attention.empty()) io.attention = models::gpt2::parse_attention_override(o.attention);
  io.context = o.context;
  io.max_tokens = o.max_tokens;
  io.maps = parse_maps(o.maps);
  io.map_tokens = o.map_tokens;
  io.order_test = !o.no_order_test;
  io.order_tokens = o.order_tokens;
  io.sink_threshold = o.sink >= 0 ? o.sink : 0.3;
  io.overloaded_threshold = o.overloaded;
  io.collapsed_threshold = o.collapsed;
  io.seed = o.common.seed;
  const std::string text = read_text_arg(o.text);
  std::string tok_source;
  models::gpt2::Gpt2Weights weights;
  models::gpt2::BpeTokenizer tok = models::gpt2::BpeTokenizer::byte_level();
  {
    auto t = timings.scope("load");
    weights = models::gpt2::load_gpt2(o.model);
    tok = load_gpt2_tokenizer(o.tokenizer, o.model, tok_source);
  }
  check_tokenizer_fits(tok, weights.config, tok_source);
  for (const auto& m : io.maps) {
    if (m.layer >= weights.config.n_layer || m.head >= weights.config.n_head) {
      throw UsageError(str_cat("inspect: --maps ", m.layer, ":", m.head, " is outside the model (",
                               weights.config.n_layer, " layers, ", weights.config.n_head,
                               " heads)"));
    }
  }
  analysis::InspectSource source;
  source.model = weights.source;
  source.tokenizer = tok_source;
  source.text = o.text;
  const models::gpt2::Gpt2Model model(std::move(weights));
  std::vector<std::int32_t> ids;
  {
    auto t = timings.scope("tokenize");
    ids = tok.encode(text);
  }
  std::unique_ptr<Progress> bar;
  io.on_chunk = [&bar](Index, Index total) {
    if (!bar) bar = std::make_unique<Progress>("inspect", total);
    bar->advance();
  };
  analysis::InspectResult r;
  {
    auto t = timings.scope("inspect");
    r = analysis::inspect_gpt2_heads(model, ids, &tok, io, source, static_cast<Index>(text.size()));
  }
  if (bar) bar->finish();
  write_outputs(o, info, timings, analysis::to_json(r), "inspect", r.model_description,
                report::render_inspect_section, table_text(r));
}

void register_inspect(CLI::App& app) {
  auto opts = std::make_shared<InspectCliOptions>();
  auto* cmd = app.add_subcommand(
      "inspect",
      "Per layer x head diagnostics of a GPT-2 or a BERT encoder on a text: normalized entropy,\n"
      "effective support, sink mass and sink heads ([CLS]/[SEP]/punctuation for BERT, raw and\n"
      "value-norm weighted), sparsity, wasted work, labels, attention maps and an order test.");
  cmd->add_option("--model", opts->model,
                  "GPT-2 directory (model.safetensors + config.json, or gpt2_124M.bin), a "
                  ".safetensors file or an llm.c .bin; or a BERT directory (config.json + "
                  "model.safetensors + vocab.txt); default: the MiniLM of .cache/minilm");
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "Tokenizer directory (default: the model's, if it has vocab.json + merges.txt)");
  cmd->add_option("--text", opts->text, "Text file ('-' = stdin)")->required();
  cmd->add_option("--attention", opts->attention,
                  "Attention override (see `attnlab perplexity --help`), default full");
  cmd->add_option("--context", opts->context,
                  "Tokens per chunk (GPT-2, default n_positions) or per segment (BERT, default "
                  "128)")
      ->check(positive_number());
  cmd->add_option("--max-tokens", opts->max_tokens, "Inspect only the first N tokens")
      ->check(positive_number());
  cmd->add_option("--maps", opts->maps,
                  "Attention maps to capture, LAYER:HEAD (repeat or comma-separate); default: "
                  "4 heads chosen automatically")
      ->delimiter(',');
  cmd->add_option("--map-tokens", opts->map_tokens, "Tokens shown in each map (default 40)")
      ->check(CLI::Range(2, 512));
  cmd->add_flag("--no-order-test", opts->no_order_test, "Skip the permutation order test");
  cmd->add_option("--order-tokens", opts->order_tokens, "Tokens in the order test (default 64)")
      ->check(CLI::Range(4, 1024));
  cmd->add_option("--sink-threshold", opts->sink,
                  "Sink head: mass on token 0 above this (GPT-2, 0.3), or on [CLS] + [SEP] + "
                  "punctuation (BERT, 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--overloaded-threshold", opts->overloaded,
                  "Overloaded head: normalized entropy above this (0.9)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--collapsed-threshold", opts->collapsed,
                  "Collapsed head: mass on token 0 or on itself above this (0.9)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--html", opts->html, "Also write a standalone HTML page with the figures");
  add_quick_flag(cmd, opts->quick, "the first 256 tokens, 32-token maps and order test");
  add_common_options(cmd, opts->common);
  cmd->callback([opts, cmd] { run_inspect(*opts, *cmd); });
}

}  // namespace

static const CommandRegistrar registrar(70, register_inspect);

}  // namespace attnlab::cli
