#include "attnlab/analysis/inspect/head_inspection.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"

namespace attnlab::analysis {
namespace {

using models::gpt2::ForwardOptions;
using models::gpt2::ForwardResult;
using models::gpt2::Gpt2Model;
using models::gpt2::LogitsMode;
using models::gpt2::PositionMode;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Running sums for one head.
struct HeadSums {
  Index rows = 0, ent_rows = 0, top8_rows = 0;
  double norm_entropy = 0, entropy = 0, support = 0, support_share = 0;
  double sink = 0, self = 0, prev = 0, max_weight = 0, top8 = 0, wasted_mass = 0;
  double below = 0, wasted = 0, entries = 0;  // entry counts
};

double mean(double sum, Index count) {
  return count > 0 ? sum / static_cast<double>(count) : kNaN;
}

double num(const nlohmann::json& v) {
  return v.is_null() ? kNaN : v.get<double>();
}

nlohmann::json matrix_to_json(const MatrixD& m) {
  nlohmann::json rows = nlohmann::json::array();
  for (Index i = 0; i < m.rows(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (Index j = 0; j < m.cols(); ++j) {
      if (std::isnan(m(i, j))) {
        row.push_back(nullptr);
      } else {
        row.push_back(m(i, j));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

MatrixD matrix_from_json(const nlohmann::json& j) {
  if (!j.is_array()) throw FormatError("inspect result: map is not an array");
  const auto n = static_cast<Index>(j.size());
  const Index m = n ? static_cast<Index>(j[0].size()) : 0;
  MatrixD out(n, m);
  for (Index i = 0; i < n; ++i) {
    if (!j[i].is_array() || static_cast<Index>(j[i].size()) != m) {
      throw FormatError(str_cat("inspect result: map row ", i, " has the wrong length"));
    }
    for (Index c = 0; c < m; ++c) out(i, c) = num(j[i][c]);
  }
  return out;
}

// Valid UTF-8 kept; control characters as \n \t \r or \xNN; bytes that do not form valid
// UTF-8 (a token may hold part of a character) as \xNN. The result is valid UTF-8 for JSON.
std::string printable(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c < 0x20 || c == 0x7f) {
        escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && len >= 3) {  // reject overlong, surrogates and > U+10FFFF
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xe0 && c1 < 0xa0) ok = false;
      if (c == 0xed && c1 >= 0xa0) ok = false;
      if (c == 0xf0 && c1 < 0x90) ok = false;
      if (c == 0xf4 && c1 >= 0x90) ok = false;
    }
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string token_label(const models::gpt2::BpeTokenizer* tok, std::int32_t id) {
  if (tok && id >= 0 && id < tok->vocab_size()) return printable(tok->token_bytes(id));
  return "#" + std::to_string(id);
}

}  // namespace

std::string HeadDiagnostics::labels() const {
  std::string out;
  auto add = [&out](const std::string& s) {
    if (!out.empty()) out += ", ";
    out += s;
  };
  if (sink) add("sink");
  if (overloaded) add("overloaded");
  if (collapsed) add("collapsed (" + collapsed_on + ")");
  return out.empty() ? "—" : out;
}

double InspectResult::overall_sparsity() const {
  double below = 0, entries = 0;
  for (const auto& h : heads) {
    if (std::isnan(h.sparsity)) continue;
    below += h.sparsity * static_cast<double>(h.entries);
    entries += static_cast<double>(h.entries);
  }
  return entries > 0 ? below / entries : kNaN;
}

InspectResult inspect_gpt2_heads(const Gpt2Model& model, std::span<const std::int32_t> all_tokens,
                                 const models::gpt2::BpeTokenizer* tokenizer,
                                 const InspectOptions& opt, InspectSource source,
                                 Index text_bytes) {
  const auto& cfg = model.config();
  const Index L = cfg.n_layer, H = cfg.n_head;
  Index n = static_cast<Index>(all_tokens.size());
  if (opt.max_tokens > 0) n = std::min(n, opt.max_tokens);
  if (all_tokens.size() < 2) {  // the input itself is too short: an input error (exit 3)
    throw InputError(
        str_cat("inspect: the text has ", all_tokens.size(), " token(s); at least 2 are needed"));
  }
  if (n < 2) {
    throw UsageError(str_cat("inspect: --max-tokens ", opt.max_tokens,
                             " keeps fewer than the 2 tokens inspection needs"));
  }
  const Index W = opt.context > 0 ? opt.context : cfg.n_positions;
  if (W < 2 || W > cfg.n_positions) {
    throw UsageError(
        str_cat("inspect: context ", W, " must be in [2, n_positions = ", cfg.n_positions, "]"));
  }
  if (opt.map_tokens < 2 || opt.auto_maps < 0 || (opt.order_test && opt.order_tokens < 4)) {
    throw UsageError("inspect: need map_tokens >= 2, auto_maps >= 0 and order_tokens >= 4");
  }
  const std::span<const std::int32_t> tokens = all_tokens.first(static_cast<std::size_t>(n));

  InspectResult r;
  r.source = std::move(source);
  r.source.model = printable(r.source.model);
  r.source.tokenizer = printable(r.source.tokenizer);
  r.source.text = printable(r.source.text);
  r.model_description = cfg.describe();
  r.n_layer = L;
  r.n_head = H;
  r.n_embd = cfg.n_embd;
  r.n_positions = cfg.n_positions;
  r.vocab_size = cfg.vocab_size;
  r.positions = std::string(models::gpt2::to_string(cfg.position_mode));
  r.attention = opt.attention ? models::gpt2::describe_attention_override(*opt.attention)
                              : cfg.attention.describe();
  r.attention_spec = opt.attention.value_or(cfg.attention.spec).to_json();
  r.sink_threshold = opt.sink_threshold;
  r.overloaded_threshold = opt.overloaded_threshold;
  r.collapsed_threshold = opt.collapsed_threshold;
  r.text_bytes = text_bytes;
  r.tokens = n;
  r.context = W;
  r.seed = opt.seed;

  // ---- streamed diagnostics over chunks ----
  std::vector<HeadSums> sums(static_cast<std::size_t>(L * H));
  ForwardOptions fo;
  fo.attention = opt.attention;
  fo.diagnostics = true;
  fo.logits = LogitsMode::none;
  const Index chunks = (n + W - 1) / W;
  auto cache = model.make_cache(std::min(W, n));
  for (Index c = 0; c < chunks; ++c) {
    const Index begin = c * W, len = std::min(W, n - begin);
    if (len < 2) break;  // a 1-token tail has no row at position >= 1
    cache.clear();
    const ForwardResult res = model.forward(
        tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(len)), cache, fo);
    ++r.chunks;
    for (Index l = 0; l < L; ++l) {
      const auto& cap = res.layers[static_cast<std::size_t>(l)];
      for (Index h = 0; h < H; ++h) {
        HeadSums& s = sums[static_cast<std::size_t>(l * H + h)];
        for (Index i = 1; i < len; ++i) {
          const auto st = cap.rows.get(h, i);
          if (st.visible < 1) continue;
          const double vis = static_cast<double>(st.visible);
          ++s.rows;
          s.entropy += st.entropy;
          s.support += std::exp(st.entropy);
          if (st.visible >= 2) {
            ++s.ent_rows;
            s.norm_entropy += st.norm_entropy;
            s.support_share += std::exp(st.entropy) / vis;
          }
          s.sink += st.sink_mass;
          s.self += cap.self_weight(h, i);
          s.prev += std::isnan(cap.prev_weight(h, i)) ? 0.0 : cap.prev_weight(h, i);
          s.max_weight += st.max_weight;
          if (st.visible > 8) {
            ++s.top8_rows;
            s.top8 += st.top8_mass;
          }
          s.below += st.below_1pct_max * vis;
          s.wasted += st.wasted_share * vis;
          s.entries += vis;
          s.wasted_mass += st.wasted_mass;
        }
      }
    }
    if (opt.on_chunk) opt.on_chunk(c + 1, chunks);
  }
  for (Index l = 0; l < L; ++l)
    for (Index h = 0; h < H; ++h) {
      const HeadSums& s = sums[static_cast<std::size_t>(l * H + h)];
      HeadDiagnostics d;
      d.layer = l;
      d.head = h;
      d.rows = s.rows;
      d.entries = static_cast<Index>(s.entries);
      d.norm_entropy = mean(s.norm_entropy, s.ent_rows);
      d.entropy = mean(s.entropy, s.rows);
      d.effective_support = mean(s.support, s.rows);
      d.support_share = mean(s.support_share, s.ent_rows);
      d.sink_mass = mean(s.sink, s.rows);
      d.self_mass = mean(s.self, s.rows);
      d.prev_mass = mean(s.prev, s.rows);
      d.max_weight = mean(s.max_weight, s.rows);
      d.top8_mass = mean(s.top8, s.top8_rows);
      d.sparsity = s.entries > 0 ? s.below / s.entries : kNaN;
      d.wasted_share = s.entries > 0 ? s.wasted / s.entries : kNaN;
      d.wasted_mass = mean(s.wasted_mass, s.rows);
      d.sink = d.sink_mass > opt.sink_threshold;
      d.overloaded = d.norm_entropy > opt.overloaded_threshold;
      if (d.sink_mass > opt.collapsed_threshold) {
        d.collapsed = true;
        d.collapsed_on = "first token";
      } else if (d.self_mass > opt.collapsed_threshold) {
        d.collapsed = true;
        d.collapsed_on = "current token";
      }
      r.rows += s.rows;
      r.heads.push_back(d);
    }

  // ---- maps ----
  std::vector<std::pair<models::gpt2::MapRequest, std::string>> wanted;
  for (const auto& m : opt.maps) wanted.push_back({m, "requested"});
  if (opt.maps.empty() && opt.auto_maps > 0) {
    auto pick = [&](const char* why, auto key) {
      const HeadDiagnostics* best = nullptr;
      for (const auto& d : r.heads) {
        if (std::isnan(key(d))) continue;
        if (!best || key(d) > key(*best)) best = &d;
      }
      if (!best || static_cast<Index>(wanted.size()) >= opt.auto_maps) return;
      for (const auto& w : wanted)
        if (w.first.layer == best->layer && w.first.head == best->head) return;
      wanted.push_back({{best->layer, best->head}, why});
    };
    pick("largest sink mass", [](const HeadDiagnostics& d) { return d.sink_mass; });
    pick("lowest normalized entropy", [](const HeadDiagnostics& d) { return -d.norm_entropy; });
    pick("largest previous-token mass", [](const HeadDiagnostics& d) { return d.prev_mass; });
    pick("highest normalized entropy", [](const HeadDiagnostics& d) { return d.norm_entropy; });
    pick("largest self mass", [](const HeadDiagnostics& d) { return d.self_mass; });
  }
  if (!wanted.empty()) {
    const Index m = std::min({opt.map_tokens, n, W});
    ForwardOptions mo;
    mo.attention = opt.attention;
    mo.logits = LogitsMode::none;
    for (const auto& w : wanted) mo.maps.push_back(w.first);
    const ForwardResult res = model.forward(tokens.first(static_cast<std::size_t>(m)), mo);
    std::vector<std::string> labels;
    for (Index t = 0; t < m; ++t) labels.push_back(token_label(tokenizer, tokens[t]));
    for (std::size_t k = 0; k < wanted.size(); ++k) {
      HeadMap hm;
      hm.layer = res.maps[k].layer;
      hm.head = res.maps[k].head;
      hm.why = wanted[k].second;
      hm.tokens = labels;
      hm.weights = res.maps[k].weights;
      r.maps.push_back(std::move(hm));
    }
  }

  // ---- order test ----
  if (opt.order_test) {
    const Index m = std::min({opt.order_tokens, n, W});
    if (m >= 4) {
      r.order_tokens = m;
      const auto x = tokens.first(static_cast<std::size_t>(m));
      Rng rng(opt.seed);
      const std::vector<Index> perm = rng.permutation(m);
      std::vector<std::int32_t> px(static_cast<std::size_t>(m));
      for (Index t = 0; t < m; ++t) px[t] = x[perm[t]];
      auto change = [&](const MatrixF& a, const MatrixF& b) {
        double num2 = 0, den2 = 0;
        for (Index t = 0; t < m; ++t)
          for (Index c = 0; c < a.cols(); ++c) {
            const double u = a(perm[t], c), v = b(t, c);
            num2 += (u - v) * (u - v);
            den2 += u * u;
          }
        return std::sqrt(num2 / std::max(den2, 1e-300));
      };
      for (PositionMode p : {PositionMode::none, PositionMode::sinusoidal, PositionMode::learned,
                             PositionMode::rope, PositionMode::alibi}) {
        if (p == PositionMode::rope && cfg.head_dim() % 2 != 0) continue;
        for (bool causal : {true, false}) {
          ForwardOptions oo;
          oo.attention = opt.attention;
          oo.positions = p;
          oo.bidirectional = !causal;
          oo.hidden_states = true;
          oo.logits = LogitsMode::none;
          const ForwardResult a = model.forward(x, oo);
          const ForwardResult b = model.forward(px, oo);
          OrderTestRow row;
          row.positions = std::string(models::gpt2::to_string(p));
          row.causal = causal;
          for (Index l = 0; l < L; ++l)
            row.per_layer.push_back(change(a.hidden[static_cast<std::size_t>(l)],
                                           b.hidden[static_cast<std::size_t>(l)]));
          row.final_change = change(a.final_hidden, b.final_hidden);
          r.order.push_back(std::move(row));
        }
      }
    }
  }
  return r;
}

nlohmann::json to_json(const InspectResult& r) {
  nlohmann::json j;
  j["source"] = {{"model", r.source.model},
                 {"random_weights", r.source.random_weights},
                 {"tokenizer", r.source.tokenizer},
                 {"text", r.source.text}};
  j["model"] = {{"description", r.model_description},
                {"n_layer", r.n_layer},
                {"n_head", r.n_head},
                {"n_embd", r.n_embd},
                {"n_positions", r.n_positions},
                {"vocab_size", r.vocab_size},
                {"positions", r.positions}};
  j["attention"] = r.attention;
  j["attention_spec"] = r.attention_spec;
  j["thresholds"] = {{"sink", r.sink_threshold},
                     {"overloaded", r.overloaded_threshold},
                     {"collapsed", r.collapsed_threshold}};
  j["text"] = {{"bytes", r.text_bytes},
               {"tokens", r.tokens},
               {"chunks", r.chunks},
               {"context", r.context},
               {"rows", r.rows}};
  j["overall_sparsity"] = r.overall_sparsity();
  j["heads"] = nlohmann::json::array();
  for (const auto& h : r.heads) {
    j["heads"].push_back({{"layer", h.layer},
                          {"head", h.head},
                          {"rows", h.rows},
                          {"entries", h.entries},
                          {"norm_entropy", h.norm_entropy},
                          {"entropy", h.entropy},
                          {"effective_support", h.effective_support},
                          {"support_share", h.support_share},
                          {"sink_mass", h.sink_mass},
                          {"self_mass", h.self_mass},
                          {"prev_mass", h.prev_mass},
                          {"max_weight", h.max_weight},
                          {"sparsity", h.sparsity},
                          {"top8_mass", h.top8_mass},
                          {"wasted_share", h.wasted_share},
                          {"wasted_mass", h.wasted_mass},
                          {"sink", h.sink},
                          {"overloaded", h.overloaded},
                          {"collapsed", h.collapsed},
                          {"collapsed_on", h.collapsed_on},
                          {"labels", h.labels()}});
  }
  j["maps"] = nlohmann::json::array();
  for (const auto& m : r.maps) {
    j["maps"].push_back({{"layer", m.layer},
                         {"head", m.head},
                         {"why", m.why},
                         {"tokens", m.tokens},
                         {"weights", matrix_to_json(m.weights)}});
  }
  j["order_test"] = {
      {"tokens", r.order_tokens}, {"seed", r.seed}, {"rows", nlohmann::json::array()}};
  for (const auto& o : r.order) {
    j["order_test"]["rows"].push_back({{"positions", o.positions},
                                       {"causal", o.causal},
                                       {"per_layer", o.per_layer},
                                       {"final_change", o.final_change}});
  }
  return j;
}

InspectResult inspect_from_json(const nlohmann::json& j) {
  InspectResult r;
  try {
    const auto& s = j.at("source");
    r.source.model = s.at("model").get<std::string>();
    r.source.random_weights = s.at("random_weights").get<bool>();
    r.source.tokenizer = s.at("tokenizer").get<std::string>();
    r.source.text = s.at("text").get<std::string>();
    const auto& m = j.at("model");
    r.model_description = m.at("description").get<std::string>();
    r.n_layer = m.at("n_layer").get<Index>();
    r.n_head = m.at("n_head").get<Index>();
    r.n_embd = m.at("n_embd").get<Index>();
    r.n_positions = m.at("n_positions").get<Index>();
    r.vocab_size = m.at("vocab_size").get<Index>();
    r.positions = m.value("positions", std::string("learned"));
    r.attention = j.at("attention").get<std::string>();
    r.attention_spec = j.at("attention_spec");
    const auto& th = j.at("thresholds");
    r.sink_threshold = th.at("sink").get<double>();
    r.overloaded_threshold = th.at("overloaded").get<double>();
    r.collapsed_threshold = th.at("collapsed").get<double>();
    const auto& t = j.at("text");
    r.text_bytes = t.at("bytes").get<Index>();
    r.tokens = t.at("tokens").get<Index>();
    r.chunks = t.at("chunks").get<Index>();
    r.context = t.at("context").get<Index>();
    r.rows = t.at("rows").get<Index>();
    for (const auto& h : j.at("heads")) {
      HeadDiagnostics d;
      d.layer = h.at("layer").get<Index>();
      d.head = h.at("head").get<Index>();
      d.rows = h.at("rows").get<Index>();
      d.entries = h.at("entries").get<Index>();
      d.norm_entropy = num(h.at("norm_entropy"));
      d.entropy = num(h.at("entropy"));
      d.effective_support = num(h.at("effective_support"));
      d.support_share = num(h.at("support_share"));
      d.sink_mass = num(h.at("sink_mass"));
      d.self_mass = num(h.at("self_mass"));
      d.prev_mass = num(h.at("prev_mass"));
      d.max_weight = num(h.at("max_weight"));
      d.sparsity = num(h.at("sparsity"));
      d.top8_mass = num(h.at("top8_mass"));
      d.wasted_share = num(h.at("wasted_share"));
      d.wasted_mass = num(h.at("wasted_mass"));
      d.sink = h.at("sink").get<bool>();
      d.overloaded = h.at("overloaded").get<bool>();
      d.collapsed = h.at("collapsed").get<bool>();
      d.collapsed_on = h.at("collapsed_on").get<std::string>();
      r.heads.push_back(std::move(d));
    }
    if (static_cast<Index>(r.heads.size()) != r.n_layer * r.n_head) {
      throw FormatError(
          str_cat("inspect result: ", r.heads.size(), " heads for L=", r.n_layer, " H=", r.n_head));
    }
    for (const auto& m2 : j.at("maps")) {
      HeadMap hm;
      hm.layer = m2.at("layer").get<Index>();
      hm.head = m2.at("head").get<Index>();
      hm.why = m2.at("why").get<std::string>();
      hm.tokens = m2.at("tokens").get<std::vector<std::string>>();
      hm.weights = matrix_from_json(m2.at("weights"));
      r.maps.push_back(std::move(hm));
    }
    const auto& ot = j.at("order_test");
    r.order_tokens = ot.at("tokens").get<Index>();
    r.seed = ot.at("seed").get<std::uint64_t>();
    for (const auto& o : ot.at("rows")) {
      OrderTestRow row;
      row.positions = o.at("positions").get<std::string>();
      row.causal = o.at("causal").get<bool>();
      for (const auto& v : o.at("per_layer")) row.per_layer.push_back(num(v));
      row.final_change = num(o.at("final_change"));
      r.order.push_back(std::move(row));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("inspect result JSON: ", e.what()));
  }
  return r;
}

}  // namespace attnlab::analysis
