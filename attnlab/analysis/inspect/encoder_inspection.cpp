#include "attnlab/analysis/inspect/encoder_inspection.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis {
namespace {

namespace bert = models::bert;

// What each key position of a segment is.
struct KeyClasses {
  std::vector<std::uint8_t> cls, sep, punct;  // [n]
};

bool is_punctuation_token(const std::string& t) {
  // One code point that BERT isolates as punctuation (a 1–4 byte UTF-8 sequence).
  if (t.empty() || t.size() > 4) return false;
  char32_t c = static_cast<unsigned char>(t[0]);
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
  if (len != t.size()) return false;
  if (len > 1) {
    c &= (0xFF >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(t[k]) & 0x3F);
  }
  return bert::is_bert_punctuation(c);
}

KeyClasses classify(const std::vector<std::int32_t>& ids, const bert::WordPieceTokenizer& tok) {
  KeyClasses k;
  for (std::size_t j = 0; j < ids.size(); ++j) {
    k.cls.push_back(ids[j] == tok.cls_id());
    k.sep.push_back(ids[j] == tok.sep_id());
    k.punct.push_back(is_punctuation_token(tok.token(ids[j])));
  }
  return k;
}

// Sums over rows for one head (divided by the row count at the end).
struct HeadSums {
  double cls = 0, sep = 0, punct = 0, self = 0, prev = 0, next = 0, entropy = 0, norm_entropy = 0,
         max_weight = 0, nw_cls = 0, nw_sep = 0, nw_punct = 0;
  double below_max = 0, wasted = 0, entries = 0;
  double vn_cls = 0, vn_cls_count = 0, vn_sep = 0, vn_sep_count = 0, vn_other = 0,
         vn_other_count = 0;
  double rows = 0, norm_rows = 0;
};

void accumulate_head(const Tensor3f& map, const MatrixF& vnorm, Index h, const KeyClasses& k,
                     HeadSums& s) {
  const Index n = map.dim1();
  for (Index j = 0; j < n; ++j) {
    if (k.cls[static_cast<std::size_t>(j)]) {
      s.vn_cls += vnorm(h, j), s.vn_cls_count += 1;
    } else if (k.sep[static_cast<std::size_t>(j)]) {
      s.vn_sep += vnorm(h, j), s.vn_sep_count += 1;
    } else {
      s.vn_other += vnorm(h, j), s.vn_other_count += 1;
    }
  }
  for (Index i = 0; i < n; ++i) {
    double mx = 0, ent = 0, nw_total = 0, nw_cls = 0, nw_sep = 0, nw_punct = 0;
    for (Index j = 0; j < n; ++j) {
      const double a = map(h, i, j);
      mx = std::max(mx, a);
      if (a > 0) ent -= a * std::log(a);
      const double w = a * vnorm(h, j);
      nw_total += w;
      const auto u = static_cast<std::size_t>(j);
      if (k.cls[u]) s.cls += a, nw_cls += w;
      if (k.sep[u]) s.sep += a, nw_sep += w;
      if (k.punct[u]) s.punct += a, nw_punct += w;
    }
    for (Index j = 0; j < n; ++j) {
      const double a = map(h, i, j);
      s.below_max += a < 0.01 * mx;
      s.wasted += a < 0.01;
    }
    s.entries += static_cast<double>(n);
    s.self += map(h, i, i);
    if (i > 0) s.prev += map(h, i, i - 1);
    if (i + 1 < n) s.next += map(h, i, i + 1);
    s.entropy += ent;
    if (n >= 2) s.norm_entropy += ent / std::log(static_cast<double>(n)), s.norm_rows += 1;
    s.max_weight += mx;
    if (nw_total > 0) {
      s.nw_cls += nw_cls / nw_total, s.nw_sep += nw_sep / nw_total,
          s.nw_punct += nw_punct / nw_total;
    }
    s.rows += 1;
  }
}

EncoderHead finish_head(const HeadSums& s, Index l, Index h, const EncoderInspectOptions& o) {
  EncoderHead r;
  r.layer = l, r.head = h;
  const double n = std::max(s.rows, 1.0);
  r.cls_mass = s.cls / n, r.sep_mass = s.sep / n, r.punct_mass = s.punct / n;
  r.self_mass = s.self / n, r.prev_mass = s.prev / n, r.next_mass = s.next / n;
  r.entropy = s.entropy / n, r.norm_entropy = s.norm_entropy / std::max(s.norm_rows, 1.0);
  r.max_weight = s.max_weight / n;
  r.sparsity = s.below_max / std::max(s.entries, 1.0);
  r.wasted_share = s.wasted / std::max(s.entries, 1.0);
  r.nw_cls_mass = s.nw_cls / n, r.nw_sep_mass = s.nw_sep / n, r.nw_punct_mass = s.nw_punct / n;
  r.value_norm_cls = s.vn_cls_count > 0 ? s.vn_cls / s.vn_cls_count : 0.0;
  r.value_norm_sep = s.vn_sep_count > 0 ? s.vn_sep / s.vn_sep_count : 0.0;
  r.value_norm_other = s.vn_other_count > 0 ? s.vn_other / s.vn_other_count : 0.0;
  if (r.cls_mass + r.sep_mass + r.punct_mass > o.sink_threshold) r.labels.push_back("sink");
  if (r.norm_entropy > o.overloaded_threshold) r.labels.push_back("broad");
  if (r.sep_mass > o.collapsed_threshold) r.labels.push_back("collapsed on [SEP]");
  if (r.cls_mass > o.collapsed_threshold) r.labels.push_back("collapsed on [CLS]");
  if (r.self_mass > o.collapsed_threshold) r.labels.push_back("collapsed on self");
  if (r.prev_mass > 0.5) r.labels.push_back("previous token");
  if (r.next_mass > 0.5) r.labels.push_back("next token");
  return r;
}

EncoderLayer layer_mean(const std::vector<EncoderHead>& heads, Index l, Index H) {
  EncoderLayer m;
  for (Index h = 0; h < H; ++h) {
    const EncoderHead& x = heads[static_cast<std::size_t>(l * H + h)];
    m.cls_mass += x.cls_mass, m.sep_mass += x.sep_mass, m.punct_mass += x.punct_mass;
    m.nw_cls_mass += x.nw_cls_mass, m.nw_sep_mass += x.nw_sep_mass,
        m.nw_punct_mass += x.nw_punct_mass;
    m.norm_entropy += x.norm_entropy, m.entropy += x.entropy, m.sparsity += x.sparsity;
    m.wasted_share += x.wasted_share, m.value_norm_sep += x.value_norm_sep;
    m.value_norm_cls += x.value_norm_cls;
    m.value_norm_other += x.value_norm_other;
  }
  const double k = 1.0 / static_cast<double>(H);
  for (double* f : {&m.cls_mass, &m.sep_mass, &m.punct_mass, &m.nw_cls_mass, &m.nw_sep_mass,
                    &m.nw_punct_mass, &m.norm_entropy, &m.entropy, &m.sparsity, &m.wasted_share,
                    &m.value_norm_cls, &m.value_norm_sep, &m.value_norm_other})
    *f *= k;
  return m;
}

// The heads the maps show: (layer, head, why), distinct.
std::vector<std::tuple<Index, Index, std::string>> pick_maps(const std::vector<EncoderHead>& heads,
                                                             Index count) {
  struct Pick {
    const char* why;
    double (*score)(const EncoderHead&);
  };
  const Pick picks[] = {
      {"largest [SEP] mass", [](const EncoderHead& h) { return h.sep_mass; }},
      {"largest [CLS] mass", [](const EncoderHead& h) { return h.cls_mass; }},
      {"highest normalized entropy", [](const EncoderHead& h) { return h.norm_entropy; }},
      {"largest previous-token mass", [](const EncoderHead& h) { return h.prev_mass; }},
  };
  std::vector<std::tuple<Index, Index, std::string>> out;
  for (const Pick& p : picks) {
    if (static_cast<Index>(out.size()) >= count) break;
    const EncoderHead* best = nullptr;
    for (const auto& h : heads) {
      const bool taken = std::any_of(out.begin(), out.end(), [&](const auto& t) {
        return std::get<0>(t) == h.layer && std::get<1>(t) == h.head;
      });
      if (!taken && (best == nullptr || p.score(h) > p.score(*best))) best = &h;
    }
    if (best) out.emplace_back(best->layer, best->head, p.why);
  }
  return out;
}

std::vector<EncoderOrderRow> order_test(const bert::BertModel& model,
                                        const std::vector<std::int32_t>& ids,
                                        const EncoderInspectOptions& o) {
  const auto n = static_cast<Index>(ids.size());
  Rng rng(o.seed ^ 0x6f72646572ULL);
  const std::vector<Index> inner = rng.permutation(n - 2);
  std::vector<Index> pi(static_cast<std::size_t>(n));  // new position t holds old token pi[t]
  pi[0] = 0, pi[static_cast<std::size_t>(n - 1)] = n - 1;
  for (Index t = 0; t < n - 2; ++t)
    pi[static_cast<std::size_t>(t + 1)] = inner[static_cast<std::size_t>(t)] + 1;
  std::vector<std::int32_t> permuted(ids.size());
  for (Index t = 0; t < n; ++t)
    permuted[static_cast<std::size_t>(t)] =
        ids[static_cast<std::size_t>(pi[static_cast<std::size_t>(t)])];
  std::vector<EncoderOrderRow> rows;
  for (bool zero : {false, true}) {
    bert::BertForwardOptions fo;
    fo.attention = o.attention;
    fo.hidden_states = true;
    fo.zero_positions = zero;
    const auto a = model.forward({{ids, {}, {}}}, fo);
    const auto b = model.forward({{permuted, {}, {}}}, fo);
    EncoderOrderRow row;
    row.positions = zero ? "none" : "learned";
    for (std::size_t l = 0; l < a.captures[0].hidden.size(); ++l) {
      const MatrixF& x = a.captures[0].hidden[l];
      const MatrixF& y = b.captures[0].hidden[l];
      double diff = 0, norm = 0;
      for (Index t = 0; t < n; ++t) {
        diff += (x.row(pi[static_cast<std::size_t>(t)]) - y.row(t)).cast<double>().squaredNorm();
        norm += x.row(t).cast<double>().squaredNorm();
      }
      row.per_layer.push_back(std::sqrt(diff / std::max(norm, 1e-300)));
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::vector<std::vector<std::int32_t>> encoder_segments(const bert::WordPieceTokenizer& tok,
                                                        std::string_view text, Index max_length,
                                                        Index max_tokens) {
  if (max_length < 3) {
    throw UsageError(
        str_cat("inspect: the segment length must be >= 3 ([CLS], one token, [SEP]), "
                "got ",
                max_length));
  }
  const auto room = static_cast<std::size_t>(max_length - 2);
  std::vector<std::vector<std::int32_t>> segs;
  std::vector<std::int32_t> cur;
  Index finished = 0;  // ids in segs
  auto flush = [&] {
    if (cur.empty()) return;
    std::vector<std::int32_t> s{tok.cls_id()};
    s.insert(s.end(), cur.begin(), cur.end());
    s.push_back(tok.sep_id());
    finished += static_cast<Index>(s.size());
    segs.push_back(std::move(s));
    cur.clear();
  };
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (max_tokens > 0 && finished >= max_tokens) break;
    std::vector<std::int32_t> pieces = tok.encode_pieces(line);
    std::size_t at = 0;
    while (at < pieces.size()) {
      if (cur.size() + (pieces.size() - at) > room && !cur.empty()) flush();
      const std::size_t take = std::min(room - cur.size(), pieces.size() - at);
      cur.insert(cur.end(), pieces.begin() + static_cast<std::ptrdiff_t>(at),
                 pieces.begin() + static_cast<std::ptrdiff_t>(at + take));
      at += take;
      if (cur.size() == room) flush();
    }
  }
  flush();
  return segs;
}

EncoderInspectResult inspect_encoder_heads(const bert::BertModel& model,
                                           const bert::WordPieceTokenizer& tok,
                                           std::string_view text, const EncoderInspectOptions& o,
                                           std::string model_source, std::string text_source) {
  const auto& c = model.config();
  const Index max_length =
      o.max_length == 0 ? std::min<Index>(128, c.max_position_embeddings) : o.max_length;
  if (max_length > c.max_position_embeddings) {
    throw UsageError(
        str_cat("inspect: the segment length ", max_length,
                " is above the model's max_position_embeddings = ", c.max_position_embeddings));
  }
  if (o.max_tokens < 0) throw UsageError("inspect: --max-tokens must be >= 0");
  if (o.map_tokens < 2) throw UsageError("inspect: --map-tokens must be >= 2");
  if (o.order_tokens < 4) throw UsageError("inspect: --order-tokens must be >= 4");
  const Index L = c.num_hidden_layers, H = c.num_attention_heads;
  for (const auto& [l, h] : o.maps) {
    if (l < 0 || l >= L || h < 0 || h >= H) {
      throw UsageError(str_cat("inspect: --maps ", l, ":", h, " is outside the model (", L,
                               " layers, ", H, " heads)"));
    }
  }
  auto segs = encoder_segments(tok, text, max_length, o.max_tokens);
  if (segs.empty()) throw InputError(str_cat("inspect: '", text_source, "' has no token"));
  if (o.max_tokens > 0) {
    Index total = 0;
    std::size_t keep = 0;
    while (keep < segs.size() && total < o.max_tokens)
      total += static_cast<Index>(segs[keep++].size());
    segs.resize(keep);
  }
  EncoderInspectResult r;
  r.model = std::move(model_source);
  r.model_description = c.describe();
  r.text = std::move(text_source);
  r.n_layer = L, r.n_head = H;
  r.max_length = max_length;
  r.sink_threshold = o.sink_threshold, r.overloaded_threshold = o.overloaded_threshold;
  r.collapsed_threshold = o.collapsed_threshold;
  r.seed = o.seed;
  bert::BertForwardOptions fo;
  fo.attention = o.attention;
  fo.capture_maps = true;
  fo.value_norms = true;
  r.attention = model.attention_spec(fo).describe();
  std::vector<HeadSums> sums(static_cast<std::size_t>(L * H));
  bert::BertOutput first;
  for (std::size_t s = 0; s < segs.size(); ++s) {
    bert::BertOutput out = model.forward({{segs[s], {}, {}}}, fo);
    const KeyClasses k = classify(segs[s], tok);
    for (Index l = 0; l < L; ++l)
      for (Index h = 0; h < H; ++h)
        accumulate_head(out.captures[0].maps[static_cast<std::size_t>(l)],
                        out.captures[0].value_norms[static_cast<std::size_t>(l)], h, k,
                        sums[static_cast<std::size_t>(l * H + h)]);
    r.tokens += static_cast<Index>(segs[s].size());
    if (s == 0) first = std::move(out);
    if (o.on_segment) o.on_segment(static_cast<Index>(s + 1), static_cast<Index>(segs.size()));
  }
  r.segments = static_cast<Index>(segs.size());
  r.rows = r.tokens;
  r.mean_segment_length = static_cast<double>(r.tokens) / static_cast<double>(r.segments);
  for (Index l = 0; l < L; ++l)
    for (Index h = 0; h < H; ++h)
      r.heads.push_back(finish_head(sums[static_cast<std::size_t>(l * H + h)], l, h, o));
  for (Index l = 0; l < L; ++l) r.layers.push_back(layer_mean(r.heads, l, H));
  const Index m = std::min<Index>(o.map_tokens, static_cast<Index>(segs[0].size()));
  std::vector<std::tuple<Index, Index, std::string>> chosen;
  for (const auto& [l, h] : o.maps) chosen.emplace_back(l, h, "requested");
  if (chosen.empty()) chosen = pick_maps(r.heads, o.auto_maps);
  for (const auto& [l, h, why] : chosen) {
    EncoderMap map;
    map.layer = l, map.head = h, map.why = why;
    for (Index t = 0; t < m; ++t)
      map.tokens.push_back(tok.token(segs[0][static_cast<std::size_t>(t)]));
    map.weights = MatrixD(m, m);
    const Tensor3f& a = first.captures[0].maps[static_cast<std::size_t>(l)];
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < m; ++j) map.weights(i, j) = a(h, i, j);
    r.maps.push_back(std::move(map));
  }
  if (o.order_test && segs[0].size() >= 4) {
    std::vector<std::int32_t> ids = segs[0];
    if (static_cast<Index>(ids.size()) > o.order_tokens) {
      ids.resize(static_cast<std::size_t>(o.order_tokens));
      ids.back() = tok.sep_id();
    }
    r.order = order_test(model, ids, o);
    r.order_tokens = static_cast<Index>(ids.size());
  }
  return r;
}

nlohmann::json to_json(const EncoderInspectResult& r) {
  using json = nlohmann::json;
  json heads = json::array(), layers = json::array(), maps = json::array(), order = json::array();
  for (const auto& h : r.heads) {
    heads.push_back({{"layer", h.layer},
                     {"head", h.head},
                     {"cls_mass", h.cls_mass},
                     {"sep_mass", h.sep_mass},
                     {"punct_mass", h.punct_mass},
                     {"self_mass", h.self_mass},
                     {"prev_mass", h.prev_mass},
                     {"next_mass", h.next_mass},
                     {"entropy", h.entropy},
                     {"norm_entropy", h.norm_entropy},
                     {"max_weight", h.max_weight},
                     {"sparsity", h.sparsity},
                     {"wasted_share", h.wasted_share},
                     {"nw_cls_mass", h.nw_cls_mass},
                     {"nw_sep_mass", h.nw_sep_mass},
                     {"nw_punct_mass", h.nw_punct_mass},
                     {"value_norm_cls", h.value_norm_cls},
                     {"value_norm_sep", h.value_norm_sep},
                     {"value_norm_other", h.value_norm_other},
                     {"labels", h.labels}});
  }
  for (const auto& l : r.layers) {
    layers.push_back({{"cls_mass", l.cls_mass},
                      {"sep_mass", l.sep_mass},
                      {"punct_mass", l.punct_mass},
                      {"nw_cls_mass", l.nw_cls_mass},
                      {"nw_sep_mass", l.nw_sep_mass},
                      {"nw_punct_mass", l.nw_punct_mass},
                      {"norm_entropy", l.norm_entropy},
                      {"entropy", l.entropy},
                      {"sparsity", l.sparsity},
                      {"wasted_share", l.wasted_share},
                      {"value_norm_cls", l.value_norm_cls},
                      {"value_norm_sep", l.value_norm_sep},
                      {"value_norm_other", l.value_norm_other}});
  }
  for (const auto& m : r.maps) {
    json w = json::array();
    for (Index i = 0; i < m.weights.rows(); ++i) {
      json row = json::array();
      for (Index j = 0; j < m.weights.cols(); ++j) row.push_back(m.weights(i, j));
      w.push_back(row);
    }
    maps.push_back({{"layer", m.layer},
                    {"head", m.head},
                    {"why", m.why},
                    {"tokens", m.tokens},
                    {"weights", w}});
  }
  for (const auto& o : r.order) {
    order.push_back({{"positions", o.positions}, {"per_layer", o.per_layer}});
  }
  return {{"model", r.model},
          {"model_description", r.model_description},
          {"text", r.text},
          {"attention", r.attention},
          {"n_layer", r.n_layer},
          {"n_head", r.n_head},
          {"segments", r.segments},
          {"tokens", r.tokens},
          {"rows", r.rows},
          {"max_length", r.max_length},
          {"mean_segment_length", r.mean_segment_length},
          {"sink_threshold", r.sink_threshold},
          {"overloaded_threshold", r.overloaded_threshold},
          {"collapsed_threshold", r.collapsed_threshold},
          {"heads", heads},
          {"layers", layers},
          {"maps", maps},
          {"order", order},
          {"order_tokens", r.order_tokens},
          {"seed", r.seed}};
}

}  // namespace attnlab::analysis
