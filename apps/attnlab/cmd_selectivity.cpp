// attnlab selectivity — the selection limits of softmax and how sparsemax, entmax-1.5 and
// scalable-softmax compare (issue #6; definitions in SCIENCE.md §4).
//
//   attnlab selectivity [--quick] [synthetic flags | --q Q.npy --k K.npy --v V.npy [--causal] |
//                        --model PATH --text FILE [--tokenizer DIR] [--layers LIST]
//                        [--max-tokens N] [--model-queries Q]]
//                       [--normalizers LIST] [--sweeps LIST] [sweep sizes ...]
//                       [--json R.json] [--out-dir DIR]
//
// Source: synthetic tokens on a sphere (default), NPY arrays (--q/--k with --v or --hidden), or
// q/k/v captured from a GPT-2 (--model: one forward pass over the first --max-tokens tokens of
// --text; every chosen layer x head becomes one unit, model_source.hpp) — or from a BERT-family
// encoder when --model is a BERT directory (bidirectional; the window is "[CLS] ... [SEP]" cut to
// --max-tokens and max_position_embeddings ids, the tokenizer its vocab.txt). Prints a summary per
// normalizer on stdout; --json writes the result envelope, --out-dir one CSV per sweep. All
// outputs are written together or not at all.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/gpt2_inputs.hpp"
#include "attnlab/analysis/selectivity/model_source.hpp"
#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/analysis/selectivity/sweeps.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory_limit.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/models/bert/config.hpp"
#include "attnlab/models/bert/weights.hpp"
#include "attnlab/models/bert/wordpiece_tokenizer.hpp"

namespace attnlab::cli {
namespace {

namespace sel = analysis::selectivity;

struct SelectivityCliOptions {
  CommonOptions common;
  bool quick = false;
  // Source.
  std::string q_path, k_path, v_path, hidden_path, model_path, tokens = "value";
  std::string text_path, tokenizer_dir;  // --model source
  std::vector<Index> layers;             // empty = all
  Index max_tokens = 1024, model_queries = 16;
  std::string old_window;  // the former name of --max-tokens: a usage error pointing at it
  std::string max_memory;
  bool causal = false;
  sel::SyntheticOptions synthetic;
  // Study.
  std::vector<std::string> normalizers{"softmax", "sparsemax", "entmax15", "ssmax"};
  std::vector<std::string> sweeps{"length", "count", "critical", "separability", "sensitivity"};
  std::string form = "sum", ks_unit = "head";
  sel::SelectivityOptions study;
  double t_min = 1e-3, t_max = 10.0;
  Index t_points = 13;
  bool no_refine = false;
  std::vector<double> spread_sweep;
  Index spread_length = 256;
  std::string out_dir;
};

std::string fmt(double v, int digits = 4) {
  if (!std::isfinite(v)) return "n/a";
  std::ostringstream os;
  os.precision(digits);
  os << v;
  return os.str();
}

sel::SelectivitySource load_source(const SelectivityCliOptions& o, const CLI::App& cmd) {
  const bool npy = !o.q_path.empty() || !o.k_path.empty();
  const bool synthetic_flags_given = [&] {
    for (const char* flag : {"--heads", "--queries", "--length", "--dim", "--radius", "--spacing",
                             "--independent-tokens", "--gain-spread", "--value-spread"}) {
      if (cmd.get_option(flag)->count() > 0) return true;
    }
    return false;
  }();
  if (o.model_path.empty()) {
    for (const char* flag :
         {"--text", "--tokenizer", "--layers", "--max-tokens", "--model-queries"}) {
      if (cmd.get_option(flag)->count() > 0) {
        throw UsageError(str_cat("selectivity: ", flag, " needs --model"));
      }
    }
  } else {
    if (npy || !o.v_path.empty() || !o.hidden_path.empty() || o.causal || synthetic_flags_given) {
      throw UsageError(
          "selectivity: --model captures q/k/v itself; it does not combine with NPY input "
          "(--q/--k/--v/--hidden/--causal) or synthetic-token flags");
    }
    if (o.text_path.empty()) throw UsageError("selectivity: --model needs --text FILE");
    const std::string text = read_text_arg(o.text_path);
    if (models::bert::looks_like_bert_dir(o.model_path)) {
      if (!o.tokenizer_dir.empty()) {
        throw UsageError("selectivity: a BERT model uses its own vocab.txt; drop --tokenizer");
      }
      const models::bert::BertModel model(models::bert::load_bert(o.model_path));
      const auto tok = models::bert::WordPieceTokenizer::load(o.model_path);
      const Index window = std::min(o.max_tokens, model.config().max_position_embeddings);
      const std::vector<std::int32_t> ids = tok.encode(text, window);
      sel::ModelSourceOptions mo;
      mo.layers = o.layers;
      mo.queries = o.model_queries;
      mo.tokens = o.tokens;
      return sel::source_from_bert(
          model, ids, mo,
          str_cat("BERT (", model.config().describe(), ") from ", o.model_path, ", first ",
                  ids.size(), " ids of ", o.text_path, " ([CLS] ... [SEP]), last ", mo.queries,
                  " positions as queries, bidirectional, ", o.tokens, " vectors"));
    }
    std::string tok_source;
    models::gpt2::Gpt2Weights weights = models::gpt2::load_gpt2(o.model_path);
    const models::gpt2::BpeTokenizer tok =
        load_gpt2_tokenizer(o.tokenizer_dir, o.model_path, tok_source);
    check_tokenizer_fits(tok, weights.config, tok_source);
    const std::string model_desc = weights.config.describe();
    const models::gpt2::Gpt2Model model(std::move(weights));
    std::vector<std::int32_t> ids = tok.encode(text);
    if (static_cast<Index>(ids.size()) > o.max_tokens)
      ids.resize(static_cast<std::size_t>(o.max_tokens));
    sel::ModelSourceOptions mo;
    mo.layers = o.layers;
    mo.queries = o.model_queries;
    mo.tokens = o.tokens;
    return sel::source_from_gpt2(
        model, ids, mo,
        str_cat("GPT-2 (", model_desc, ") from ", o.model_path, ", first ", ids.size(),
                " tokens of ", o.text_path, ", last ", mo.queries, " positions as queries, ",
                o.tokens, " vectors"));
  }
  if (npy) {
    if (synthetic_flags_given) {
      throw UsageError(
          "selectivity: synthetic-token flags (--heads, --queries, --length, --dim, "
          "--radius, --spacing, ...) do not apply to --q/--k input");
    }
    if (o.q_path.empty() || o.k_path.empty()) {
      throw UsageError("selectivity: NPY input needs both --q and --k");
    }
    if (o.tokens != "value" && o.tokens != "hidden") {
      throw UsageError(
          str_cat("selectivity: --tokens must be 'value' or 'hidden', got '", o.tokens, "'"));
    }
    const std::string& x_path = o.tokens == "value" ? o.v_path : o.hidden_path;
    if (x_path.empty()) {
      throw UsageError(o.tokens == "value"
                           ? "selectivity: --tokens value needs --v V.npy ([L, dv] or [H, L, dv])"
                           : "selectivity: --tokens hidden needs --hidden HID.npy ([L, D])");
    }
    // [B, H, ..] inputs (PyTorch's layout) become B·H heads, labelled "b<b>.h<h>".
    const char* x_name = o.tokens == "value" ? "v" : "hidden";
    const io::NpyHeads q = io::load_npy_heads(o.q_path, "q");   // [B·H, Q, dk]
    const io::NpyHeads k = io::load_npy_heads(o.k_path, "k");   // [B·H, L, dk]
    const io::NpyHeads x = io::load_npy_heads(x_path, x_name);  // [B·H or 1, L, dx]
    const bool batched = q.shape.size() == 4 || k.shape.size() == 4 || x.shape.size() == 4;
    auto leading_dims_agree = [](const io::NpyHeads& a, const io::NpyHeads& b) {
      return a.batch() == b.batch() && a.heads() == b.heads();
    };
    const bool x_shared = x.values.dim0() == 1;  // one set of token vectors for every head
    if (batched && (!leading_dims_agree(q, k) || (!x_shared && !leading_dims_agree(q, x)))) {
      auto text = [](const char* what, const io::NpyHeads& a, const std::string& path) {
        std::string dims;
        for (const Index n : a.shape) dims += str_cat(dims.empty() ? "" : ", ", n);
        return str_cat(what, " [", dims, "] (", path, ")");
      };
      throw InputError(str_cat("selectivity: q, k and ", x_name,
                               " need the same batch and head dims [B, H] (", x_name,
                               " may also have one head): ", text("q", q, o.q_path), ", ",
                               text("k", k, o.k_path), ", ", text(x_name, x, x_path)));
    }
    sel::SelectivitySource src =
        sel::source_from_arrays(q.values, k.values, x.values, o.causal, o.tokens,
                                str_cat("NPY q=", o.q_path, " k=", o.k_path, " x(", o.tokens,
                                        ")=", x_path, o.causal ? ", causal" : ""));
    if (batched) {
      for (std::size_t i = 0; i < src.heads.size(); ++i) {
        const auto head = static_cast<Index>(i);
        src.heads[i].label = str_cat("b", head / q.heads(), ".h", head % q.heads());
      }
    }
    return src;
  }
  if (!o.v_path.empty() || !o.hidden_path.empty() || o.causal) {
    throw UsageError("selectivity: --v, --hidden and --causal need NPY input (--q and --k)");
  }
  require_memory(str_cat("selectivity: --heads ", o.synthetic.heads, " --dim ", o.synthetic.dim,
                         " --length ", o.synthetic.length),
                 sel::synthetic_source_bytes(o.synthetic), memory_limit(o.max_memory),
                 "queries, keys and token vectors of every synthetic head");
  return sel::make_synthetic_source(o.synthetic);
}

void apply_sweeps(const std::vector<std::string>& names, sel::SelectivityOptions& s) {
  s.sweep_length = s.sweep_count = s.sweep_critical = s.sweep_separability = s.sweep_sensitivity =
      false;
  for (const auto& n : names) {
    if (n == "all") {
      s.sweep_length = s.sweep_count = s.sweep_critical = s.sweep_separability =
          s.sweep_sensitivity = true;
    } else if (n == "length") {
      s.sweep_length = true;
    } else if (n == "count") {
      s.sweep_count = true;
    } else if (n == "critical") {
      s.sweep_critical = true;
    } else if (n == "separability") {
      s.sweep_separability = true;
    } else if (n == "sensitivity") {
      s.sweep_sensitivity = true;
    } else {
      throw UsageError(str_cat("selectivity: unknown sweep '", n,
                               "' (length, count, critical, separability, sensitivity, all)"));
    }
  }
}

std::string summary_text(const sel::SelectivityResult& r) {
  std::ostringstream os;
  os << "selectivity: " << r.source.value("description", std::string()) << "\n";
  os << "T = " << fmt(r.temperature) << ", reference L = " << r.reference_length << ", form "
     << sel::to_string(r.options.form) << ", KS unit " << sel::to_string(r.options.ks_unit)
     << " at level " << r.options.ks_level << "\n";
  for (const auto& n : r.normalizers) {
    const auto& s = n.summary;
    os << "  " << n.name << ":";
    if (!n.critical.empty()) {
      os << " critical N";
      for (const auto& c : n.critical) {
        os << " L" << c.length << "=" << (c.critical >= 0 ? std::to_string(c.critical) : "none");
      }
      os << " (N/L " << fmt(s.critical_ratio, 3) << ")";
    }
    if (!n.separability.empty()) {
      os << "; N_s/N plateau " << fmt(s.ns_plateau, 3) << " (min " << fmt(s.ns_minimum, 3)
         << " at N=" << s.ns_minimum_count << ")";
    }
    if (!n.length_sweep.empty()) {
      os << "; d~ slope vs L " << fmt(s.distance_slope, 3) << ", max-alpha slope "
         << fmt(s.max_weight_slope, 3) << ", Lemma-1 band " << fmt(100 * s.band_inside_share, 4)
         << "%";
    }
    if (!n.sensitivity.empty()) {
      os << "; ||J|| slope T<=0.1 " << fmt(s.spectral_slope_small_t, 3) << ", T>=1 "
         << fmt(s.spectral_slope_large_t, 3) << ", tied T*||J|| "
         << fmt(s.tied_spectral_times_t, 4);
    }
    os << "\n";
  }
  for (const auto& sp : r.spread_sweep) {
    os << "  spread " << sp.spread << " at L=" << sp.length << ":";
    for (std::size_t v = 0; v < sp.normalizers.size(); ++v) {
      os << " " << sp.normalizers[v] << "="
         << (sp.critical[v] >= 0 ? std::to_string(sp.critical[v]) : "none");
    }
    os << "\n";
  }
  os << "time " << fmt(r.seconds, 3) << " s\n";
  return os.str();
}

void run_selectivity_command(SelectivityCliOptions o, const CLI::App& cmd) {
  RunInfo info = begin_run("selectivity", o.common);
  auto given = [&](const char* flag) { return cmd.get_option(flag)->count() > 0; };
  if (given("--window")) {
    throw UsageError(
        "selectivity: --window was renamed --max-tokens (the first N tokens of --text, as in "
        "inspect and perplexity; --window is the attention window in attend)");
  }
  (void)memory_limit(o.max_memory);  // a bad --max-memory fails before any work
  // --quick: smaller defaults; flags given explicitly still win.
  sel::SelectivityOptions s =
      o.quick ? sel::SelectivityOptions::quick() : sel::SelectivityOptions{};
  if (o.quick) {
    if (!given("--heads")) o.synthetic.heads = 16;
    if (!given("--queries")) o.synthetic.queries = 8;
  }
  if (given("--lengths")) s.lengths = o.study.lengths;
  if (!given("--length")) {
    Index mx = 2;
    for (Index L : s.lengths) mx = std::max(mx, L);
    o.synthetic.length = mx;
  }
  o.synthetic.seed = o.common.seed;
  s.normalizers.clear();
  for (const auto& n : o.normalizers) s.normalizers.push_back(sel::parse_study_normalizer(n));
  apply_sweeps(o.sweeps, s);
  s.form = sel::parse_distance_form(o.form);
  s.ks_unit = sel::parse_ks_unit(o.ks_unit);
  if (given("--temperature")) s.temperature = o.study.temperature;
  if (given("--ssmax-s")) s.ssmax_s = o.study.ssmax_s;
  if (given("--n-at-length")) s.length_sweep_count = o.study.length_sweep_count;
  if (given("--counts")) s.counts = o.study.counts;
  if (given("--reference-length")) s.reference_length = o.study.reference_length;
  if (given("--separability-counts")) s.separability_counts = o.study.separability_counts;
  if (given("--critical-lengths")) s.critical_lengths = o.study.critical_lengths;
  if (given("--critical-grid")) s.critical_grid = o.study.critical_grid;
  s.critical_refine = !o.no_refine;
  if (given("--ks-level")) s.ks_level = o.study.ks_level;
  if (given("--draws")) s.draws = o.study.draws;
  if (given("--ks-draws")) s.ks_draws = o.study.ks_draws;
  if (given("--max-queries")) s.max_queries = o.study.max_queries;
  if (given("--sensitivity-queries")) s.sensitivity_queries = o.study.sensitivity_queries;
  if (given("--eps")) s.fd_eps = o.study.fd_eps;
  if (given("--temperatures")) {
    if (given("--t-min") || given("--t-max") || given("--t-points")) {
      throw UsageError("selectivity: give either --temperatures or --t-min/--t-max/--t-points");
    }
    s.temperatures = o.study.temperatures;
  } else if (given("--t-min") || given("--t-max") || given("--t-points") || !o.quick) {
    if (!(o.t_min > 0) || !(o.t_max > o.t_min) || o.t_points < 2) {
      throw UsageError(str_cat("selectivity: need 0 < --t-min < --t-max and --t-points >= 2, got ",
                               o.t_min, ", ", o.t_max, ", ", o.t_points));
    }
    s.temperatures.clear();
    for (Index i = 0; i < o.t_points; ++i) {
      const double f = static_cast<double>(i) / static_cast<double>(o.t_points - 1);
      s.temperatures.push_back(o.t_min * std::pow(o.t_max / o.t_min, f));
    }
  }
  s.seed = o.common.seed;
  s.progress = true;

  Timings timings;
  sel::SelectivitySource source;
  {
    auto t = timings.scope("source");
    source = load_source(o, cmd);
  }
  sel::SelectivityResult result;
  {
    auto t = timings.scope("study");
    result = sel::run_selectivity(source, s);
    if (source.kind == "synthetic") result.source["synthetic"] = o.synthetic.to_json();
  }
  if (!o.spread_sweep.empty()) {
    if (source.kind != "synthetic") {
      throw UsageError("selectivity: --spread-sweep needs synthetic tokens (it regenerates them)");
    }
    auto t = timings.scope("spread_sweep");
    result.spread_sweep = sel::run_spread_sweep(o.synthetic, s, o.spread_sweep, o.spread_length);
  }

  OutputSet outputs;
  if (!o.common.json_path.empty()) {
    outputs.add(o.common.json_path,
                dump_json(make_result_envelope(info, timings, sel::to_json(result))));
  }
  if (!o.out_dir.empty()) {
    for (auto& [name, text] : sel::to_csv_tables(result)) {
      outputs.add(std::filesystem::path(o.out_dir) / name, std::move(text));
    }
  }
  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec)
      throw InputError(
          str_cat("selectivity: cannot create --out-dir '", o.out_dir, "': ", ec.message()));
  }
  outputs.commit();
  std::fputs(summary_text(result).c_str(), stdout);
}

void register_selectivity(CLI::App& app) {
  auto opts = std::make_shared<SelectivityCliOptions>();
  auto* cmd = app.add_subcommand(
      "selectivity",
      "The selection limits of softmax vs sparsemax, entmax-1.5 and scalable-softmax\n"
      "(SCIENCE.md §4): top-N distance d~ and its random-subset baseline, critical N by an exact\n"
      "two-sample KS test, geometric separability N_s/N, Jacobian sensitivity vs temperature\n"
      "(analytic and finite differences) and the Lemma 1 length band. Logits are q.k / T.\n"
      "Source: synthetic tokens on a sphere (default), NPY q/k/v ([H, N, d] or [N, d]), or q/k/v\n"
      "captured from a GPT-2 (--model PATH --text FILE).");
  auto* o = opts.get();
  cmd->add_flag("--quick", o->quick,
                "Small sizes (lengths 32..256, 16 heads x 8 queries, 100/8 draws, 9 temperatures)");
  // Source: NPY.
  cmd->add_option("--q", o->q_path, "Queries NPY [H, Q, dk] or [Q, dk] (raw projections)");
  cmd->add_option("--k", o->k_path, "Keys NPY [H, L, dk] or [L, dk]");
  cmd->add_option("--v", o->v_path,
                  "Values NPY [H, L, dv] or [L, dv] (token vectors, --tokens value)");
  cmd->add_option("--hidden", o->hidden_path,
                  "Hidden states NPY [L, D] shared by all heads (token vectors, --tokens hidden)");
  cmd->add_option("--tokens", o->tokens,
                  "Token vectors x_j for NPY or --model input: value | hidden")
      ->check(CLI::IsMember({"value", "hidden"}))
      ->default_val("value");
  cmd->add_flag("--causal", o->causal,
                "NPY input is causal: query i sits at position i + (L - Q); at length L' a query "
                "uses the L' keys ending at its position");
  // Source: a GPT-2.
  cmd->add_option("--model", o->model_path,
                  "GPT-2 to capture q/k/v from: a directory (model.safetensors + config.json, or "
                  "gpt2_124M.bin), a .safetensors file or an llm.c .bin file");
  cmd->add_option("--text", o->text_path, "Text for --model ('-' = stdin)");
  cmd->add_option("--tokenizer", o->tokenizer_dir,
                  "Tokenizer directory for --model (default: the model's directory)");
  cmd->add_option("--layers", o->layers, "Layers captured with --model (default: all)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-tokens", o->max_tokens,
                  "--model: tokens of --text in the one forward pass (default 1024, at most "
                  "n_positions); the largest sweep length must fit in it")
      ->check(positive_number());
  cmd->add_option("--window", o->old_window, "")->group("");  // renamed: --max-tokens
  cmd->add_option("--model-queries", o->model_queries,
                  "--model: the last Q positions of the window are the queries (default 16)")
      ->check(positive_number());
  // Source: synthetic.
  cmd->add_option("--heads", o->synthetic.heads, "Synthetic heads (default 32; --quick 16)")
      ->check(positive_number());
  cmd->add_option("--queries", o->synthetic.queries,
                  "Synthetic queries per head (default 16; --quick 8)")
      ->check(positive_number());
  cmd->add_option("--length", o->synthetic.length,
                  "Synthetic tokens per head (default: the largest of --lengths)")
      ->check(positive_number());
  cmd->add_option("--dim", o->synthetic.dim, "Synthetic dimension d (default 64)")
      ->check(positive_number());
  cmd->add_option("--radius", o->synthetic.radius, "Sphere radius M (default sqrt(d))")
      ->check(positive_number());
  cmd->add_option("--spacing", o->synthetic.spacing, "Minimum token spacing delta (default M/2)")
      ->check(non_negative_number());
  cmd->add_flag("--independent-tokens", o->synthetic.independent_tokens,
                "Synthetic token vectors drawn independently of the keys (default: x = k)");
  cmd->add_option("--gain-spread", o->synthetic.gain_spread,
                  "Per-head logit gain exp(s*z), z ~ N(0,1) (default 0: identical heads)")
      ->check(non_negative_number());
  cmd->add_option("--value-spread", o->synthetic.value_spread,
                  "Per-head token scale exp(s*z), z ~ N(0,1) (default 0)")
      ->check(non_negative_number());
  // Normalizers and logits.
  cmd->add_option("--normalizers", o->normalizers,
                  "Comma list of softmax, sparsemax, entmax15, ssmax (default: all four)")
      ->delimiter(',');
  cmd->add_option("--temperature", o->study.temperature, "T of logits q.k / T (default sqrt(dk))")
      ->check(positive_number());
  cmd->add_option("--ssmax-s", o->study.ssmax_s,
                  "Scalable-softmax s: logits x s*log(L) (default 1)")
      ->check(positive_number());
  // Sweeps.
  cmd->add_option(
         "--sweeps", o->sweeps,
         "Comma list of length, count, critical, separability, sensitivity, all (default all)")
      ->delimiter(',');
  cmd->add_option(
         "--lengths", o->study.lengths,
         "L values of the length sweep (default 32,64,128,256,512,1024; --quick up to 256)")
      ->delimiter(',')
      ->check(CLI::Range(Index{2}, Index{1} << 24));
  cmd->add_option("--n-at-length", o->study.length_sweep_count, "N of the length sweep (default 5)")
      ->check(positive_number());
  cmd->add_option("--counts", o->study.counts,
                  "N values at the reference length (default 1,5,10,20,50,100)")
      ->delimiter(',')
      ->check(positive_number());
  cmd->add_option("--reference-length", o->study.reference_length,
                  "L of the N, separability and sensitivity sweeps (default: largest length)")
      ->check(positive_number());
  cmd->add_option("--separability-counts", o->study.separability_counts,
                  "N values of the separability sweep (default 1,2,3,4,6,8,12,...,128)")
      ->delimiter(',')
      ->check(positive_number());
  cmd->add_option("--critical-lengths", o->study.critical_lengths,
                  "L values of the critical-N sweep (default: --lengths)")
      ->delimiter(',')
      ->check(CLI::Range(Index{2}, Index{1} << 24));
  cmd->add_option("--critical-grid", o->study.critical_grid,
                  "Increasing N grid scanned for the critical N, plus L-1 (default "
                  "1,2,4,8,16,32,48,...,512,768)")
      ->delimiter(',');
  cmd->add_flag("--no-refine", o->no_refine,
                "Report the first accepting grid N without bisecting inside the grid bracket");
  cmd->add_option("--form", o->form,
                  "d~ used by the critical-N test: sum (sum of distances, default) | norm (norm of "
                  "the sum); both forms are reported")
      ->check(CLI::IsMember({"sum", "norm"}))
      ->default_val("sum");
  cmd->add_option("--ks-level", o->study.ks_level, "KS significance level (default 0.05)")
      ->check(positive_number());
  cmd->add_option("--ks-unit", o->ks_unit,
                  "KS sample element: head (mean over a head's queries, the paper) | query")
      ->check(CLI::IsMember({"head", "query"}))
      ->default_val("head");
  cmd->add_option("--draws", o->study.draws,
                  "Random N-subsets per query, distance sweeps (default 200)")
      ->check(positive_number());
  cmd->add_option("--ks-draws", o->study.ks_draws,
                  "Random N-subsets per query, critical N (default 8)")
      ->check(positive_number());
  cmd->add_option("--max-queries", o->study.max_queries, "Queries per head and length (default 8)")
      ->check(positive_number());
  cmd->add_option("--sensitivity-queries", o->study.sensitivity_queries,
                  "Queries per head in the sensitivity sweep (default 4)")
      ->check(positive_number());
  cmd->add_option("--temperatures", o->study.temperatures,
                  "Explicit T grid of the sensitivity sweep (overrides --t-min/--t-max/--t-points)")
      ->delimiter(',');
  cmd->add_option("--t-min", o->t_min, "Smallest T of the log grid (default 1e-3)")
      ->check(positive_number());
  cmd->add_option("--t-max", o->t_max, "Largest T of the log grid (default 10)")
      ->check(positive_number());
  cmd->add_option("--t-points", o->t_points, "Points of the log T grid (default 13)")
      ->check(positive_number());
  cmd->add_option("--eps", o->study.fd_eps,
                  "Finite-difference steps on the scores (default 1e-3,0.1,10)")
      ->delimiter(',');
  cmd->add_option("--spread-sweep", o->spread_sweep,
                  "Synthetic only: also find the critical N for populations with gain = value "
                  "spread = each value (e.g. 0,0.5,1,2)")
      ->delimiter(',');
  cmd->add_option("--spread-length", o->spread_length, "L of the spread sweep (default 256)")
      ->check(positive_number());
  cmd->add_option("--out-dir", o->out_dir, "Also write one CSV per sweep into this directory");
  add_max_memory_option(cmd, opts->max_memory);
  add_common_options(cmd, opts->common);
  cmd->callback([opts, cmd] { run_selectivity_command(*opts, *cmd); });
}

}  // namespace

static const CommandRegistrar registrar(60, register_selectivity);

}  // namespace attnlab::cli
