#include "attnlab/analysis/gallery/variant_gallery.hpp"

#include <cmath>
#include <limits>

#include "attnlab/attention/linear_attention.hpp"
#include "attnlab/attention/positional.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis {
namespace {

using attention::AttentionSpec;
using attention::Normalizer;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct SoftVariant {
  std::string id, family, title;
  AttentionSpec spec;
};

std::vector<SoftVariant> softmax_family_variants() {
  std::vector<SoftVariant> v;
  auto add = [&v](std::string id, std::string family, std::string title, auto setup) {
    AttentionSpec s;
    setup(s);
    v.push_back({std::move(id), std::move(family), std::move(title), s});
  };
  add("full", "softmax", "softmax, full (bidirectional)", [](AttentionSpec&) {});
  add("causal", "softmax", "causal softmax", [](AttentionSpec& s) { s.causal = true; });
  add("window8", "softmax", "causal + window W=8",
      [](AttentionSpec& s) { s.causal = true, s.window = 8; });
  add("sinks2_window8", "softmax", "causal + 2 sinks + window W=8",
      [](AttentionSpec& s) { s.causal = true, s.window = 8, s.sinks = 2; });
  add("decay", "softmax", "causal + exponential decay γ=0.3",
      [](AttentionSpec& s) { s.causal = true, s.decay = {0.3}; });
  add("alibi", "softmax", "causal + ALiBi (head 0, slope 1/4)",
      [](AttentionSpec& s) { s.causal = true, s.alibi = true; });
  add("topk4", "softmax", "causal + top-k, k=4",
      [](AttentionSpec& s) { s.causal = true, s.topk = 4; });
  add("ssmax", "softmax", "causal scalable-softmax (s=1)",
      [](AttentionSpec& s) { s.causal = true, s.normalizer = Normalizer::ssmax; });
  add("sparsemax", "sparse", "causal sparsemax",
      [](AttentionSpec& s) { s.causal = true, s.normalizer = Normalizer::sparsemax; });
  add("entmax15", "sparse", "causal 1.5-entmax",
      [](AttentionSpec& s) { s.causal = true, s.normalizer = Normalizer::entmax15; });
  return v;
}

// Fills the statistics of a map whose masked entries are NaN.
void fill_stats(VariantMap& m) {
  const Index N = m.weights.rows(), M = m.weights.cols();
  double ent_sum = 0, max_sum = 0, sink_sum = 0;
  Index ent_rows = 0, rows = 0, sink_rows = 0, visible = 0, zeros = 0;
  for (Index i = 0; i < N; ++i) {
    Index vis = 0;
    double ent = 0, mx = 0;
    for (Index j = 0; j < M; ++j) {
      const double a = m.weights(i, j);
      if (std::isnan(a)) continue;
      ++vis;
      if (a == 0.0) ++zeros;
      if (a > 0) ent -= a * std::log(a);
      mx = std::max(mx, a);
    }
    visible += vis;
    if (vis == 0) continue;
    ++rows;
    max_sum += mx;
    if (vis >= 2) {
      ent_sum += ent / std::log(static_cast<double>(vis));
      ++ent_rows;
    }
    if (i >= 1) {
      sink_sum += std::isnan(m.weights(i, 0)) ? 0.0 : m.weights(i, 0);
      ++sink_rows;
    }
  }
  m.norm_entropy = ent_rows ? ent_sum / static_cast<double>(ent_rows) : kNaN;
  m.max_weight = rows ? max_sum / static_cast<double>(rows) : kNaN;
  m.sink_mass = sink_rows ? sink_sum / static_cast<double>(sink_rows) : kNaN;
  m.zero_share = visible ? static_cast<double>(zeros) / static_cast<double>(visible) : kNaN;
  m.computed_share = static_cast<double>(visible) / static_cast<double>(N * M);
}

nlohmann::json matrix_to_json(const MatrixD& m) {
  nlohmann::json rows = nlohmann::json::array();
  for (Index i = 0; i < m.rows(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (Index j = 0; j < m.cols(); ++j) {
      if (std::isnan(m(i, j)))
        row.push_back(nullptr);
      else
        row.push_back(m(i, j));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

MatrixD matrix_from_json(const nlohmann::json& j) {
  if (!j.is_array() || j.empty() || !j[0].is_array())
    throw FormatError("gallery: map is not a 2-D array");
  const auto N = static_cast<Index>(j.size()), M = static_cast<Index>(j[0].size());
  MatrixD m(N, M);
  for (Index i = 0; i < N; ++i) {
    if (!j[i].is_array() || static_cast<Index>(j[i].size()) != M)
      throw FormatError(str_cat("gallery: map row ", i, " has the wrong length"));
    for (Index c = 0; c < M; ++c) m(i, c) = j[i][c].is_null() ? kNaN : j[i][c].get<double>();
  }
  return m;
}

}  // namespace

GalleryResult run_variant_gallery(const GalleryOptions& opt) {
  if (opt.length < 4 || opt.dim < 2 || opt.dim % 2 || opt.vocabulary < 1 || !(opt.gain > 0)) {
    throw UsageError(
        str_cat("variant gallery: need length >= 4, even dim >= 2, vocabulary >= 1, "
                "gain > 0; got length=",
                opt.length, " dim=", opt.dim, " vocabulary=", opt.vocabulary, " gain=", opt.gain));
  }
  const Index N = opt.length, d = opt.dim, H = 4;
  Rng rng(opt.seed);
  MatrixD vocab(opt.vocabulary, d);
  rng.fill_normal(vocab.data(), vocab.size());
  vocab.rowwise().normalize();
  GalleryResult result;
  result.options = opt;
  MatrixD x(N, d);
  for (Index t = 0; t < N; ++t) {
    const int w = static_cast<int>(rng.uniform_int(static_cast<std::uint64_t>(opt.vocabulary)));
    result.tokens.push_back(w);
    x.row(t) = vocab.row(w);
  }
  // Position code with long wavelengths so nearby positions are similar; unit-norm content plus
  // a position code of norm 0.9. Then scale so a token's logit with itself, q·q/√d, is `gain`.
  x += (0.9 / std::sqrt(static_cast<double>(d) / 2.0)) * attention::sinusoidal_table(N, d, 0, 64.0);
  const double mean_sq = x.rowwise().squaredNorm().mean();
  x *= std::sqrt(opt.gain * std::sqrt(static_cast<double>(d)) / mean_sq);
  Tensor3d q(H, N, d), v(H, N, d);
  for (Index h = 0; h < H; ++h) {
    q.slice(h) = x;
    v.slice(h) = x;
  }

  for (const auto& sv : softmax_family_variants()) {
    const auto f = attention::attention_forward_reference(q, q, v, sv.spec);
    VariantMap m;
    m.id = sv.id;
    m.family = sv.family;
    m.title = sv.title;
    m.spec = sv.spec.describe();
    m.weights = f.weights.slice(0);
    // Keys dropped by top-k were computed then discarded: they show as 0, not as masked.
    const attention::ScoreMods mods(sv.spec, H, N, N, d);
    for (Index i = 0; i < N; ++i)
      for (Index j = 0; j < N; ++j)
        if (!mods.visible(i, j)) m.weights(i, j) = kNaN;
    fill_stats(m);
    result.variants.push_back(std::move(m));
  }

  struct LinVariant {
    std::string id, title;
    attention::LinearAttentionSpec spec;
  };
  std::vector<LinVariant> lin;
  {
    attention::LinearAttentionSpec s;
    s.feature_map = attention::FeatureMap::identity;
    s.causal = true;
    s.temperature = std::sqrt(static_cast<double>(d));
    lin.push_back({"linearized", "causal linearized (q·k/√d, unnormalized)", s});
    s = {};
    s.feature_map = attention::FeatureMap::elu1;
    s.causal = true;
    lin.push_back({"elu1", "causal linear, elu+1 features", s});
    s = {};
    s.feature_map = attention::FeatureMap::favor;
    s.causal = true;
    s.num_features = 256;
    s.seed = opt.seed + 1;
    lin.push_back({"favor", "causal FAVOR+ (256 random features)", s});
  }
  // elu+1 and FAVOR+ see q/√[4]d so their kernels compare with softmax(q·k/√d).
  Tensor3d q_scaled = q;
  for (Index i = 0; i < q_scaled.size(); ++i)
    q_scaled.data()[i] /= std::pow(static_cast<double>(d), 0.25);
  for (const auto& lv : lin) {
    const Tensor3d& qq = lv.spec.feature_map == attention::FeatureMap::identity ? q : q_scaled;
    const Tensor3d w = attention::linear_attention_weights_reference(qq, qq, lv.spec);
    VariantMap m;
    m.id = lv.id;
    m.family = "linear";
    m.title = lv.title;
    m.spec = std::string(attention::to_string(lv.spec.feature_map)) + " causal";
    m.weights = w.slice(0);
    for (Index i = 0; i < N; ++i)
      for (Index j = i + 1; j < N; ++j) m.weights(i, j) = kNaN;
    fill_stats(m);
    result.variants.push_back(std::move(m));
  }
  return result;
}

nlohmann::json to_json(const GalleryResult& r) {
  nlohmann::json j;
  j["options"] = {{"length", r.options.length},
                  {"dim", r.options.dim},
                  {"vocabulary", r.options.vocabulary},
                  {"gain", r.options.gain},
                  {"seed", r.options.seed}};
  j["tokens"] = r.tokens;
  j["variants"] = nlohmann::json::array();
  for (const auto& m : r.variants) {
    j["variants"].push_back({{"id", m.id},
                             {"family", m.family},
                             {"title", m.title},
                             {"spec", m.spec},
                             {"norm_entropy", m.norm_entropy},
                             {"max_weight", m.max_weight},
                             {"sink_mass", m.sink_mass},
                             {"zero_share", m.zero_share},
                             {"computed_share", m.computed_share},
                             {"weights", matrix_to_json(m.weights)}});
  }
  return j;
}

GalleryResult gallery_from_json(const nlohmann::json& j) {
  GalleryResult r;
  try {
    const auto& o = j.at("options");
    r.options.length = o.at("length").get<Index>();
    r.options.dim = o.at("dim").get<Index>();
    r.options.vocabulary = o.at("vocabulary").get<Index>();
    r.options.gain = o.at("gain").get<double>();
    r.options.seed = o.at("seed").get<std::uint64_t>();
    r.tokens = j.at("tokens").get<std::vector<int>>();
    auto num = [](const nlohmann::json& v) { return v.is_null() ? kNaN : v.get<double>(); };
    for (const auto& m : j.at("variants")) {
      VariantMap vm;
      vm.id = m.at("id").get<std::string>();
      vm.family = m.at("family").get<std::string>();
      vm.title = m.at("title").get<std::string>();
      vm.spec = m.at("spec").get<std::string>();
      vm.norm_entropy = num(m.at("norm_entropy"));
      vm.max_weight = num(m.at("max_weight"));
      vm.sink_mass = num(m.at("sink_mass"));
      vm.zero_share = num(m.at("zero_share"));
      vm.computed_share = num(m.at("computed_share"));
      vm.weights = matrix_from_json(m.at("weights"));
      r.variants.push_back(std::move(vm));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("gallery result JSON: ", e.what()));
  }
  return r;
}

}  // namespace attnlab::analysis
