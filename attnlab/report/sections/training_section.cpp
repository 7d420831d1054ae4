#include "attnlab/report/sections/training_section.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "attnlab/core/error.hpp"
#include "attnlab/report/figures.hpp"
#include "attnlab/report/html.hpp"

namespace attnlab::report {
namespace {

using json = nlohmann::json;
constexpr double kLn2 = std::numbers::ln2;
// reference/tinylm_longcontext_anchors.md §6 (bits/char over the whole KJV file, and the
// anchor's held-out Witten–Bell table, labelled there by context length).
constexpr double kBzip2 = 1.679, kXz = 1.749, kGzip = 2.334, kAnchorNgram = 1.901;

std::string h3(const std::string& text) {
  return "<h3>" + html_escape(text) + "</h3>";
}

std::string fmt(double v, int digits = 4) {
  return format_number(v, digits);
}

double get(const json& j, const char* key, double fallback = std::nan("")) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

std::string loss_figure(const json& train, const json& baselines) {
  const json& curve = train.at("history").at("curve");
  const json& evals = train.at("history").at("evals");
  LinePlot p;
  p.title = "Training curve (bits per character)";
  p.x_label = "step";
  p.y_label = "bits / char";
  Series tr{"train loss (mean of " + std::string("each block") + ")"};
  const std::size_t block = std::max<std::size_t>(1, curve.size() / 60);
  for (std::size_t i = 0; i + block <= curve.size(); i += block) {
    double s = 0;
    for (std::size_t k = i; k < i + block; ++k) s += curve[k].at("loss").get<double>();
    tr.x.push_back(curve[i + block - 1].at("step").get<double>());
    tr.y.push_back(s / static_cast<double>(block) / kLn2);
  }
  tr.name = str_cat("train (mean of ", block, " steps)");
  tr.style = SeriesStyle::kLines;
  Series va{"validation windows"};
  for (const auto& e : evals) {
    va.x.push_back(e.at("step").get<double>());
    va.y.push_back(e.at("val_loss").get<double>() / kLn2);
  }
  p.series = {tr, va};
  if (!baselines.is_null()) {
    p.reference_lines.push_back(
        ReferenceLine::at_y(baselines.at("best_bits_per_token").get<double>(),
                            str_cat("n-gram (order ", baselines.at("best_order").get<int>(), ")")));
    p.reference_lines.push_back(
        ReferenceLine::at_y(baselines.at("unigram_heldout_bits").get<double>(), "unigram"));
  }
  p.reference_lines.push_back(ReferenceLine::at_y(kBzip2, "bzip2 -9 (whole file)"));
  p.y_min = 1.0;
  p.y_max = 5.0;
  return line_plot(p);
}

std::string sink_figure(const json& train) {
  const json& evals = train.at("history").at("evals");
  if (evals.empty()) return "";
  LinePlot p;
  p.title = "Sink emergence during training";
  p.x_label = "step";
  p.y_label = "share / mass";
  Series s1{"Sink₁^ε (share of layer×head with α₁ > ε)"};
  const std::size_t L = evals[0].at("sinks").at("layer_mass").size();
  std::vector<Series> layers(L);
  for (std::size_t l = 0; l < L; ++l) {
    layers[l].name = str_cat("layer ", l, " mean α on token 0");
    layers[l].dash = 2;
  }
  Series slot{"learnable slot: share with α > ε"};
  for (const auto& e : evals) {
    const double step = e.at("step").get<double>();
    const json& s = e.at("sinks");
    s1.x.push_back(step);
    s1.y.push_back(s.at("sink1").get<double>());
    for (std::size_t l = 0; l < L; ++l) {
      layers[l].x.push_back(step);
      layers[l].y.push_back(s.at("layer_mass")[l].get<double>());
    }
    if (s.value("has_slot", false)) {
      slot.x.push_back(step);
      slot.y.push_back(s.at("slot_sink").get<double>());
    }
  }
  p.series.push_back(s1);
  for (auto& l : layers) p.series.push_back(l);
  if (!slot.x.empty()) p.series.push_back(slot);
  p.reference_lines.push_back(
      ReferenceLine::at_y(evals[0].at("sinks").at("eps").get<double>(), "ε"));
  p.y_min = 0.0;
  p.y_max = 1.0;
  return line_plot(p);
}

std::string baseline_table(const json& train, const json& baselines) {
  const double val = get(train, "final_val_loss");
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"this tiny LM, whole validation split", fmt(val / kLn2), fmt(val), "measured"});
  if (!baselines.is_null()) {
    for (const auto& o : baselines.at("orders")) {
      rows.push_back({str_cat("Witten–Bell n-gram, order ", o.at("order").get<int>(), " (",
                              o.at("order").get<int>() - 1, " chars of context)"),
                      fmt(o.at("bits_per_token").get<double>()),
                      fmt(o.at("nats_per_token").get<double>()), "measured, same split"});
    }
    rows.push_back({"unigram (train frequencies, add-one) on validation",
                    fmt(baselines.at("unigram_heldout_bits").get<double>()),
                    fmt(baselines.at("unigram_heldout_bits").get<double>() * kLn2),
                    "measured, same split"});
    rows.push_back({"unigram entropy of the train split",
                    fmt(baselines.at("unigram_entropy_bits").get<double>()),
                    fmt(baselines.at("unigram_entropy_bits").get<double>() * kLn2), "measured"});
  }
  rows.push_back({"anchor: Witten–Bell held-out, labelled \"order 5\"", fmt(kAnchorNgram),
                  fmt(kAnchorNgram * kLn2), "reference file §6"});
  rows.push_back(
      {"anchor: bzip2 -9 (whole file)", fmt(kBzip2), fmt(kBzip2 * kLn2), "reference file §6"});
  rows.push_back({"anchor: xz -9e (whole file)", fmt(kXz), fmt(kXz * kLn2), "reference file §6"});
  rows.push_back(
      {"anchor: gzip -9 (whole file)", fmt(kGzip), fmt(kGzip * kLn2), "reference file §6"});
  return html_table({"model", "bits / char", "nats / char", "source"}, rows);
}

std::string heads_table(const json& heads) {
  const json& t = heads.at("trained").at("layers");
  const json& b = heads.at("before").at("layers");
  std::vector<std::vector<std::string>> rows;
  for (std::size_t l = 0; l < t.size(); ++l) {
    auto cell = [&](const char* key) {
      return fmt(t[l].at(key).get<double>(), 3) + " (" + fmt(b[l].at(key).get<double>(), 3) + ")";
    };
    rows.push_back(
        {std::to_string(l), cell("norm_entropy"), cell("sink_mass"), cell("prev_mass"),
         cell("sparsity"), cell("wasted_share"),
         str_cat(t[l].at("sink_heads").get<int>(), " (", b[l].at("sink_heads").get<int>(), ")")});
  }
  TableOptions o;
  o.auto_numeric = false;
  return html_table({"layer", "norm. entropy", "sink mass (token 0)", "previous-token mass",
                     "sparsity (< 1% of row max)", "wasted work (< 1% of mass)", "sink heads"},
                    rows, o);
}

std::string verdicts(const json& j) {
  const json& train = j.at("train");
  const json& baselines = train.at("baselines");
  const double bits = get(train, "final_val_loss") / kLn2;
  std::string out;
  if (!baselines.is_null()) {
    const double ngram = baselines.at("best_bits_per_token").get<double>();
    out += callout(
        bits < ngram ? CalloutKind::kAgrees : CalloutKind::kDisagrees, "Against the n-gram floor",
        str_cat("Held-out loss ", fmt(bits),
                " bits/char vs attnlab's best n-gram on the same "
                "split ",
                fmt(ngram), " bits/char (order ", baselines.at("best_order").get<int>(),
                "): the transformer is ", bits < ngram ? "below" : "above", " it by ",
                fmt(std::abs(bits - ngram), 3), " bits/char. The issue's stretch goal (≤ 1.6) is ",
                bits <= 1.6 ? "met" : "not met", "; bzip2 -9 reaches ", fmt(kBzip2),
                " on the whole file (it also sees the text it is scored on)."));
    if (std::abs(ngram - kAnchorNgram) < 0.02) {
      out += note(str_cat(
          "attnlab's n-gram reproduces the anchor's 1.901 bits/char at order ",
          baselines.at("best_order").get<int>(),
          " in the standard convention (order k = k − 1 characters of context); the anchor file "
          "labels the same model \"order 5\" by its context length."));
    }
  }
  const json& evals = train.at("history").at("evals");
  if (!evals.empty()) {
    const json& s = evals.back().at("sinks");
    const double tokens = train.at("options").at("batch").get<double>() *
                          train.at("options").at("context").get<double>() *
                          train.at("steps_done").get<double>();
    out += callout(
        CalloutKind::kNote, "Sinks vs Gu et al.",
        str_cat("After ", fmt(tokens / 1e6, 3), "M training tokens Sink₁^", fmt(s.at("eps"), 2),
                " = ", format_percent(s.at("sink1").get<double>()), " of layer×head pairs (T = ",
                s.at("seq").get<int>(), ", ", s.at("sequences").get<int>(),
                " validation sequences, no BOS). Gu et al. find < 1% for 60M-parameter models "
                "trained on 50–100M tokens and 18% after 5B tokens (4 epochs): a model this "
                "small trained on this little data is expected near the bottom of that range."));
  }
  return out;
}

}  // namespace

std::string render_training_section(const json& j) {
  const json& train = j.at("train");
  const json& opt = train.at("options");
  const json& ds = train.at("dataset");
  const json& cache = j.at("cache");
  std::string body = paragraph(str_cat(
      "Every model-based section of this report reads this model: a ",
      train.at("model_description").get<std::string>(),
      " trained by attnlab's own C++ trainer "
      "(`attnlab train`) on ",
      ds.at("corpus").get<std::string>(), " (sha256 ",
      ds.at("corpus_sha256").get<std::string>().substr(0, 16), "…, ",
      ds.at("corpus_bytes").get<std::size_t>(), " bytes, ", ds.at("tokenizer").get<std::string>(),
      " tokens; split ", ds.at("split").get<std::string>(), ": ",
      ds.at("train_tokens").get<std::size_t>(), " train / ", ds.at("val_tokens").get<std::size_t>(),
      " validation). Recipe: ", opt.at("steps").get<int>(), " AdamW steps of ",
      opt.at("batch").get<int>(), " × ", opt.at("context").get<int>(), " tokens, lr ",
      fmt(opt.at("lr")), " → ", fmt(opt.at("min_lr")), " (warmup ", opt.at("warmup").get<int>(),
      ", cosine), weight decay ", fmt(opt.at("weight_decay")), " on matrices, clip ",
      fmt(opt.at("clip")), ", seed ", opt.at("seed").get<int>(), ". ",
      cache.at("from_cache").get<bool>()
          ? str_cat("Read from the cache (key ", cache.at("key").get<std::string>(),
                    ", trainer sources ", cache.at("source_revision").get<std::string>(), ").")
          : str_cat("Trained in this run in ", fmt(cache.at("seconds"), 3), " s (cached as ",
                    cache.at("key").get<std::string>(), ")."),
      " Throughput: ", fmt(train.at("tokens_per_second"), 3),
      " tokens/s (median step, evaluation excluded); the PyTorch comparison is in bench/train."));
  body += h3("Loss against attnlab's own baselines");
  body += figure(loss_figure(train, train.at("baselines")),
                 "Bits per character on the training batches and on the fixed validation "
                 "windows; horizontal lines: the n-gram and unigram baselines measured on the "
                 "same split, and bzip2 on the whole file.");
  body += baseline_table(train, train.at("baselines"));
  body += verdicts(j);
  body += h3("Sink emergence");
  const std::string sf = sink_figure(train);
  if (!sf.empty()) {
    body += figure(sf,
                   "Gu et al.'s Sink₁^ε and each layer's mean attention on the first token (α₁ "
                   "= mean over the queries that see it), on validation windows at every "
                   "evaluation; step 0 is the initialization.");
  }
  body += h3("What the trained heads do");
  body += paragraph(str_cat(
      "Per-layer means over heads on ", j.at("sample_bytes").get<int>(),
      " held-out KJV bytes (context ", j.at("heads").at("trained").at("context").get<int>(),
      "), trained model first and the same model before training in parentheses. Sparsity: "
      "share of visible entries below 1% of their row's maximum; wasted work: share of the N² "
      "entries carrying < 1% of the row's mass (definitions: SCIENCE.md §5)."));
  body += heads_table(j.at("heads"));
  const double sparse = j.at("heads").at("trained").at("overall_sparsity").get<double>();
  body += note(str_cat(
      "Overall, ", format_percent(sparse),
      " of the trained model's attention entries fall below "
      "1% of their row maximum (before training: ",
      format_percent(j.at("heads").at("before").at("overall_sparsity").get<double>()),
      "); H2O reports > 95% for Llama-class models at long context. The inspect section below "
      "shows every head of this trained model."));
  return body;
}

}  // namespace attnlab::report
