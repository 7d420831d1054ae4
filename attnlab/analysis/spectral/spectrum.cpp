#include "attnlab/analysis/spectral/spectrum.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/analysis/ntk/kernel_metrics.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/nn/attention_features.hpp"

namespace attnlab::analysis::spectral {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr Index kMaxCovarianceDim = 4096;

// G [n, n] = X Xᵀ, exactly symmetric.
MatrixD gram_of(const MatrixD& x) {
  const Index n = x.rows(), D = x.cols();
  MatrixD g(n, n);
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(D),
              1.0, x.data(), static_cast<int>(D), 0.0, g.data(), static_cast<int>(n));
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < i; ++j) g(i, j) = g(j, i);
  return g;
}

MatrixD multiply(const MatrixD& a, const MatrixD& b) {
  MatrixD c(a.rows(), b.cols());
  gemm(Trans::no, Trans::no, a.rows(), b.cols(), a.cols(), 1.0, a.data(), a.cols(), b.data(),
       b.cols(), 0.0, c.data(), b.cols());
  return c;
}

// κ of a Gram-like matrix: plain κ when n ≤ D, κ_D (k = D) otherwise.
void pick_kappa(const SpectrumSummary& s, Index n, Index D, double& kappa, bool& resolved) {
  if (n <= D) {
    kappa = s.kappa;
    resolved = s.resolved;
  } else {
    kappa = s.kappa_k;
    resolved = s.kappa_k_resolved;
  }
}

nlohmann::json row_to_json(const SpectrumRow& r) {
  using ntk::json_number;
  using ntk::to_json;
  return {{"class_set", r.class_set},
          {"classes", r.classes},
          {"n", r.n},
          {"dim", r.dim},
          {"gram", to_json(r.gram)},
          {"gram_cubed", to_json(r.gram_cubed)},
          {"features", to_json(r.features)},
          {"ntk_raw", to_json(r.ntk_raw)},
          {"ntk_attn", to_json(r.ntk_attn)},
          {"kappa_c", json_number(r.kappa_c)},
          {"kappa_c_resolved", r.kappa_c_resolved},
          {"kappa_g", json_number(r.kappa_g)},
          {"kappa_g_resolved", r.kappa_g_resolved},
          {"kappa_g_rank", json_number(r.kappa_g_rank)},
          {"kappa_g_rank_error", json_number(r.kappa_g_rank_error)},
          {"width_basis", r.width_basis},
          {"width_kappa", json_number(r.width_kappa)},
          {"kappa_g3", json_number(r.kappa_g3)},
          {"kappa_g3_resolved", r.kappa_g3_resolved},
          {"kappa_g_cubed", json_number(r.kappa_g_cubed)},
          {"cube_ratio", json_number(r.cube_ratio)},
          {"kappa_features", json_number(r.kappa_features)},
          {"kappa_features_resolved", r.kappa_features_resolved},
          {"ntk_ratio", json_number(r.ntk_ratio)},
          {"width_kappa6", json_number(r.width_kappa6)},
          {"width_kappa6_nlogn", json_number(r.width_kappa6_nlogn)},
          {"bernstein_raw", json_number(r.bernstein_raw)},
          {"bernstein_attn", json_number(r.bernstein_attn)},
          {"seconds", json_number(r.seconds)}};
}

SpectrumRow row_from_json(const nlohmann::json& j) {
  using ntk::number_from_json;
  using ntk::spectrum_from_json;
  SpectrumRow r;
  r.class_set = j.at("class_set").get<std::string>();
  r.classes = j.at("classes").get<std::vector<int>>();
  r.n = j.at("n").get<Index>();
  r.dim = j.at("dim").get<Index>();
  r.gram = spectrum_from_json(j.at("gram"));
  r.gram_cubed = spectrum_from_json(j.at("gram_cubed"));
  r.features = spectrum_from_json(j.at("features"));
  r.ntk_raw = spectrum_from_json(j.at("ntk_raw"));
  r.ntk_attn = spectrum_from_json(j.at("ntk_attn"));
  r.kappa_c = number_from_json(j.at("kappa_c"));
  r.kappa_c_resolved = j.at("kappa_c_resolved").get<bool>();
  r.kappa_g = number_from_json(j.at("kappa_g"));
  r.kappa_g_resolved = j.at("kappa_g_resolved").get<bool>();
  r.kappa_g_rank = number_from_json(j.at("kappa_g_rank"));
  r.kappa_g_rank_error = number_from_json(j.at("kappa_g_rank_error"));
  r.width_basis = j.at("width_basis").get<std::string>();
  r.width_kappa = number_from_json(j.at("width_kappa"));
  r.kappa_g3 = number_from_json(j.at("kappa_g3"));
  r.kappa_g3_resolved = j.at("kappa_g3_resolved").get<bool>();
  r.kappa_g_cubed = number_from_json(j.at("kappa_g_cubed"));
  r.cube_ratio = number_from_json(j.at("cube_ratio"));
  r.kappa_features = number_from_json(j.at("kappa_features"));
  r.kappa_features_resolved = j.at("kappa_features_resolved").get<bool>();
  r.ntk_ratio = number_from_json(j.at("ntk_ratio"));
  r.width_kappa6 = number_from_json(j.at("width_kappa6"));
  r.width_kappa6_nlogn = number_from_json(j.at("width_kappa6_nlogn"));
  r.bernstein_raw = number_from_json(j.at("bernstein_raw"));
  r.bernstein_attn = number_from_json(j.at("bernstein_attn"));
  r.seconds = number_from_json(j.at("seconds"));
  return r;
}

}  // namespace

SubsetSource::SubsetSource(const io::DataOptions& base) : base_(base) {
  if (base_.x_path.empty()) {
    if (base_.dataset != "fashion-mnist") {
      throw UsageError(str_cat("spectrum: unknown dataset '", base_.dataset,
                               "'; the built-in dataset is 'fashion-mnist' (or pass --x X.npy)"));
    }
    images_ = io::load_fashion_mnist(base_.split, base_.data_dir);
  }
}

io::StudyData SubsetSource::draw(const std::vector<int>& classes, Index n) const {
  io::DataOptions d = base_;
  d.classes = classes;
  d.n = n;
  if (!base_.x_path.empty()) return io::load_study_data(d);
  // The same draw as io::load_study_data: Rng::stream(seed, kDataStreamId), balanced_subset.
  std::vector<int> cls = classes;
  if (cls.empty()) {
    for (int c = 0; c < io::kFashionMnistClasses; ++c) cls.push_back(c);
  }
  for (const int c : cls) {
    if (c < 0 || c >= io::kFashionMnistClasses) {
      throw UsageError(str_cat("spectrum: Fashion-MNIST class ", c,
                               " does not exist; classes are "
                               "0..9"));
    }
  }
  if (n < 1) throw UsageError(str_cat("spectrum: n must be >= 1, got ", n));
  Rng rng = Rng::stream(base_.seed, io::kDataStreamId);
  const std::vector<Index> rows = io::balanced_subset(std::span<const std::uint8_t>(images_.labels),
                                                      std::span<const int>(cls), n, rng);
  io::StudyData data;
  const Index D = images_.rows * images_.cols;
  data.x.resize(static_cast<Index>(rows.size()), D);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::uint8_t* src = images_.pixels.data() + rows[i] * D;
    for (Index j = 0; j < D; ++j) data.x(static_cast<Index>(i), j) = src[j] / 255.0;
    const int label = images_.labels[static_cast<std::size_t>(rows[i])];
    data.y.push_back(static_cast<int>(std::find(cls.begin(), cls.end(), label) - cls.begin()));
  }
  for (const int c : cls) data.class_names.emplace_back(io::kFashionMnistClassNames[c]);
  const std::filesystem::path dir =
      base_.data_dir.empty() ? std::filesystem::path(io::kFashionMnistDefaultDir) : base_.data_dir;
  data.source = str_cat("fashion-mnist ", base_.split, " (", dir.string(), ")");
  return data;
}

std::string class_set_label(const std::vector<int>& classes) {
  if (classes.empty()) return "all";
  std::string s;
  for (std::size_t i = 0; i < classes.size(); ++i) s += (i ? "," : "") + std::to_string(classes[i]);
  return s;
}

SpectrumRow spectrum_row(const MatrixD& x, double delta) {
  Timer timer;
  const Index n = x.rows(), D = x.cols();
  if (n < 2 || D < 1) {
    throw UsageError(
        str_cat("spectrum: need at least 2 rows and 1 column, got [", n, ", ", D, "]"));
  }
  SpectrumRow r;
  r.n = n;
  r.dim = D;
  const Index k = std::min(n, D);
  // G and G³ (explicit products: the cube is computed, not inferred)
  const MatrixD g = gram_of(x);
  r.gram = summarize_spectrum(symmetric_eigenvalues(g, "spectrum: G"), n, D, k);
  MatrixD g3 = multiply(multiply(g, g), g);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < i; ++j) g3(i, j) = g3(j, i) = 0.5 * (g3(i, j) + g3(j, i));
  r.gram_cubed = summarize_spectrum(symmetric_eigenvalues(g3, "spectrum: G³"), n, D, k);
  pick_kappa(r.gram, n, D, r.kappa_g, r.kappa_g_resolved);
  pick_kappa(r.gram_cubed, n, D, r.kappa_g3, r.kappa_g3_resolved);
  r.kappa_g_cubed = r.kappa_g * r.kappa_g * r.kappa_g;
  r.cube_ratio = r.kappa_g3 / r.kappa_g_cubed;
  // C = XᵀX (D×D): κ(C) equals κ_D(G) when n ≥ D.
  const nn::LinearAttentionFeatures attn(x);
  r.kappa_c = kNaN;
  if (D <= kMaxCovarianceDim) {
    const SpectrumSummary c =
        summarize_spectrum(symmetric_eigenvalues(attn.c(), "spectrum: C"), n, D);
    r.kappa_c = c.kappa;
    r.kappa_c_resolved = c.resolved;
  }
  // Normalized attention features F̃ and their Gram
  const MatrixD f = attn.features(x);
  const MatrixD gf = gram_of(f);
  r.features = summarize_spectrum(symmetric_eigenvalues(gf, "spectrum: F̃F̃ᵀ"), n, D, k);
  pick_kappa(r.features, n, D, r.kappa_features, r.kappa_features_resolved);
  // ReLU NTK on raw rows and on attention features (full rank: plain κ)
  r.ntk_raw =
      summarize_spectrum(symmetric_eigenvalues(ntk::relu_ntk_infinite(x), "spectrum: Θ∞(X)"), n, n);
  r.ntk_attn =
      summarize_spectrum(symmetric_eigenvalues(ntk::relu_ntk_infinite(f), "spectrum: Θ∞(F̃)"), n, n);
  r.ntk_ratio = r.ntk_attn.kappa / r.ntk_raw.kappa;
  r.kappa_g_rank = r.gram.kappa_rank;
  r.kappa_g_rank_error =
      r.gram.rank > 0 ? r.gram.tolerance / (r.gram.lambda_max / r.gram.kappa_rank) : kNaN;
  if (r.kappa_g_resolved) {
    r.width_basis = n <= D ? "κ" : "κ_D";
    r.width_kappa = r.kappa_g;
  } else if (r.kappa_g_rank_error < 0.5 && r.kappa_g_rank <= kKappaResolvable) {
    r.width_basis = "κ_r";
    r.width_kappa = r.kappa_g_rank;
  } else {
    r.width_basis = "none";
    r.width_kappa = kNaN;
  }
  r.width_kappa6 = std::pow(r.width_kappa, 6.0);
  r.width_kappa6_nlogn = r.width_kappa6 * static_cast<double>(n) * std::log(static_cast<double>(n));
  r.bernstein_raw =
      ntk::bernstein_width(r.gram.lambda_max, r.ntk_raw.lambda_max, r.ntk_raw.lambda_min, n, delta);
  r.bernstein_attn = ntk::bernstein_width(r.features.lambda_max, r.ntk_attn.lambda_max,
                                          r.ntk_attn.lambda_min, n, delta);
  r.seconds = timer.seconds();
  return r;
}

std::int64_t spectrum_work_units(const SpectrumOptions& o) {
  std::int64_t total = 0;
  for (const Index n : o.sizes) total += static_cast<std::int64_t>(n) * n * n / 1000;
  return total * static_cast<std::int64_t>(o.class_sets.size());
}

double spectrum_memory_bytes(const SpectrumOptions& o, Index dim) {
  double n = 0;
  for (const Index size : o.sizes) n = std::max(n, static_cast<double>(size));
  return 8.0 * 7.0 * n * n + 8.0 * 3.0 * n * static_cast<double>(dim);
}

SpectrumResult run_spectrum_study(const io::DataOptions& base, const SpectrumOptions& o,
                                  Progress* progress) {
  if (o.sizes.empty()) throw UsageError("spectrum: no sizes given");
  if (o.class_sets.empty()) throw UsageError("spectrum: no class sets given");
  for (const Index n : o.sizes)
    if (n < 2) throw UsageError(str_cat("spectrum: sizes must be >= 2, got ", n));
  if (!(o.bernstein_delta > 0.0 && o.bernstein_delta < 1.0)) {
    throw UsageError(str_cat("spectrum: delta must lie in (0, 1), got ", o.bernstein_delta));
  }
  Timer timer;
  SpectrumResult result;
  result.options = o;
  result.seed = base.seed;
  const SubsetSource pool(base);
  for (const std::vector<int>& classes : o.class_sets) {
    for (const Index n : o.sizes) {
      const io::StudyData data = pool.draw(classes, n);
      if (result.source.empty()) result.source = data.source;
      SpectrumRow row = spectrum_row(io::normalize_rows(data.x), o.bernstein_delta);
      row.classes = classes;
      row.class_set = class_set_label(classes);
      result.dim = row.dim;
      result.rows.push_back(std::move(row));
      if (progress != nullptr) progress->advance(static_cast<std::int64_t>(n) * n * n / 1000);
    }
  }
  result.seconds = timer.seconds();
  return result;
}

nlohmann::json to_json(const SpectrumResult& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SpectrumRow& row : r.rows) rows.push_back(row_to_json(row));
  return {{"study", "spectrum"},
          {"options",
           {{"sizes", r.options.sizes},
            {"class_sets", r.options.class_sets},
            {"bernstein_delta", r.options.bernstein_delta}}},
          {"source", r.source},
          {"dim", r.dim},
          {"seed", r.seed},
          {"rows", rows},
          {"seconds", ntk::json_number(r.seconds)}};
}

SpectrumResult spectrum_from_json(const nlohmann::json& j) {
  try {
    if (j.at("study").get<std::string>() != "spectrum") throw FormatError("not a spectrum result");
    SpectrumResult r;
    r.options.sizes = j.at("options").at("sizes").get<std::vector<Index>>();
    r.options.class_sets = j.at("options").at("class_sets").get<std::vector<std::vector<int>>>();
    r.options.bernstein_delta = j.at("options").at("bernstein_delta").get<double>();
    r.source = j.at("source").get<std::string>();
    r.dim = j.at("dim").get<Index>();
    r.seed = j.at("seed").get<std::uint64_t>();
    for (const auto& row : j.at("rows")) r.rows.push_back(row_from_json(row));
    r.seconds = ntk::number_from_json(j.at("seconds"));
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("spectrum result JSON: ", e.what()));
  }
}

nlohmann::json to_json(const SpectrumRow& row) {
  return row_to_json(row);
}

}  // namespace attnlab::analysis::spectral
